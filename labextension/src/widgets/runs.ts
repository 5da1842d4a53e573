/**
 * The run browser: experiments, a filter box (MLflow syntax plus OR), quick filters, a sortable,
 * virtualised table paged on the server, a comparison view and a run view.
 * Python side: `scanflow_jupyter/notebook/widgets/runs.py`; contract: PROTOCOL.md ("RunBrowser").
 */
import { DOMWidgetModel, DOMWidgetView, ISerializers, WidgetModel, unpack_models } from '@jupyter-widgets/base';
import type { ObjectHash } from 'backbone';

import { el } from '../dom';
import { renderCompare } from '../runs/compare';
import { Experiment, ExperimentPicker } from '../runs/experiments';
import { columnLabel, nextSort } from '../runs/format';
import { renderArtifacts, renderPreview, renderRun } from '../runs/runview';
import { RunTable, flatten } from '../runs/table';
import { Comparison, PageInfo, Preview, RunDetail, RunRow } from '../runs/types';
import { MODULE_NAME, MODULE_VERSION } from '../version';

export class RunBrowserModel extends DOMWidgetModel {
  defaults(): ObjectHash {
    return {
      ...super.defaults(),
      _model_name: RunBrowserModel.model_name,
      _model_module: RunBrowserModel.model_module,
      _model_module_version: RunBrowserModel.model_module_version,
      _view_name: RunBrowserModel.view_name,
      _view_module: RunBrowserModel.view_module,
      _view_module_version: RunBrowserModel.view_module_version,
      experiments: [],
      experiment_ids: [],
      filter: '',
      quick: {},
      order_by: [],
      columns: [],
      available: {},
      page_size: 100,
      tree: true,
      rows: [],
      page: {},
      children: {},
      selected: [],
      mode: 'table',
      compare_data: {},
      run: {},
      preview: {},
      graph: null,
      error: '',
      message: '',
      ui_url: '',
      revision: 0,
      height: '460px'
    };
  }

  static serializers: ISerializers = {
    ...DOMWidgetModel.serializers,
    graph: { deserialize: unpack_models }
  };

  static model_name = 'RunBrowserModel';
  static model_module = MODULE_NAME;
  static model_module_version = MODULE_VERSION;
  static view_name = 'RunBrowserView';
  static view_module = MODULE_NAME;
  static view_module_version = MODULE_VERSION;
}

const STATUSES = ['', 'RUNNING', 'FINISHED', 'FAILED', 'KILLED', 'SCHEDULED'];

/** Save `text` as a file through the browser. */
export function download(doc: Document, filename: string, text: string): void {
  const blob = new Blob([text], { type: 'text/csv' });
  const a = doc.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  a.className = 'sf-runs-download-link';
  doc.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export class RunBrowserView extends DOMWidgetView {
  private table!: RunTable;
  private tablePanel!: HTMLDivElement;
  private comparePanel!: HTMLDivElement;
  private runPanel!: HTMLDivElement;
  private errorBox!: HTMLDivElement;
  private status!: HTMLSpanElement;
  private pageLabel!: HTMLSpanElement;
  private filterInput!: HTMLInputElement;
  private experimentPicker!: ExperimentPicker;
  private workflowInput!: HTMLInputElement;
  private statusSelect!: HTMLSelectElement;
  private sinceInput!: HTMLInputElement;
  private untilInput!: HTMLInputElement;
  private treeBox!: HTMLInputElement;
  private columnsBox!: HTMLDetailsElement;
  private prevButton!: HTMLButtonElement;
  private nextButton!: HTMLButtonElement;
  private compareButton!: HTMLButtonElement;
  private onlyDiff = false;
  private expanded = new Set<string>();
  private graphView: DOMWidgetView | null = null;
  private graphSlot: HTMLElement | null = null;

  render(): void {
    const doc = this.el.ownerDocument;
    this.el.classList.add('sf-runs');
    this.el.dataset.lmSuppressShortcuts = 'true';

    const bar = el(doc, 'div', 'sf-runs-toolbar');
    this.experimentPicker = new ExperimentPicker(doc, ids => this.save('experiment_ids', ids));
    this.filterInput = el(doc, 'input', 'sf-runs-filter');
    this.filterInput.placeholder = "metrics.acc > 0.9 AND params.model = 'tree' OR …";
    this.filterInput.setAttribute('aria-label', 'Filter');
    this.filterInput.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        this.applyFilter();
      }
    });
    const apply = this.button('sf-runs-apply', 'Filter', 'Apply the filter (Enter)');
    apply.addEventListener('click', () => this.applyFilter());
    const refresh = this.button('sf-runs-refresh', 'Refresh', 'Reload from the store');
    refresh.addEventListener('click', () => this.send({ event: 'refresh' }));
    bar.append(this.experimentPicker.node, this.filterInput, apply, refresh);

    const quick = el(doc, 'div', 'sf-runs-quick');
    this.workflowInput = el(doc, 'input', 'sf-runs-quick-workflow');
    this.workflowInput.placeholder = 'workflow';
    this.workflowInput.setAttribute('list', '');
    this.workflowInput.addEventListener('change', () => this.saveQuick());
    this.statusSelect = el(doc, 'select', 'sf-runs-quick-status');
    for (const s of STATUSES) {
      const option = el(doc, 'option', '', s ? s.toLowerCase() : 'any status');
      option.value = s;
      this.statusSelect.append(option);
    }
    this.statusSelect.addEventListener('change', () => this.saveQuick());
    this.sinceInput = el(doc, 'input', 'sf-runs-quick-since');
    this.sinceInput.type = 'date';
    this.sinceInput.title = 'Started on or after';
    this.sinceInput.addEventListener('change', () => this.saveQuick());
    this.untilInput = el(doc, 'input', 'sf-runs-quick-until');
    this.untilInput.type = 'date';
    this.untilInput.title = 'Started on or before';
    this.untilInput.addEventListener('change', () => this.saveQuick());
    const treeLabel = el(doc, 'label', 'sf-runs-tree');
    this.treeBox = el(doc, 'input');
    this.treeBox.type = 'checkbox';
    // The filter typed in the box goes with the toggle: it is neither lost nor left unapplied.
    this.treeBox.addEventListener('change', () => {
      if (this.filterInput.value !== (this.model.get('filter') ?? '')) {
        this.model.set('filter', this.filterInput.value);
      }
      this.save('tree', this.treeBox.checked);
    });
    treeLabel.append(this.treeBox, doc.createTextNode(' child runs under parents'));
    this.columnsBox = el(doc, 'details', 'sf-runs-columns');
    quick.append(this.workflowInput, this.statusSelect, this.sinceInput, this.untilInput, treeLabel, this.columnsBox);

    this.errorBox = el(doc, 'div', 'sf-runs-error');
    this.errorBox.setAttribute('role', 'alert');

    const nav = el(doc, 'div', 'sf-runs-nav');
    this.prevButton = this.button('sf-runs-prev', '‹ Prev', 'Previous page');
    this.prevButton.addEventListener('click', () => this.send({ event: 'prev' }));
    this.nextButton = this.button('sf-runs-next', 'Next ›', 'Next page');
    this.nextButton.addEventListener('click', () => this.send({ event: 'next' }));
    this.pageLabel = el(doc, 'span', 'sf-runs-page');
    this.status = el(doc, 'span', 'sf-runs-message');
    this.status.setAttribute('role', 'status');
    this.compareButton = this.button('sf-runs-compare', 'Compare', 'Compare the selected runs');
    this.compareButton.addEventListener('click', () => this.send({ event: 'compare' }));
    const csv = this.button('sf-runs-csv', 'CSV', 'Download this page as CSV');
    csv.addEventListener('click', () => this.send({ event: 'download' }));
    const clear = this.button('sf-runs-clear', 'Clear selection', 'Unselect every run');
    clear.addEventListener('click', () => this.save('selected', []));
    nav.append(this.prevButton, this.pageLabel, this.nextButton, this.status, clear, this.compareButton, csv);

    this.table = new RunTable(doc, {
      sort: (column, add) => this.save('order_by', nextSort(this.model.get('order_by') ?? [], column, add)),
      toggleSelect: (runId, on) => {
        const now = (this.model.get('selected') as string[]).filter(id => id !== runId);
        this.save('selected', on ? [...now, runId] : now);
      },
      toggleExpand: runId => this.toggleExpand(runId),
      open: runId => this.send({ event: 'open', run_id: runId })
    });
    this.tablePanel = el(doc, 'div', 'sf-runs-table-panel');
    this.tablePanel.append(nav, this.table.node);

    this.comparePanel = el(doc, 'div', 'sf-runs-compare-view');
    this.runPanel = el(doc, 'div', 'sf-runs-run-view');
    this.el.append(bar, quick, this.errorBox, this.tablePanel, this.comparePanel, this.runPanel);

    this.listenTo(this.model, 'change:experiments change:experiment_ids', this.drawExperiments);
    this.listenTo(this.model, 'change:filter', this.drawFilter);
    this.listenTo(this.model, 'change:quick change:tree', this.drawQuery);
    this.listenTo(this.model, 'change:available change:columns', this.drawColumns);
    this.listenTo(this.model, 'change:rows', () => {
      // Child runs that matched a filter come with their page, under their parents, opened.
      this.expanded = new Set(Object.keys(this.model.get('children') ?? {}));
      this.table.scrollToTop();
      this.drawTable();
    });
    this.listenTo(this.model, 'change:children change:columns change:order_by change:selected', this.drawTable);
    this.listenTo(this.model, 'change:page change:message change:selected', this.drawNav);
    this.listenTo(this.model, 'change:error', this.drawError);
    this.listenTo(this.model, 'change:mode', this.drawMode);
    this.listenTo(this.model, 'change:compare_data', this.drawCompare);
    this.listenTo(this.model, 'change:run', this.drawRun);
    this.listenTo(this.model, 'change:preview', this.drawPreview);
    this.listenTo(this.model, 'change:graph', () => void this.drawGraph());
    this.listenTo(this.model, 'change:height', () => this.table.setHeight(this.model.get('height')));
    this.listenTo(this.model, 'change:revision', () => {
      this.el.dataset.revision = String(this.model.get('revision'));
    });
    this.listenTo(this.model, 'msg:custom', (content: { event?: string; filename?: string; text?: string }) => {
      if (content.event === 'csv' && content.filename && typeof content.text === 'string') {
        download(doc, content.filename, content.text);
      }
    });

    this.table.setHeight(this.model.get('height'));
    this.el.dataset.revision = String(this.model.get('revision'));
    this.expanded = new Set(Object.keys(this.model.get('children') ?? {}));
    this.drawExperiments();
    this.drawFilter();
    this.drawQuery();
    this.drawColumns();
    this.drawTable();
    this.drawNav();
    this.drawError();
    this.drawCompare();
    this.drawRun();
    this.drawMode();
  }

  private button(className: string, label: string, title: string): HTMLButtonElement {
    const b = el(this.el.ownerDocument, 'button', `sf-runs-button ${className}`, label);
    b.type = 'button';
    b.title = title;
    return b;
  }

  private save(name: string, value: unknown): void {
    this.model.set(name, value);
    this.touch();
  }

  private applyFilter(): void {
    this.save('filter', this.filterInput.value);
  }

  private saveQuick(): void {
    this.save('quick', {
      workflow: this.workflowInput.value.trim(),
      status: this.statusSelect.value,
      since: this.sinceInput.value,
      until: this.untilInput.value
    });
  }

  private toggleExpand(runId: string): void {
    if (this.expanded.has(runId)) {
      this.expanded.delete(runId);
      this.drawTable();
      return;
    }
    this.expanded.add(runId);
    if (!(runId in (this.model.get('children') ?? {}))) {
      this.send({ event: 'expand', run_id: runId });
    }
    this.drawTable();
  }

  private drawExperiments(): void {
    this.experimentPicker.update(
      (this.model.get('experiments') ?? []) as Experiment[],
      (this.model.get('experiment_ids') ?? []) as string[]
    );
  }

  private drawFilter(): void {
    if (this.el.ownerDocument.activeElement !== this.filterInput) {
      this.filterInput.value = this.model.get('filter') ?? '';
    }
  }

  /** The quick filters and the tree box (never the filter box: what is typed there stays until applied). */
  private drawQuery(): void {
    const quick = (this.model.get('quick') ?? {}) as Record<string, string>;
    this.workflowInput.value = quick.workflow ?? '';
    this.statusSelect.value = (quick.status ?? '').toUpperCase();
    this.sinceInput.value = quick.since ?? '';
    this.untilInput.value = quick.until ?? '';
    this.treeBox.checked = Boolean(this.model.get('tree'));
  }

  private drawColumns(): void {
    const doc = this.el.ownerDocument;
    const available = (this.model.get('available') ?? {}) as Record<string, unknown>;
    const chosen = (this.model.get('columns') ?? []) as string[];
    const wasOpen = this.columnsBox.open;
    const summary = el(doc, 'summary', 'sf-runs-columns-summary', `Columns (${chosen.length})`);
    const search = el(doc, 'input', 'sf-runs-columns-search');
    search.placeholder = 'find a key…';
    search.value = String(available.search ?? '');
    search.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        this.send({ event: 'columns', search: search.value });
      }
    });
    const list = el(doc, 'div', 'sf-runs-columns-list');
    const attributes = ['attributes.start_time', 'attributes.end_time', 'attributes.duration', 'attributes.user_id'];
    const groups: Array<[string, string[]]> = [
      ['attributes', attributes],
      ['metrics', ((available.metrics as string[]) ?? []).map(k => `metrics.${quoteKey(k)}`)],
      ['params', ((available.params as string[]) ?? []).map(k => `params.${quoteKey(k)}`)],
      ['tags', ((available.tags as string[]) ?? []).map(k => `tags.${quoteKey(k)}`)]
    ];
    for (const [title, names] of groups) {
      list.append(el(doc, 'div', 'sf-runs-columns-group', title));
      for (const name of new Set([...names, ...chosen.filter(c => c.startsWith(`${title}.`))])) {
        const label = el(doc, 'label', 'sf-runs-column-choice');
        const box = el(doc, 'input');
        box.type = 'checkbox';
        box.value = name;
        box.checked = chosen.includes(name);
        box.addEventListener('change', () => {
          const now = (this.model.get('columns') as string[]).filter(c => c !== name);
          this.save('columns', box.checked ? [...now, name] : now);
        });
        label.append(box, doc.createTextNode(` ${columnLabel(name)}`));
        label.title = name;
        list.append(label);
      }
    }
    if (available.truncated) {
      list.append(el(doc, 'p', 'sf-runs-note', 'More keys exist: search to find them.'));
    }
    this.columnsBox.replaceChildren(summary, search, list);
    this.columnsBox.open = wasOpen;
  }

  private drawTable(): void {
    const rows = (this.model.get('rows') ?? []) as RunRow[];
    const children = (this.model.get('children') ?? {}) as Record<string, RunRow[]>;
    const items = flatten(rows, children, this.expanded);
    this.table.update(
      items,
      this.model.get('columns') ?? [],
      this.model.get('order_by') ?? [],
      new Set(this.model.get('selected') as string[]),
      this.expanded
    );
  }

  private drawNav(): void {
    const page = (this.model.get('page') ?? {}) as Partial<PageInfo>;
    this.prevButton.disabled = !page.has_prev;
    this.nextButton.disabled = !page.has_next;
    this.pageLabel.textContent = `page ${(page.index ?? 0) + 1}`;
    this.pageLabel.dataset.index = String(page.index ?? 0);
    this.status.textContent = this.model.get('message') ?? '';
    const count = (this.model.get('selected') as string[]).length;
    this.compareButton.disabled = count < 2;
    this.compareButton.textContent = count ? `Compare (${count})` : 'Compare';
  }

  private drawError(): void {
    const doc = this.el.ownerDocument;
    const text = this.model.get('error') ?? '';
    this.errorBox.replaceChildren();
    this.errorBox.hidden = !text;
    if (text) {
      const close = this.button('sf-runs-error-close', '×', 'Dismiss');
      close.addEventListener('click', () => this.save('error', ''));
      this.errorBox.append(el(doc, 'span', 'sf-runs-error-text', text), close);
    }
  }

  private drawMode(): void {
    const mode = this.model.get('mode') as string;
    this.el.dataset.mode = mode;
    for (const [panel, name] of [
      [this.tablePanel, 'table'],
      [this.comparePanel, 'compare'],
      [this.runPanel, 'run']
    ] as Array<[HTMLElement, string]>) {
      panel.hidden = mode !== name;
    }
  }

  private backBar(): HTMLElement {
    const doc = this.el.ownerDocument;
    const bar = el(doc, 'div', 'sf-runs-back-bar');
    const back = this.button('sf-runs-back', '‹ Runs', 'Back to the table');
    back.addEventListener('click', () => this.save('mode', 'table'));
    bar.append(back);
    return bar;
  }

  private drawCompare(): void {
    const doc = this.el.ownerDocument;
    const data = (this.model.get('compare_data') ?? {}) as Comparison;
    const body = el(doc, 'div', 'sf-runs-compare-body');
    renderCompare(
      body,
      data,
      {
        charts: (keys, full) => this.send({ event: 'charts', keys, full }),
        open: runId => this.send({ event: 'open', run_id: runId }),
        compareSteps: () => this.send({ event: 'compare_steps' })
      },
      this.onlyDiff
    );
    const bar = this.backBar();
    const diff = el(doc, 'label', 'sf-runs-only-diff');
    const box = el(doc, 'input');
    box.type = 'checkbox';
    box.checked = this.onlyDiff;
    box.addEventListener('change', () => {
      this.onlyDiff = box.checked;
      this.drawCompare();
    });
    diff.append(box, doc.createTextNode(' only differences'));
    bar.append(diff);
    this.comparePanel.replaceChildren(bar, body);
  }

  private drawRun(): void {
    const doc = this.el.ownerDocument;
    const run = (this.model.get('run') ?? {}) as RunDetail;
    const body = el(doc, 'div', 'sf-runs-run-body');
    this.runPanel.replaceChildren(this.backBar(), body);
    if (!run.run_id) {
      this.graphSlot = null;
      return;
    }
    this.graphSlot = renderRun(body, run, {
      preview: path => this.send({ event: 'preview', path }),
      searchMetrics: text => this.send({ event: 'run_metrics', search: text })
    });
    this.drawPreview();
    void this.drawGraph();
  }

  private drawPreview(): void {
    const box = this.runPanel.querySelector<HTMLElement>('.sf-runs-preview');
    if (!box) {
      return;
    }
    const preview = (this.model.get('preview') ?? {}) as Preview;
    renderPreview(box, preview);
    if (preview.kind === 'dir' && preview.entries) {
      const list = this.el.ownerDocument.createElement('ul');
      list.className = 'sf-runs-artifacts';
      renderArtifacts(list, preview.entries, {
        preview: path => this.send({ event: 'preview', path }),
        searchMetrics: () => undefined
      });
      box.append(list);
    }
  }

  private async drawGraph(): Promise<void> {
    const model = this.model.get('graph') as WidgetModel | null;
    if (this.graphView) {
      this.graphView.remove();
      this.graphView = null;
    }
    const slot = this.graphSlot;
    if (!model || !slot) {
      return;
    }
    const view = (await this.create_child_view(model)) as DOMWidgetView;
    if (this.graphSlot !== slot || this.model.get('graph') !== model) {
      view.remove();
      return;
    }
    this.graphView = view;
    slot.replaceChildren(view.el);
    view.trigger('displayed');
  }

  remove(): void {
    this.graphView?.remove();
    this.graphView = null;
    super.remove();
  }
}

function quoteKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : `"${key}"`;
}
