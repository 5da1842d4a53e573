/** The comparison of selected runs: params side by side (differences marked), metrics, charts. */
import { PALETTE, lineChart, parallelCoordinates } from './charts';
import { el } from '../dom';
import { formatNumber } from './format';
import { Comparison, KeyRow, Value } from './types';

export interface CompareCallbacks {
  charts(keys: string[], full: boolean): void;
  open(runId: string): void;
  /** Compare the step runs of the workflow runs compared (they carry the params and metrics). */
  compareSteps(): void;
}

function valueText(v: Value): string {
  if (v === null || v === undefined) {
    return '—';
  }
  return typeof v === 'number' ? formatNumber(v) : String(v);
}

function keyTable(doc: Document, className: string, data: Comparison, rows: KeyRow[], total: number, onlyDiff: boolean): HTMLElement {
  const wrap = el(doc, 'div', 'sf-runs-compare-block');
  const table = el(doc, 'table', className);
  const head = el(doc, 'tr');
  head.append(el(doc, 'th', '', 'key'));
  data.runs.forEach((r, i) => {
    const th = el(doc, 'th', 'sf-runs-compare-run', r.run_name);
    th.style.borderTopColor = PALETTE[i % PALETTE.length];
    th.title = r.run_id;
    head.append(th);
  });
  table.append(head);
  for (const row of rows) {
    if (onlyDiff && !row.differs) {
      continue;
    }
    const tr = el(doc, 'tr', row.differs ? 'sf-differs' : '');
    tr.dataset.key = row.key;
    tr.append(el(doc, 'th', 'sf-runs-compare-key', row.key));
    row.values.forEach(v => tr.append(el(doc, 'td', '', valueText(v))));
    table.append(tr);
  }
  wrap.append(table);
  if (total > rows.length) {
    wrap.append(el(doc, 'p', 'sf-runs-note', `Showing ${rows.length} of ${total} keys.`));
  }
  return wrap;
}

export function renderCompare(root: HTMLElement, data: Comparison, callbacks: CompareCallbacks, onlyDiff: boolean): void {
  const doc = root.ownerDocument;
  root.replaceChildren();
  if (!data.runs || !data.runs.length) {
    root.append(el(doc, 'p', 'sf-runs-note', 'Select runs and press Compare.'));
    return;
  }
  const legend = el(doc, 'div', 'sf-runs-legend');
  data.runs.forEach((r, i) => {
    const item = el(doc, 'button', 'sf-runs-legend-item', r.run_name);
    item.type = 'button';
    item.style.borderLeftColor = PALETTE[i % PALETTE.length];
    item.title = `Open run ${r.run_id}`;
    item.addEventListener('click', () => callbacks.open(r.run_id));
    legend.append(item);
  });
  root.append(legend);
  if (data.empty_note) {
    const note = el(doc, 'div', 'sf-runs-empty-note');
    note.setAttribute('role', 'status');
    note.append(el(doc, 'span', '', data.empty_note));
    if (data.step_runs?.length) {
      const steps = el(doc, 'button', 'sf-runs-button sf-runs-compare-steps', `Compare the ${data.step_runs.length} step runs`);
      steps.type = 'button';
      steps.addEventListener('click', () => callbacks.compareSteps());
      note.append(' ', steps);
    }
    root.append(note);
  }

  root.append(el(doc, 'h4', '', 'Params'), keyTable(doc, 'sf-runs-compare-params', data, data.params, data.params_total, onlyDiff));
  root.append(el(doc, 'h4', '', 'Metrics'), keyTable(doc, 'sf-runs-compare-metrics', data, data.metrics, data.metrics_total, onlyDiff));

  const charts = el(doc, 'div', 'sf-runs-charts');
  const picker = el(doc, 'div', 'sf-runs-chart-picker');
  const choose = el(doc, 'select', 'sf-runs-chart-keys');
  choose.multiple = true;
  choose.size = 4;
  for (const m of data.metrics) {
    const option = el(doc, 'option', '', m.key);
    option.value = m.key;
    option.selected = data.chart_keys.includes(m.key);
    choose.append(option);
  }
  const draw = el(doc, 'button', 'sf-runs-button sf-runs-chart-draw', 'Chart');
  draw.type = 'button';
  draw.addEventListener('click', () =>
    callbacks.charts(Array.from(choose.selectedOptions).map(o => o.value).slice(0, 8), false)
  );
  const full = el(doc, 'button', 'sf-runs-button sf-runs-chart-full', 'Full resolution');
  full.type = 'button';
  full.disabled = data.full;
  full.addEventListener('click', () => callbacks.charts(data.chart_keys, true));
  picker.append(el(doc, 'span', '', 'Metric histories:'), choose, draw, full);
  root.append(el(doc, 'h4', '', 'Charts'), picker);
  if (data.chart_note) {
    root.append(el(doc, 'p', 'sf-runs-note sf-runs-chart-note', data.chart_note));
  }
  const names = new Map(data.runs.map(r => [r.run_id, r.run_name]));
  for (const key of data.chart_keys) {
    const histories = data.histories[key] ?? [];
    const series = histories.map(h => ({
      label: `${names.get(h.run_id) ?? h.run_id}${h.downsampled ? ` (${h.steps.length} of ${h.total} points)` : ''}`,
      steps: h.steps,
      values: h.values.map(v => (typeof v === 'number' ? v : Number(v)))
    }));
    charts.append(lineChart(doc, key, series));
  }
  root.append(charts);
  const parallel = data.parallel ?? { axes: [], runs: [] };
  if (parallel.axes.length || parallel.note) {
    root.append(el(doc, 'h4', '', 'Parallel coordinates'));
  }
  if (parallel.note) {
    root.append(el(doc, 'p', 'sf-runs-note sf-runs-parallel-note', parallel.note));
  }
  if (parallel.axes.length === 1) {
    root.append(
      el(doc, 'p', 'sf-runs-note sf-runs-parallel-note', `Only ${parallel.axes[0]} differs between these runs: see the table above.`)
    );
  } else if (parallel.axes.length > 1) {
    root.append(
      parallelCoordinates(
        doc,
        parallel.axes,
        parallel.runs.map(r => ({ label: names.get(r.run_id) ?? r.run_id, values: r.values })),
        640,
        260,
        parallel.categories ?? {}
      )
    );
  }
}
