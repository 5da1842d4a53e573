import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, WidgetTracker } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IJupyterWidgetRegistry } from '@jupyter-widgets/base';

import {
  CommandIDs,
  currentFolder,
  newApplication,
  openEditor,
  openRun,
  openRunBrowser
} from './commands';
import { configureRunLinks } from './graph/links';
import { EDITOR_FACTORY, SPEC_FILE_TYPE, ScanflowEditor, ScanflowEditorFactory } from './editor/document';
import { RunControls } from './editor/toolbar';
import { scanflowIcon } from './icons';
import { AppsAnswer, requestAPI } from './server/api';
import { ScanflowSidebar } from './sidebar/sidebar';
import { MODULE_NAME, MODULE_VERSION } from './version';
import * as widgetExports from './widgets';

/** The settings of schema/plugin.json belong to this plugin; the others read them. */
const SETTINGS_ID = 'scanflow-jupyter:plugin';

/**
 * Registers the scanflow-jupyter widget module with the Jupyter widget manager.
 * The models and views are those exported by ./widgets.
 */
const widgetsPlugin: JupyterFrontEndPlugin<void> = {
  id: SETTINGS_ID,
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

/** scanflow.yaml opens in the composer (Open With > Scanflow Editor), with Run, Resume and Cancel. */
const editorPlugin: JupyterFrontEndPlugin<WidgetTracker<ScanflowEditor>> = {
  id: 'scanflow-jupyter:editor',
  description: 'Opens scanflow.yaml in the Scanflow composer as a document.',
  autoStart: true,
  optional: [ILayoutRestorer, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    settings: ISettingRegistry | null
  ): WidgetTracker<ScanflowEditor> => {
    app.docRegistry.addFileType({
      name: SPEC_FILE_TYPE,
      displayName: 'Scanflow application',
      pattern: '^scanflow\\.ya?ml$',
      extensions: [],
      mimeTypes: ['text/x-yaml'],
      contentType: 'file',
      fileFormat: 'text',
      icon: scanflowIcon
    });
    const factory = new ScanflowEditorFactory({
      name: EDITOR_FACTORY,
      label: 'Scanflow Editor',
      fileTypes: [SPEC_FILE_TYPE],
      defaultFor: [SPEC_FILE_TYPE],
      modelName: 'text',
      toolbarFactory: widget => [
        {
          name: 'scanflow-run-controls',
          widget: new RunControls(widget.controller, widget.context, {
            openText: path =>
              void app.commands.execute('docmanager:open', { path, factory: 'Editor', options: { mode: 'split-right' } })
          })
        }
      ]
    });
    app.docRegistry.addWidgetFactory(factory);
    const tracker = new WidgetTracker<ScanflowEditor>({ namespace: 'scanflow-editor' });
    factory.widgetCreated.connect((_, widget) => {
      widget.title.icon = scanflowIcon;
      void tracker.add(widget);
      widget.context.pathChanged.connect(() => void tracker.save(widget));
    });
    if (restorer) {
      void restorer.restore(tracker, {
        command: 'docmanager:open',
        args: widget => ({ path: widget.context.path, factory: EDITOR_FACTORY }),
        name: widget => widget.context.path
      });
    }
    if (settings) {
      // With openWithEditor off, scanflow.yaml opens as text by default (the Scanflow Editor stays in Open With).
      void settings.load(SETTINGS_ID).then(s => {
        const apply = (): void => {
          const on = s.get('openWithEditor').composite !== false;
          app.docRegistry.setDefaultWidgetFactory(SPEC_FILE_TYPE, on ? EDITOR_FACTORY : 'Editor');
        };
        apply();
        s.changed.connect(apply);
      });
    }
    return tracker;
  }
};

/** The Scanflow sidebar, the launcher card and the palette commands. */
const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'scanflow-jupyter:sidebar',
  description: 'A sidebar of the Scanflow applications under the server root, their workflows and runs.',
  autoStart: true,
  optional: [ILayoutRestorer, ISettingRegistry, ILauncher, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    settings: ISettingRegistry | null,
    launcher: ILauncher | null,
    palette: ICommandPalette | null
  ): void => {
    const current = (): ScanflowEditor | null => {
      const widget = app.shell.currentWidget;
      return widget instanceof ScanflowEditor ? widget : null;
    };
    const sidebar = new ScanflowSidebar({
      list: () => requestAPI<AppsAnswer>('apps'),
      openWorkflow: (a, workflow) => void openEditor(app, a.path, { workflow }),
      openRun: (a, run) => void openEditor(app, a.path, { workflow: run.workflow, run: run.run_id }),
      openRunBrowser: a => void openRunBrowser(app, a.path, a.name),
      start: async (a, workflow) => {
        const answer = await requestAPI<{ run_id: string }>('start', { path: a.path, workflow });
        sidebar.expand(a.path);
        void openEditor(app, a.path, { workflow, run: answer.run_id });
      },
      resume: async (a, run) => {
        await requestAPI('resume', { path: a.path, run: run.run_id });
        void openEditor(app, a.path, { workflow: run.workflow, run: run.run_id });
      },
      cancel: async (a, run) => {
        await requestAPI('cancel', { path: a.path, run: run.run_id });
      },
      newApplication: () => void app.commands.execute(CommandIDs.newApplication)
    });
    sidebar.title.icon = scanflowIcon;
    app.shell.add(sidebar, 'left', { rank: 650, type: 'Scanflow' });
    if (restorer) {
      restorer.add(sidebar, 'scanflow-sidebar');
    }
    if (settings) {
      void settings.load(SETTINGS_ID).then(s => {
        const apply = (): void => {
          sidebar.refreshSeconds = Number(s.get('refreshInterval').composite ?? 3);
          sidebar.recentRuns = Number(s.get('recentRuns').composite ?? 5);
          sidebar.draw();
        };
        apply();
        s.changed.connect(apply);
      });
    }

    app.commands.addCommand(CommandIDs.newApplication, {
      label: args => (args.isLauncher ? 'Scanflow application' : 'New Scanflow application'),
      caption: 'Create a folder with a scanflow.yaml and a first step, and open it in the Scanflow Editor',
      icon: args => (args.isPalette ? undefined : scanflowIcon),
      execute: () =>
        newApplication(app, folder => {
          void sidebar.refresh().then(() => sidebar.expand(folder));
        })
    });
    app.commands.addCommand(CommandIDs.openRunBrowser, {
      label: 'Open run browser',
      caption: "Browse an application's tracked runs (MLflow) in a console beside the editor",
      execute: async args => {
        const folder =
          typeof args.path === 'string'
            ? { folder: args.path, name: String(args.name ?? args.path) }
            : await currentFolder(current());
        if (folder) {
          await openRunBrowser(app, folder.folder, folder.name);
        }
      }
    });
    app.commands.addCommand(CommandIDs.openRun, {
      label: 'Open an MLflow run in the run browser',
      execute: args => openRun(app, String(args.store ?? ''), String(args.run_id ?? ''))
    });
    // A step's MLflow run id in the graph opens here (a SQLite or file store), or in the configured MLflow UI.
    configureRunLinks({ open: (store, runId) => void app.commands.execute(CommandIDs.openRun, { store, run_id: runId }) });
    if (settings) {
      void settings.load(SETTINGS_ID).then(s => {
        const apply = (): void => configureRunLinks({ uiUrl: String(s.get('mlflowUiUrl').composite ?? '') });
        apply();
        s.changed.connect(apply);
      });
    }
    app.commands.addCommand(CommandIDs.openEditor, {
      label: 'Open in the Scanflow Editor',
      execute: args =>
        openEditor(app, String(args.path ?? ''), {
          workflow: typeof args.workflow === 'string' ? args.workflow : undefined,
          run: typeof args.run === 'string' ? args.run : undefined
        })
    });
    app.commands.addCommand(CommandIDs.showSidebar, {
      label: 'Show the Scanflow sidebar',
      execute: () => app.shell.activateById(sidebar.id)
    });
    if (launcher) {
      launcher.add({ command: CommandIDs.newApplication, category: 'Other', rank: 1 });
    }
    if (palette) {
      for (const command of [CommandIDs.newApplication, CommandIDs.openRunBrowser, CommandIDs.showSidebar]) {
        palette.addItem({ command, category: 'Scanflow' });
      }
    }
  }
};

const plugins: JupyterFrontEndPlugin<any>[] = [widgetsPlugin, editorPlugin, sidebarPlugin];

export default plugins;
