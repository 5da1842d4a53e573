/** One run: info, params, metrics (searchable), tags, artifacts with previews. All text, never HTML. */
import { el } from '../dom';
import { formatDate, formatNumber } from './format';
import { Preview, RunDetail } from './types';

export interface RunCallbacks {
  preview(path: string): void;
  searchMetrics(text: string): void;
}

function kv(doc: Document, className: string, entries: Array<[string, string]>): HTMLTableElement {
  const table = el(doc, 'table', `sf-runs-kv ${className}`);
  for (const [k, v] of entries) {
    const tr = el(doc, 'tr');
    tr.dataset.key = k;
    tr.append(el(doc, 'th', '', k), el(doc, 'td', '', v));
    table.append(tr);
  }
  return table;
}

export function renderPreview(root: HTMLElement, preview: Preview | null): void {
  const doc = root.ownerDocument;
  root.replaceChildren();
  if (!preview || !preview.path) {
    root.append(el(doc, 'p', 'sf-runs-note', 'Pick an artifact to preview it.'));
    return;
  }
  root.dataset.kind = preview.kind;
  root.append(el(doc, 'div', 'sf-runs-preview-path', preview.path));
  if (preview.kind === 'text') {
    root.append(el(doc, 'pre', 'sf-runs-preview-text', preview.text ?? ''));
  } else if (preview.kind === 'csv') {
    const table = el(doc, 'table', 'sf-runs-preview-csv');
    (preview.rows ?? []).forEach((row, i) => {
      const tr = el(doc, 'tr');
      row.forEach(cell => tr.append(el(doc, i === 0 ? 'th' : 'td', '', cell)));
      table.append(tr);
    });
    root.append(table);
  } else if (preview.kind === 'image' && preview.data_url?.startsWith('data:image/')) {
    const img = el(doc, 'img', 'sf-runs-preview-image');
    img.src = preview.data_url;
    img.alt = preview.path;
    root.append(img);
  } else if (preview.kind === 'too_large') {
    root.append(el(doc, 'p', 'sf-runs-note sf-runs-too-large', preview.message || 'Too large to preview here.'));
  } else if (preview.kind !== 'dir') {
    root.append(el(doc, 'p', 'sf-runs-note', 'No preview for this kind of file.'));
  }
  if (preview.truncated) {
    root.append(el(doc, 'p', 'sf-runs-note', 'Only the beginning is shown.'));
  }
}

export function renderArtifacts(list: HTMLElement, artifacts: RunDetail['artifacts'], callbacks: RunCallbacks): void {
  const doc = list.ownerDocument;
  list.replaceChildren();
  if (!artifacts.length) {
    list.append(el(doc, 'li', 'sf-runs-note', 'No artifacts.'));
  }
  for (const a of artifacts) {
    const li = el(doc, 'li');
    const button = el(doc, 'button', 'sf-runs-artifact', a.is_dir ? `${a.path}/` : a.path);
    button.type = 'button';
    button.dataset.path = a.path;
    button.addEventListener('click', () => callbacks.preview(a.path));
    li.append(button);
    if (a.size !== null && !a.is_dir) {
      li.append(el(doc, 'span', 'sf-runs-size', `${a.size} B`));
    }
    list.append(li);
  }
}

export function renderRun(root: HTMLElement, run: RunDetail, callbacks: RunCallbacks): HTMLElement {
  const doc = root.ownerDocument;
  root.replaceChildren();
  const head = el(doc, 'div', 'sf-runs-run-head');
  head.append(el(doc, 'h3', 'sf-runs-run-name', run.run_name || run.run_id));
  head.append(el(doc, 'code', 'sf-runs-run-id', run.run_id));
  if (/^https?:\/\//.test(run.mlflow_url)) {
    const a = el(doc, 'a', 'sf-runs-mlflow', 'Open in the MLflow UI');
    a.href = run.mlflow_url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    head.append(a);
  }
  root.append(head);
  const duration = run.start_time && run.end_time ? `${((run.end_time - run.start_time) / 1000).toFixed(2)} s` : '';
  root.append(
    kv(doc, 'sf-runs-run-info', [
      ['status', run.status],
      ['started', formatDate(run.start_time)],
      ['duration', duration],
      ['user', run.user_id],
      ['artifacts', run.artifact_uri]
    ])
  );
  const graph = el(doc, 'div', 'sf-runs-graph');
  root.append(graph);
  const columns = el(doc, 'div', 'sf-runs-run-columns');
  const left = el(doc, 'div', 'sf-runs-run-col');
  left.append(el(doc, 'h4', '', 'Params'), kv(doc, 'sf-runs-run-params', Object.entries(run.params)));
  const metricsHead = el(doc, 'h4', '', `Metrics (${run.metrics_total})`);
  const search = el(doc, 'input', 'sf-runs-metric-search');
  search.placeholder = 'find a metric…';
  search.value = run.metrics_search ?? '';
  search.addEventListener('keydown', event => {
    if (event.key === 'Enter') {
      callbacks.searchMetrics(search.value);
    }
  });
  const metrics = Object.entries(run.metrics).map(([k, v]): [string, string] => [k, typeof v === 'number' ? formatNumber(v) : v]);
  left.append(metricsHead);
  if (run.metrics_total > 20) {
    left.append(search);
  }
  left.append(kv(doc, 'sf-runs-run-metrics', metrics));
  if (run.metrics_total > metrics.length && !run.metrics_search) {
    left.append(el(doc, 'p', 'sf-runs-note', `Showing ${metrics.length} of ${run.metrics_total}; search to find others.`));
  }
  left.append(el(doc, 'h4', '', 'Tags'), kv(doc, 'sf-runs-run-tags', Object.entries(run.tags)));
  const right = el(doc, 'div', 'sf-runs-run-col');
  const list = el(doc, 'ul', 'sf-runs-artifacts');
  renderArtifacts(list, run.artifacts, callbacks);
  const preview = el(doc, 'div', 'sf-runs-preview');
  right.append(el(doc, 'h4', '', 'Artifacts'), list, preview);
  columns.append(left, right);
  root.append(columns);
  return graph;
}
