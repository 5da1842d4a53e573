/**
 * The Scanflow sidebar: the applications under the server's root (`scanflow_jupyter/server/apps.py`), each with
 * its workflows and latest runs, with live status; from there a workflow opens in the document editor, a run
 * opens on its canvas, and runs start, resume and cancel. Plain DOM, every user text set as text.
 */
import { Widget } from '@lumino/widgets';

import { el } from '../dom';
import { STATE_COLOURS } from '../graph/dot';
import { AppSummary, AppsAnswer, RunSummary } from '../server/api';

/** What the sidebar asks of JupyterLab (commands) and of the server; tests stand in for both. */
export interface SidebarActions {
  list(): Promise<AppsAnswer>;
  openWorkflow(app: AppSummary, workflow: string): void;
  openRun(app: AppSummary, run: RunSummary): void;
  openRunBrowser(app: AppSummary): void;
  start(app: AppSummary, workflow: string): Promise<void>;
  resume(app: AppSummary, run: RunSummary): Promise<void>;
  cancel(app: AppSummary, run: RunSummary): Promise<void>;
  newApplication(): void;
}

/** The colour of a run's status badge: the node state of the same name (interrupted: as cancelled). */
export function statusColour(status: string): string {
  const state = status === 'interrupted' ? 'cancelled' : status === 'starting' ? 'queued' : status;
  return (STATE_COLOURS as { [s: string]: string })[state] ?? STATE_COLOURS.pending;
}

/** `20261202-032200-3f9a1c` as a person reads it: `12-02 03:22:00` (UTC, as run ids are). */
export function runTime(run: RunSummary): string {
  const d = new Date(run.created * 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "3 of 5 succeeded" / "1 failed, 2 skipped of 5". */
export function countsText(run: RunSummary): string {
  const c = run.counts;
  const done = (c.succeeded ?? 0) + (c.cached ?? 0);
  const bad = ['failed', 'cancelled', 'skipped'].filter(s => c[s]).map(s => `${c[s]} ${s}`);
  const going = c.running ? [`${c.running} running`] : [];
  return [`${done} of ${run.total} done`, ...going, ...bad].join(', ');
}

const RESUMABLE = ['failed', 'cancelled', 'interrupted'];

export class ScanflowSidebar extends Widget {
  private apps: AppSummary[] = [];
  private readonly expanded = new Set<string>();
  private filterText = '';
  private readonly list: HTMLElement;
  private readonly note: HTMLElement;
  private readonly filter: HTMLInputElement;
  private loading: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Seconds between refreshes while the sidebar is shown (settings: refreshInterval). */
  refreshSeconds = 3;
  /** Runs listed per application (settings: recentRuns). */
  recentRuns = 5;

  constructor(private readonly actions: SidebarActions) {
    super();
    this.id = 'scanflow-sidebar';
    this.addClass('sf-sidebar');
    this.title.caption = 'Scanflow: applications and runs';
    const doc = this.node.ownerDocument;
    const header = el(doc, 'div', 'sf-sidebar-header');
    header.append(el(doc, 'span', 'sf-sidebar-title', 'Scanflow'));
    const add = el(doc, 'button', 'sf-sidebar-button sf-sidebar-new', '+ New');
    add.type = 'button';
    add.title = 'New Scanflow application';
    add.onclick = () => this.actions.newApplication();
    const refresh = el(doc, 'button', 'sf-sidebar-button sf-sidebar-refresh', '⟳');
    refresh.type = 'button';
    refresh.title = 'Refresh the applications and runs';
    refresh.setAttribute('aria-label', 'refresh');
    refresh.onclick = () => void this.refresh();
    header.append(add, refresh);
    this.filter = el(doc, 'input', 'sf-sidebar-filter');
    this.filter.type = 'search';
    this.filter.placeholder = 'Filter applications';
    this.filter.setAttribute('aria-label', 'filter applications by name or folder');
    this.filter.oninput = () => {
      this.filterText = this.filter.value.trim().toLowerCase();
      this.draw();
    };
    this.note = el(doc, 'div', 'sf-sidebar-note');
    this.list = el(doc, 'div', 'sf-sidebar-list');
    this.list.setAttribute('role', 'tree');
    this.node.append(header, this.filter, this.note, this.list);
  }

  /** The applications shown (after the last refresh). */
  get applications(): readonly AppSummary[] {
    return this.apps;
  }

  /** Fetch the applications and runs again, and redraw. */
  refresh(): Promise<void> {
    if (this.loading) {
      return this.loading;
    }
    this.loading = this.actions
      .list()
      .then(
        answer => {
          this.apps = answer.apps;
          this.note.textContent = answer.apps.length
            ? answer.limited
              ? `The first ${answer.apps.length} applications under ${answer.root || 'the root'}.`
              : ''
            : `No application under ${answer.root || 'the root'} yet: a folder with a scanflow.yaml is one. Press + New to make one.`;
          this.draw();
        },
        error => {
          this.note.textContent = String(error?.message ?? error);
        }
      )
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  /** Draw what is known; the expanded applications stay expanded. */
  draw(): void {
    const doc = this.node.ownerDocument;
    const shown = this.filterText
      ? this.apps.filter(a => `${a.name} ${a.path}`.toLowerCase().includes(this.filterText))
      : this.apps;
    const rows = shown.map(app => this.appRow(doc, app));
    this.list.replaceChildren(...rows);
  }

  private button(doc: Document, label: string, title: string, cls: string, act: () => unknown): HTMLButtonElement {
    const b = el(doc, 'button', `sf-sidebar-button ${cls}`, label);
    b.type = 'button';
    b.title = title;
    b.onclick = event => {
      event.stopPropagation();
      void act();
    };
    return b;
  }

  private appRow(doc: Document, app: AppSummary): HTMLElement {
    const open = this.expanded.has(app.path);
    const item = el(doc, 'div', `sf-sidebar-app${open ? ' sf-open' : ''}`);
    item.dataset.path = app.path;
    item.setAttribute('role', 'treeitem');
    item.setAttribute('aria-expanded', String(open));
    const head = el(doc, 'div', 'sf-sidebar-app-head');
    head.append(el(doc, 'span', 'sf-sidebar-caret', open ? '▾' : '▸'));
    head.append(el(doc, 'span', 'sf-sidebar-app-name', app.name));
    head.append(el(doc, 'span', 'sf-sidebar-app-path', app.path || '.'));
    const latest = app.runs[0];
    if (latest) {
      head.append(this.badge(doc, latest.status));
    }
    if (app.error) {
      head.append(el(doc, 'span', 'sf-badge sf-badge-error', 'invalid'));
    }
    head.title = app.error || `${app.name} in ${app.path || 'the root'}: click to show its workflows and runs`;
    head.onclick = () => {
      if (open) {
        this.expanded.delete(app.path);
      } else {
        this.expanded.add(app.path);
      }
      this.draw();
    };
    item.append(head);
    if (open) {
      item.append(this.details(doc, app));
    }
    return item;
  }

  private badge(doc: Document, status: string): HTMLElement {
    const b = el(doc, 'span', `sf-badge sf-badge-${status}`, status);
    b.style.background = statusColour(status);
    return b;
  }

  private details(doc: Document, app: AppSummary): HTMLElement {
    const box = el(doc, 'div', 'sf-sidebar-app-body');
    if (app.error) {
      box.append(el(doc, 'pre', 'sf-sidebar-error', app.error));
    }
    const wfs = el(doc, 'div', 'sf-sidebar-section');
    wfs.append(el(doc, 'div', 'sf-sidebar-section-title', 'Workflows'));
    for (const wf of app.workflows) {
      const row = el(doc, 'div', 'sf-sidebar-workflow');
      row.dataset.workflow = wf.name;
      const name = el(doc, 'span', 'sf-sidebar-workflow-name', wf.name);
      name.title = `Open ${wf.name} in the Scanflow Editor`;
      name.onclick = () => this.actions.openWorkflow(app, wf.name);
      row.append(name, el(doc, 'span', 'sf-sidebar-muted', `${wf.steps} step${wf.steps === 1 ? '' : 's'}`));
      row.append(
        this.button(doc, 'Open', `Open ${wf.name} in the Scanflow Editor`, 'sf-sidebar-open', () =>
          this.actions.openWorkflow(app, wf.name)
        ),
        this.button(doc, '▶ Run', `Start a run of ${wf.name}`, 'sf-sidebar-run', () =>
          this.actions.start(app, wf.name).then(() => this.refresh())
        )
      );
      wfs.append(row);
    }
    if (!app.workflows.length && !app.error) {
      wfs.append(el(doc, 'div', 'sf-sidebar-muted', 'no workflows'));
    }
    box.append(wfs);
    const runs = el(doc, 'div', 'sf-sidebar-section');
    const title = el(doc, 'div', 'sf-sidebar-section-title', 'Recent runs');
    title.append(
      this.button(doc, 'Run browser', 'Browse every tracked run of this application (MLflow)', 'sf-sidebar-browser', () =>
        this.actions.openRunBrowser(app)
      )
    );
    runs.append(title);
    for (const run of app.runs.slice(0, this.recentRuns)) {
      const row = el(doc, 'div', 'sf-sidebar-runrow');
      row.dataset.run = run.run_id;
      row.dataset.status = run.status;
      row.append(this.badge(doc, run.status));
      const label = el(doc, 'span', 'sf-sidebar-run-label', `${run.workflow} · ${runTime(run)}`);
      label.title = `Run ${run.run_id}: ${countsText(run)}. Click to open it on the canvas.`;
      label.onclick = () => this.actions.openRun(app, run);
      row.append(label, el(doc, 'span', 'sf-sidebar-muted sf-sidebar-run-counts', countsText(run)));
      if (run.status === 'running') {
        row.append(
          this.button(doc, '■ Cancel', `Cancel run ${run.run_id}`, 'sf-sidebar-cancel', () =>
            this.actions.cancel(app, run).then(() => this.refresh())
          )
        );
      } else if (RESUMABLE.includes(run.status)) {
        row.append(
          this.button(doc, 'Resume', `Finish run ${run.run_id}: finished steps are reused`, 'sf-sidebar-resume', () =>
            this.actions.resume(app, run).then(() => this.refresh())
          )
        );
      }
      runs.append(row);
    }
    if (!app.runs.length) {
      runs.append(el(doc, 'div', 'sf-sidebar-muted', 'no runs yet'));
    }
    box.append(runs);
    return box;
  }

  /** Expand an application (by folder), e.g. one just created. */
  expand(path: string): void {
    this.expanded.add(path);
    this.draw();
  }

  protected onAfterShow(): void {
    void this.refresh();
    this.startTimer();
  }

  protected onAfterAttach(): void {
    if (this.isVisible) {
      void this.refresh();
      this.startTimer();
    }
  }

  protected onBeforeHide(): void {
    this.stopTimer();
  }

  protected onBeforeDetach(): void {
    this.stopTimer();
  }

  private startTimer(): void {
    this.stopTimer();
    if (this.refreshSeconds > 0) {
      // Live status while shown: the runs' states are files the server reads; nothing is polled when hidden.
      this.timer = setInterval(() => {
        if (this.isVisible && !this.node.ownerDocument.hidden) {
          void this.refresh();
        }
      }, this.refreshSeconds * 1000);
    }
  }

  private stopTimer(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  dispose(): void {
    this.stopTimer();
    super.dispose();
  }
}
