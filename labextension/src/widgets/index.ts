/**
 * The widget models and views of the `scanflow-jupyter` widget module, registered with
 * the Jupyter widget manager by the plugin in ../index.ts. Names mirror the Python
 * classes' `_model_name` / `_view_name` (see PROTOCOL.md).
 */
export { AgentPanelModel, AgentPanelView } from './agents';
export { ComposerModel, ComposerView } from './composer';
export { DeployPanelModel, DeployPanelView } from './deploy';
export { DriftReportModel, DriftReportView } from './drift';
export { GraphModel, GraphView } from './graph';
export { LabelingModel, LabelingView } from './labeling';
export { RunBrowserModel, RunBrowserView } from './runs';
