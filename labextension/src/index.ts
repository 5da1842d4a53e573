import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IJupyterWidgetRegistry } from '@jupyter-widgets/base';

import { MODULE_NAME, MODULE_VERSION } from './version';
import * as widgetExports from './widgets';

/**
 * Registers the scanflow-jupyter widget module with the Jupyter widget manager.
 * The models and views are those exported by ./widgets.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: 'scanflow-jupyter:plugin',
  description: 'Scanflow widgets for Jupyter notebooks.',
  autoStart: true,
  requires: [IJupyterWidgetRegistry],
  activate: (_app: JupyterFrontEnd, registry: IJupyterWidgetRegistry): void => {
    registry.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      exports: widgetExports
    });
    console.log('scanflow-jupyter is activated');
  }
};

const plugins: JupyterFrontEndPlugin<any>[] = [plugin];

export default plugins;
