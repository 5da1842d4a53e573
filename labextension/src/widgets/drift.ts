/**
 * The drift report widget: a checked batch's verdict, score histograms with the
 * threshold, its integrity checks and its most anomalous samples (for a sequence batch,
 * a time plot with the anomalous windows shaded). Read-only; redrawn when a trait changes.
 * Python side: `scanflow_jupyter/notebook/widgets/drift.py`; contract: PROTOCOL.md.
 */
import { DOMWidgetModel, DOMWidgetView, ISerializers } from '@jupyter-widgets/base';
import type { ObjectHash } from 'backbone';

import { readDrift, renderDrift } from '../drift/render';
import { MODULE_NAME, MODULE_VERSION } from '../version';

export class DriftReportModel extends DOMWidgetModel {
  defaults(): ObjectHash {
    return {
      ...super.defaults(),
      _model_name: DriftReportModel.model_name,
      _model_module: DriftReportModel.model_module,
      _model_module_version: DriftReportModel.model_module_version,
      _view_name: DriftReportModel.view_name,
      _view_module: DriftReportModel.view_module,
      _view_module_version: DriftReportModel.view_module_version,
      summary: {},
      histogram: {},
      samples: [],
      image_shape: [],
      feature_names: [],
      checks: [],
      timeline: {}
    };
  }

  static serializers: ISerializers = {
    ...DOMWidgetModel.serializers
  };

  static model_name = 'DriftReportModel';
  static model_module = MODULE_NAME;
  static model_module_version = MODULE_VERSION;
  static view_name = 'DriftReportView';
  static view_module = MODULE_NAME;
  static view_module_version = MODULE_VERSION;
}

export class DriftReportView extends DOMWidgetView {
  render(): void {
    this.el.classList.add('sf-drift');
    this.listenTo(
      this.model,
      'change:summary change:histogram change:samples change:image_shape change:checks change:timeline',
      this.draw
    );
    this.draw();
  }

  private draw(): void {
    renderDrift(
      this.el,
      readDrift(name => this.model.get(name))
    );
  }
}
