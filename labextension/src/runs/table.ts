/**
 * The run table: a header of sortable columns and a virtualised body (only the rows in view, plus a
 * few either side, are in the DOM). A workflow run's child runs show under it, indented.
 */
import { el } from '../dom';
import { columnKind, columnLabel, formatValue, middleEllipsis, parseSort, sortable } from './format';
import { RunRow } from './types';

export const ROW_HEIGHT = 28;
const OVERSCAN = 6;

export interface TableItem {
  row: RunRow;
  depth: number;
}

export interface TableCallbacks {
  sort(column: string, add: boolean): void;
  toggleSelect(runId: string, selected: boolean): void;
  toggleExpand(runId: string): void;
  open(runId: string): void;
}

/** Rows of the page with the children of expanded runs after their parent. */
export function flatten(rows: RunRow[], children: Record<string, RunRow[]>, expanded: Set<string>): TableItem[] {
  const out: TableItem[] = [];
  const visit = (row: RunRow, depth: number): void => {
    out.push({ row, depth });
    if (expanded.has(row.run_id) && depth < 6) {
      for (const child of children[row.run_id] ?? []) {
        visit(child, depth + 1);
      }
    }
  };
  rows.forEach(r => visit(r, 0));
  return out;
}

/** Which items a viewport of `height` px scrolled to `scrollTop` shows. */
export function visibleRange(count: number, scrollTop: number, height: number): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(count, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  return [first, last];
}

export class RunTable {
  readonly node: HTMLDivElement;
  private head: HTMLDivElement;
  private viewport: HTMLDivElement;
  private spacer: HTMLDivElement;
  private items: TableItem[] = [];
  private columns: string[] = [];
  private order: string[] = [];
  private selected = new Set<string>();
  private expanded = new Set<string>();

  constructor(
    private doc: Document,
    private callbacks: TableCallbacks
  ) {
    this.node = el(doc, 'div', 'sf-runs-table');
    this.node.setAttribute('role', 'table');
    this.head = el(doc, 'div', 'sf-runs-head');
    this.head.setAttribute('role', 'row');
    this.viewport = el(doc, 'div', 'sf-runs-viewport');
    this.spacer = el(doc, 'div', 'sf-runs-spacer');
    this.viewport.append(this.spacer);
    this.viewport.addEventListener('scroll', () => this.paint());
    this.node.append(this.head, this.viewport);
  }

  setHeight(css: string): void {
    this.viewport.style.height = css;
  }

  update(
    items: TableItem[],
    columns: string[],
    order: string[],
    selected: Set<string>,
    expanded: Set<string>
  ): void {
    const headChanged = columns.join('\n') !== this.columns.join('\n') || order.join('\n') !== this.order.join('\n');
    this.items = items;
    this.columns = columns;
    this.order = order;
    this.selected = selected;
    this.expanded = expanded;
    if (headChanged || !this.head.firstChild) {
      this.drawHead();
    }
    this.spacer.style.height = `${items.length * ROW_HEIGHT}px`;
    this.paint();
  }

  scrollToTop(): void {
    this.viewport.scrollTop = 0;
  }

  private template(): string {
    // Dates need their full width: "2026-12-02 03:22:41" cut to "2026-12-02 …" hides what differs.
    const widths = this.columns.map(c =>
      c === 'attributes.start_time' || c === 'attributes.end_time' ? 'minmax(11.5rem, 1fr)' : 'minmax(7rem, 1fr)'
    );
    return `2rem 1.4rem minmax(14rem, 2fr) 6rem ${widths.join(' ')}`;
  }

  /** "Params", "Metrics", "Tags" over each stretch of columns of that kind (nothing over attributes). */
  private drawGroups(): HTMLElement {
    const doc = this.doc;
    const row = el(doc, 'div', 'sf-runs-groups');
    row.style.gridTemplateColumns = this.template();
    row.append(el(doc, 'span', ''), el(doc, 'span', ''), el(doc, 'span', ''), el(doc, 'span', ''));
    const names = { metric: 'Metrics', param: 'Params', tag: 'Tags', attribute: '' };
    let i = 0;
    while (i < this.columns.length) {
      const kind = columnKind(this.columns[i]);
      let j = i;
      while (j < this.columns.length && columnKind(this.columns[j]) === kind) {
        j++;
      }
      const cell = el(doc, 'span', names[kind] ? 'sf-runs-group' : '', names[kind]);
      cell.style.gridColumn = `span ${j - i}`;
      if (names[kind]) {
        cell.dataset.group = kind;
      }
      row.append(cell);
      i = j;
    }
    return row;
  }

  private drawHead(): void {
    const doc = this.doc;
    this.head.replaceChildren();
    const groups = this.drawGroups();
    const columns = el(doc, 'div', 'sf-runs-head-row');
    columns.style.gridTemplateColumns = this.template();
    this.head.append(groups, columns);
    columns.append(el(doc, 'span', 'sf-runs-th'), el(doc, 'span', 'sf-runs-th'));
    const sorts = this.order.map(parseSort);
    const header = (column: string, label: string): HTMLElement => {
      const th = el(doc, 'span', 'sf-runs-th', label);
      th.dataset.column = column;
      th.setAttribute('role', 'columnheader');
      th.title = column;
      const s = sorts.findIndex(x => x.column === column);
      if (s >= 0) {
        th.dataset.sort = sorts[s].ascending ? 'asc' : 'desc';
        th.append(el(doc, 'span', 'sf-runs-sort-mark', sorts[s].ascending ? ' ▲' : ' ▼'));
      }
      if (!sortable(column)) {
        th.classList.add('sf-unsortable');
        th.title = `${column}: computed from start and end, so not sortable (sort by start time or end time)`;
      } else {
        th.classList.add('sf-sortable');
        th.tabIndex = 0;
        const go = (add: boolean): void => this.callbacks.sort(column, add);
        th.addEventListener('click', event => go(event.shiftKey));
        th.addEventListener('keydown', event => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            go(event.shiftKey);
          }
        });
      }
      return th;
    };
    columns.append(header('attributes.run_name', 'run'), header('attributes.status', 'status'));
    for (const column of this.columns) {
      columns.append(header(column, columnLabel(column)));
    }
  }

  private paint(): void {
    const height = this.viewport.clientHeight || 400;
    const [first, last] = visibleRange(this.items.length, this.viewport.scrollTop, height);
    const doc = this.doc;
    const rows: HTMLElement[] = [];
    for (let i = first; i < last; i++) {
      rows.push(this.drawRow(doc, this.items[i], i));
    }
    this.spacer.replaceChildren(...rows);
    this.node.dataset.renderedRows = String(rows.length);
    this.node.dataset.totalRows = String(this.items.length);
  }

  private drawRow(doc: Document, item: TableItem, index: number): HTMLElement {
    const { row, depth } = item;
    const tr = el(doc, 'div', 'sf-runs-row');
    tr.setAttribute('role', 'row');
    tr.dataset.runId = row.run_id;
    tr.dataset.depth = String(depth);
    tr.style.top = `${index * ROW_HEIGHT}px`;
    tr.style.height = `${ROW_HEIGHT}px`;
    tr.style.gridTemplateColumns = this.template();
    const isSelected = this.selected.has(row.run_id);
    tr.classList.toggle('sf-selected', isSelected);

    const check = el(doc, 'input', 'sf-runs-select');
    check.type = 'checkbox';
    check.checked = isSelected;
    check.title = 'Select for comparison';
    check.addEventListener('change', () => this.callbacks.toggleSelect(row.run_id, check.checked));
    const pick = el(doc, 'span', 'sf-runs-cell');
    pick.append(check);

    const expander = el(doc, 'span', 'sf-runs-cell');
    if (row.children === null || row.children > 0) {
      const open = this.expanded.has(row.run_id);
      const button = el(doc, 'button', 'sf-runs-expand', open ? '▾' : '▸');
      button.type = 'button';
      button.title = open ? 'Hide the child runs' : 'Show the child runs';
      button.setAttribute('aria-expanded', String(open));
      button.addEventListener('click', () => this.callbacks.toggleExpand(row.run_id));
      expander.append(button);
    }

    const name = el(doc, 'span', 'sf-runs-cell sf-runs-name');
    name.style.paddingLeft = `${depth * 1.2}rem`;
    // Cut in the middle: names of one workflow differ at their end ("pipeline 20261202-0322…" three times).
    const link = el(doc, 'button', 'sf-runs-open', middleEllipsis(row.run_name || row.run_id.slice(0, 8), 34));
    link.type = 'button';
    link.title = `Open run ${row.run_id}`;
    link.addEventListener('click', () => this.callbacks.open(row.run_id));
    name.append(link);
    if (row.kind) {
      name.append(el(doc, 'span', 'sf-runs-kind', row.kind === 'run' ? row.workflow || 'workflow' : row.kind));
    }
    const status = el(doc, 'span', 'sf-runs-cell sf-runs-status', row.state || row.status.toLowerCase());
    status.dataset.status = row.status;

    tr.append(pick, expander, name, status);
    for (const column of this.columns) {
      const text = formatValue(column, row.values[column]);
      const cell = el(doc, 'span', 'sf-runs-cell', text);
      cell.dataset.column = column;
      cell.title = text;
      tr.append(cell);
    }
    return tr;
  }
}
