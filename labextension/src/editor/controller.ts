/**
 * The document editor's state, between JupyterLab's document (the `scanflow.yaml` text: dirty state, save,
 * revert, undo and redo are the document's) and the composer canvas (composer/canvas.tsx, shared with the
 * notebook widget). Every canvas edit is applied by the server to the current text
 * (`scanflow_jupyter/server/compose.py`), which answers with the edited text: the canvas and any text editor
 * open on the same file show the same document, both ways. A run started here is followed through the server's
 * event stream and colours the canvas.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ComposerActions, ComposerState } from '../composer/canvas';
import { ComposerMessage } from '../composer/messages';
import { Positions, readComposerSpec } from '../composer/spec';
import {
  AppSummary,
  DocumentAnswer,
  ProblemData,
  RunDetail,
  ScanflowAPIError,
  followRun,
  query,
  requestAPI
} from '../server/api';

/** What the controller needs of JupyterLab's document (its context and text model), for tests to stand in. */
export interface DocumentHost {
  /** The spec file, relative to the server root (`apps/tabular/scanflow.yaml`). */
  readonly path: string;
  text(): string;
  setText(text: string): void;
  save(): Promise<void>;
  readonly textChanged: ISignal<unknown, void>;
}

/** The run the editor shows: its id, status and every step's record, as the server's events give them. */
export interface RunView {
  runId: string;
  status: string;
  detail: RunDetail | null;
}

/** Run statuses after which a run can be resumed. */
export const RESUMABLE = ['failed', 'cancelled', 'interrupted'];

/** The application folder of a spec path (`apps/x/scanflow.yaml` -> `apps/x`). */
export function folderOf(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut < 0 ? '' : path.slice(0, cut);
}

export class EditorController {
  private doc: DocumentAnswer | null = null;
  private canonical = '';
  private readError = '';
  private error = '';
  private message = '';
  private pythonCode = '';
  private revision = 0;
  private positions: Positions = {};
  private workflowName = '';
  private stubs = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopFollowing: (() => void) | null = null;
  private readonly changedSignal = new Signal<this, void>(this);
  private disposed = false;
  /** The run shown on the canvas (the last one started here, or one opened from the sidebar). */
  run: RunView | null = null;
  /** The latest runs of this application (for Resume). */
  runs: AppSummary['runs'] = [];

  readonly actions: ComposerActions = {
    send: message => void this.send(message),
    setPositions: positions => {
      this.positions = positions;
      this.changed();
    },
    dismissError: () => {
      this.error = '';
      this.changed();
    },
    closeCode: () => {
      this.pythonCode = '';
      this.changed();
    }
  };

  constructor(
    readonly host: DocumentHost,
    private readonly debounceMs = 250
  ) {
    host.textChanged.connect(this.onTextChanged, this);
  }

  /** Emitted whenever what the editor shows changed. */
  get stateChanged(): ISignal<this, void> {
    return this.changedSignal;
  }

  get appPath(): string {
    return folderOf(this.host.path);
  }

  get workflow(): string {
    return this.doc?.workflow ?? this.workflowName;
  }

  get workflows(): string[] {
    return this.doc?.workflows ?? [];
  }

  get problems(): ProblemData[] {
    return this.doc?.problems ?? [];
  }

  /** Why the text could not be read as a spec ("" when it can). */
  get textError(): string {
    return this.readError;
  }

  /** What the composer canvas draws. */
  state(): ComposerState {
    const states: { [address: string]: string } = {};
    for (const [address, record] of Object.entries(this.run?.detail?.nodes ?? {})) {
      states[address] = record.state;
    }
    return {
      spec: this.doc ? readComposerSpec(this.doc.spec) : null,
      positions: this.positions,
      error: this.error,
      pythonCode: this.pythonCode,
      savedPath: '',
      message: this.message,
      revision: this.revision,
      height: '100%',
      problems: this.doc?.problems ?? [],
      states: this.run ? states : undefined
    };
  }

  /** Read the document's text (at open, and after each change from elsewhere: a text editor, a revert). */
  async load(): Promise<void> {
    await this.read(this.host.text());
  }

  selectWorkflow(name: string): void {
    this.workflowName = name;
    this.positions = {};
    void this.read(this.host.text());
  }

  private onTextChanged(): void {
    if (this.host.text() === this.canonical && !this.readError) {
      // Our own edit coming back. With a mistake on show it is not: a revert (or an undo in the text editor) back
      // to the last valid text must clear the banner, so that text is read again.
      return;
    }
    if (this.timer !== null) {
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.read(this.host.text());
    }, this.debounceMs);
  }

  private async read(text: string): Promise<void> {
    try {
      const answer = await requestAPI<DocumentAnswer>('document', {
        path: this.appPath,
        text,
        workflow: this.workflowName || this.doc?.workflow || null
      });
      if (this.disposed) {
        return;
      }
      this.doc = answer;
      this.readError = '';
      // The text as typed stays: only canvas edits rewrite it (canonically).
      this.canonical = text;
    } catch (error) {
      this.readError = error instanceof ScanflowAPIError ? error.message : String(error);
    }
    this.revision += 1;
    this.changed();
  }

  /** A canvas message: an edit applied by the server to the current text, a save, or an export. */
  async send(message: ComposerMessage): Promise<void> {
    if (message.event === 'save') {
      await this.save();
      return;
    }
    try {
      const answer = await requestAPI<DocumentAnswer>('compose', {
        path: this.appPath,
        text: this.host.text(),
        workflow: this.workflow,
        message
      });
      if (this.disposed) {
        return;
      }
      if (message.event === 'export') {
        this.pythonCode = answer.python_code ?? '';
        this.message = 'Python code that rebuilds the application is below the canvas';
      } else {
        this.error = '';
        this.message = '';
        if (message.event === 'add' && (message.kind ?? 'script') !== 'function') {
          this.stubs.add(message.kind === 'workflow' ? `steps/${message.name}-step.py` : `steps/${message.name}.py`);
        }
        this.canonical = answer.text;
        this.host.setText(answer.text);
        if (this.pythonCode) {
          void this.send({ event: 'export' });
        }
      }
      this.doc = answer;
      this.readError = '';
    } catch (error) {
      this.error = error instanceof ScanflowAPIError ? error.message : String(error);
    }
    this.revision += 1;
    this.changed();
  }

  /** Save the document; once saved, `afterSave` writes the new steps' placeholder scripts. */
  async save(): Promise<void> {
    await this.host.save();
  }

  /** After the document was saved (from here, Ctrl-S or the File menu). */
  async afterSave(): Promise<void> {
    if (!this.stubs.size) {
      return;
    }
    try {
      const answer = await requestAPI<{ written: string[] }>('stubs', {
        path: this.appPath,
        text: this.host.text(),
        scripts: [...this.stubs]
      });
      this.stubs.clear();
      this.message = answer.written.length ? `saved; wrote the stub script(s) ${answer.written.join(', ')}` : 'saved';
    } catch (error) {
      this.error = error instanceof ScanflowAPIError ? error.message : String(error);
    }
    await this.read(this.host.text()); // the scripts now exist: their problems go
  }

  /** Problems of the saved application, listed (the Validate button). */
  async validate(): Promise<ProblemData[]> {
    await this.read(this.host.text());
    this.message = this.problems.length
      ? `${this.problems.length} problem(s): they are marked on the nodes`
      : 'no problems: the application is valid';
    this.changed();
    return this.problems;
  }

  /** The latest runs of the application (for Resume and the sidebar's view of this file). */
  async refreshRuns(): Promise<void> {
    try {
      const app = await requestAPI<AppSummary>(`app${query({ path: this.appPath })}`);
      this.runs = app.runs;
    } catch {
      this.runs = [];
    }
    this.changed();
  }

  /** The newest run of this workflow that Resume would finish, if any. */
  resumable(): string | null {
    const run = this.runs.find(r => r.workflow === this.workflow);
    return run && RESUMABLE.includes(run.status) ? run.run_id : null;
  }

  get running(): boolean {
    return this.run !== null && (this.run.status === 'running' || this.run.status === 'starting');
  }

  /** Save if needed, then start a run of the workflow shown and follow it. */
  async start(dirty: boolean): Promise<void> {
    if (dirty) {
      await this.save();
    }
    await this.launch('start', { path: this.appPath, workflow: this.workflow });
  }

  async resume(runId: string | null = this.resumable()): Promise<void> {
    if (runId) {
      await this.launch('resume', { path: this.appPath, run: runId });
    }
  }

  async cancel(): Promise<void> {
    if (!this.run) {
      return;
    }
    try {
      await requestAPI('cancel', { path: this.appPath, run: this.run.runId });
      this.message = `cancelling run ${this.run.runId}`;
    } catch (error) {
      this.error = error instanceof ScanflowAPIError ? error.message : String(error);
    }
    this.changed();
  }

  private async launch(route: 'start' | 'resume', body: object): Promise<void> {
    try {
      const answer = await requestAPI<{ run_id: string }>(route, body);
      this.error = '';
      this.message = '';
      this.show(answer.run_id, route === 'resume' ? this.run?.detail ?? null : null);
    } catch (error) {
      this.error = error instanceof ScanflowAPIError ? error.message : String(error);
      this.changed();
    }
  }

  /** Show run `runId` on the canvas and follow it while it goes. */
  show(runId: string, detail: RunDetail | null = null): void {
    this.stopFollowing?.();
    this.run = { runId, status: detail?.status ?? 'starting', detail };
    this.changed();
    this.stopFollowing = followRun(this.appPath, runId, event => {
      if (!this.run || this.run.runId !== runId) {
        return;
      }
      if (event.event === 'state') {
        this.run = { runId, status: event.data.status, detail: event.data };
        if (event.data.workflow && event.data.workflow !== this.workflow && this.workflows.includes(event.data.workflow)) {
          this.selectWorkflow(event.data.workflow);
        }
      } else if (event.event === 'end') {
        this.run = { ...this.run, status: event.data.status === 'unknown' ? this.run.status : event.data.status };
        void this.refreshRuns();
      }
      this.changed();
    });
  }

  private changed(): void {
    if (!this.disposed) {
      this.changedSignal.emit();
    }
  }

  dispose(): void {
    this.disposed = true;
    this.stopFollowing?.();
    if (this.timer !== null) {
      clearTimeout(this.timer);
    }
    this.host.textChanged.disconnect(this.onTextChanged, this);
    Signal.clearData(this);
  }
}
