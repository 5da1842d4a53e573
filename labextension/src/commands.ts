/**
 * The extension's commands (palette, launcher, sidebar, editor) and what they do: plain functions of the
 * JupyterLab application, so that the plugins in index.ts only wire them.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { InputDialog, showErrorMessage } from '@jupyterlab/apputils';

import { EDITOR_FACTORY, ScanflowEditor } from './editor/document';
import { openRunSource } from './graph/links';
import { AppsAnswer, requestAPI } from './server/api';

export const CommandIDs = {
  newApplication: 'scanflow:new-application',
  openRunBrowser: 'scanflow:open-run-browser',
  openRun: 'scanflow:open-run',
  openEditor: 'scanflow:open-editor',
  showSidebar: 'scanflow:show-sidebar'
} as const;

/** The spec file of the application in `folder` (relative to the root). */
export function specPath(folder: string): string {
  return folder ? `${folder}/scanflow.yaml` : 'scanflow.yaml';
}

/** Open an application's scanflow.yaml in the Scanflow Editor, on `workflow`, showing run `run` if given. */
export async function openEditor(
  app: JupyterFrontEnd,
  folder: string,
  options: { workflow?: string; run?: string } = {}
): Promise<ScanflowEditor | null> {
  const widget = (await app.commands.execute('docmanager:open', {
    path: specPath(folder),
    factory: EDITOR_FACTORY
  })) as ScanflowEditor | undefined;
  if (!widget || !(widget instanceof ScanflowEditor)) {
    return null;
  }
  await widget.context.ready;
  const controller = widget.controller;
  if (options.workflow && options.workflow !== controller.workflow) {
    controller.selectWorkflow(options.workflow);
  }
  if (options.run) {
    controller.show(options.run);
  }
  return widget;
}

/** A valid application name from what a person typed (lower case, dashes). */
export function applicationName(typed: string): string {
  const last = typed.trim().split('/').filter(Boolean).pop() ?? '';
  return last
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** Ask for a folder, create an application there (server: `new`), open it in the editor. */
export async function newApplication(app: JupyterFrontEnd, onCreated: (folder: string) => void): Promise<void> {
  const answer = await InputDialog.getText({
    title: 'New Scanflow application',
    label: 'Folder (relative to the server root); its last part names the application',
    placeholder: 'my-app',
    text: 'my-app'
  });
  if (!answer.button.accept || !answer.value) {
    return;
  }
  const folder = answer.value.trim().replace(/^\/+|\/+$/g, '');
  try {
    const made = await requestAPI<{ path: string }>('new', { path: folder, name: applicationName(folder) });
    onCreated(made.path);
    await openEditor(app, made.path);
  } catch (error) {
    await showErrorMessage('Could not create the application', String((error as Error).message ?? error));
  }
}

/** What a console needs of a ConsolePanel (`console:create` answers one). */
interface ConsoleLike {
  console: { inject(code: string): Promise<void> };
  sessionContext: { ready: Promise<void> };
}

/**
 * The run browser (the MLflow runs of an application, `%scanflow runs`) in a main-area console whose kernel runs
 * in the application folder.
 */
export async function openRunBrowser(app: JupyterFrontEnd, folder: string, name: string): Promise<void> {
  await injectInConsole(
    app,
    { basePath: folder, name: `Runs: ${name}` },
    '%load_ext scanflow_jupyter\n%scanflow load .\n%scanflow runs'
  );
}

/** One MLflow run (`runId` of the store `store`) opened in a RunBrowser, in a main-area console. */
export async function openRun(app: JupyterFrontEnd, store: string, runId: string): Promise<void> {
  await injectInConsole(app, { name: `Run ${runId.slice(0, 8)}` }, openRunSource(store, runId));
}

/** A new main-area Python console (named, in `basePath` if given) that runs `source` once its kernel is ready. */
async function injectInConsole(
  app: JupyterFrontEnd,
  where: { basePath?: string; name: string },
  source: string
): Promise<void> {
  const panel = (await app.commands.execute('console:create', {
    ...where,
    activate: true,
    kernelPreference: { name: 'python3' }
  })) as ConsoleLike | undefined;
  if (!panel) {
    return;
  }
  await panel.sessionContext.ready;
  await panel.console.inject(source);
}

/** The application folder a command without arguments acts on: the editor's, else the first listed. */
export async function currentFolder(current: ScanflowEditor | null): Promise<{ folder: string; name: string } | null> {
  if (current) {
    return { folder: current.controller.appPath, name: current.controller.appPath.split('/').pop() || 'app' };
  }
  const apps = await requestAPI<AppsAnswer>('apps');
  return apps.apps.length ? { folder: apps.apps[0].path, name: apps.apps[0].name } : null;
}
