// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';

import { identicalGroups, lineChart, parallelCoordinates } from '../charts';
import { ExperimentPicker, pickerSummary } from '../experiments';
import { columnLabel, formatValue, middleEllipsis, nextSort } from '../format';
import { renderPreview, renderRun } from '../runview';
import { ROW_HEIGHT, RunTable, flatten, visibleRange } from '../table';
import { RunRow } from '../types';

function row(i: number, extra: Partial<RunRow> = {}): RunRow {
  return {
    run_id: `r${i}`,
    experiment_id: '1',
    run_name: `run-${i}`,
    status: 'FINISHED',
    start_time: 0,
    end_time: 1000,
    user_id: 'me',
    parent_run_id: null,
    kind: '',
    workflow: '',
    node: '',
    state: '',
    children: 0,
    values: { 'metrics.acc': i / 10 },
    ...extra
  };
}

const noop = { sort: () => undefined, toggleSelect: () => undefined, toggleExpand: () => undefined, open: () => undefined };

describe('format', () => {
  it('labels columns and cycles sorts', () => {
    expect(columnLabel('tags."scanflow.workflow"')).toBe('scanflow.workflow');
    expect(columnLabel('attributes.start_time')).toBe('start time');
    expect(nextSort([], 'metrics.acc', false)).toEqual(['metrics.acc DESC']);
    expect(nextSort(['metrics.acc DESC'], 'metrics.acc', false)).toEqual(['metrics.acc ASC']);
    expect(nextSort(['metrics.acc ASC'], 'metrics.acc', false)).toEqual([]);
    expect(nextSort(['metrics.acc DESC'], 'params.lr', true)).toEqual(['metrics.acc DESC', 'params.lr DESC']);
    expect(formatValue('attributes.duration', 75)).toBe('1 min 15 s');
    expect(formatValue('attributes.start_time', 0)).toBe('1970-01-01 00:00:00');
  });
});

describe('RunTable (issue 19)', () => {
  it('cuts long names in the middle, groups params and metrics, and does not offer to sort by duration', () => {
    // Run names of one workflow differ at their end: a cut at the end made three rows read the same.
    const names = ['a1f3', 'b2c4', 'c3d5'].map(id => `digits-app pipeline workflow 20261202-032241-${id}`);
    expect(new Set(names.map(n => middleEllipsis(n, 34))).size).toBe(3);
    expect(middleEllipsis(names[0], 34)).toBe('digits-app pi…20261202-032241-a1f3');
    expect(middleEllipsis('short', 34)).toBe('short');
    expect(middleEllipsis('abcdefghij', 5)).toBe('a…hij');
    const sorted: string[] = [];
    const table = new RunTable(document, { ...noop, sort: (c: string) => void sorted.push(c) });
    document.body.replaceChildren(table.node);
    const columns = ['attributes.start_time', 'attributes.duration', 'params.lr', 'params.depth', 'metrics.acc'];
    table.update(flatten([row(1)], {}, new Set()), columns, [], new Set(), new Set());
    const groups = [...table.node.querySelectorAll<HTMLElement>('.sf-runs-group')];
    expect(groups.map(g => [g.textContent, g.style.gridColumn])).toEqual([
      ['Params', 'span 2'],
      ['Metrics', 'span 1']
    ]);
    const duration = table.node.querySelector<HTMLElement>('.sf-runs-th[data-column="attributes.duration"]')!;
    expect(duration.classList.contains('sf-unsortable')).toBe(true);
    expect(duration.title).toContain('not sortable');
    duration.click();
    table.node.querySelector<HTMLElement>('.sf-runs-th[data-column="params.lr"]')!.click();
    expect(sorted).toEqual(['params.lr']);
  });
});

describe('RunTable', () => {
  it('renders only the rows in view', () => {
    const table = new RunTable(document, noop);
    document.body.replaceChildren(table.node);
    const rows = Array.from({ length: 1000 }, (_, i) => row(i));
    table.update(flatten(rows, {}, new Set()), ['metrics.acc'], [], new Set(), new Set());
    const rendered = Number(table.node.dataset.renderedRows);
    expect(table.node.dataset.totalRows).toBe('1000');
    expect(rendered).toBeGreaterThan(0);
    expect(rendered).toBeLessThan(60);
    expect(visibleRange(1000, 500 * ROW_HEIGHT, 10 * ROW_HEIGHT)).toEqual([494, 516]);
  });

  it('shows user text as text and children under their parent', () => {
    const table = new RunTable(document, noop);
    document.body.replaceChildren(table.node);
    const parent = row(1, { run_name: '<img src=x onerror=alert(1)>', children: 1, kind: 'run', workflow: 'main' });
    const child = row(2, { values: { 'metrics.acc': '<b>x</b>' } as never });
    table.update(flatten([parent], { r1: [child] }, new Set(['r1'])), ['metrics.acc'], [], new Set(['r2']), new Set(['r1']));
    const names = Array.from(table.node.querySelectorAll('.sf-runs-open')).map(b => b.textContent);
    expect(names).toEqual(['<img src=x onerror=alert(1)>', 'run-2']);
    expect(table.node.querySelector('img')).toBeNull();
    expect(table.node.querySelector('b')).toBeNull();
    const second = table.node.querySelector<HTMLElement>('[data-run-id="r2"]')!;
    expect(second.dataset.depth).toBe('1');
    expect(second.querySelector<HTMLInputElement>('.sf-runs-select')!.checked).toBe(true);
  });
});

describe('run view', () => {
  it('previews text, csv and images without interpreting HTML', () => {
    const box = document.createElement('div');
    renderPreview(box, { path: '<img src=x>.html', kind: 'text', text: '<script>alert(1)</script>' });
    expect(box.querySelector('script')).toBeNull();
    expect(box.querySelector('pre')!.textContent).toBe('<script>alert(1)</script>');
    expect(box.querySelector('.sf-runs-preview-path')!.textContent).toBe('<img src=x>.html');
    renderPreview(box, { path: 't.csv', kind: 'csv', rows: [['a', 'b'], ['<b>1</b>', '2']] });
    expect(box.querySelectorAll('td')[0].textContent).toBe('<b>1</b>');
    renderPreview(box, { path: 'p.png', kind: 'image', data_url: 'data:image/png;base64,AAAA' });
    expect(box.querySelector('img')!.getAttribute('src')).toBe('data:image/png;base64,AAAA');
    renderPreview(box, { path: 'p.png', kind: 'image', data_url: 'javascript:alert(1)' });
    expect(box.querySelector('img')).toBeNull();
  });

  it('says why an artifact is not previewed and how to download it', () => {
    const box = document.createElement('div');
    const message = 'big.log is too large to preview (40 MB); download it with mlflow artifacts download ...';
    renderPreview(box, { path: 'big.log', kind: 'too_large', size: 40 << 20, message });
    expect(box.querySelector('.sf-runs-too-large')!.textContent).toBe(message);
    renderPreview(box, { path: 'old.log', kind: 'too_large' });
    expect(box.querySelector('.sf-runs-too-large')!.textContent).toBe('Too large to preview here.');
  });

  it('lists params, a link only for http urls, and artifacts', () => {
    const root = document.createElement('div');
    const paths: string[] = [];
    renderRun(
      root,
      {
        run_id: 'r1', experiment_id: '1', run_name: '<i>x</i>', status: 'FINISHED', start_time: 0, end_time: 2000,
        user_id: 'me', artifact_uri: 'file:///a', params: { note: '<img src=x>' }, metrics: { acc: 0.5 },
        metrics_total: 1, tags: {}, artifacts: [{ path: 'notes.txt', is_dir: false, size: 3 }],
        mlflow_url: 'javascript:alert(1)'
      },
      { preview: p => paths.push(p), searchMetrics: () => undefined }
    );
    expect(root.querySelector('.sf-runs-run-name')!.textContent).toBe('<i>x</i>');
    expect(root.querySelector('.sf-runs-mlflow')).toBeNull();
    expect(root.querySelector('.sf-runs-run-params td')!.textContent).toBe('<img src=x>');
    root.querySelector<HTMLButtonElement>('.sf-runs-artifact')!.click();
    expect(paths).toEqual(['notes.txt']);
  });
});

describe('charts', () => {
  it('draws one line per run and survives long histories', () => {
    const steps = Array.from({ length: 200000 }, (_, i) => i);
    const svg = lineChart(document, 'loss', [
      { label: 'a', steps, values: steps.map(s => Math.sin(s)) },
      { label: 'b', steps: [0, 1], values: [1, 2] }
    ]);
    expect(svg.querySelectorAll('polyline').length).toBe(2);
    const par = parallelCoordinates(document, ['params.lr', 'metrics.acc'], [
      { label: 'a', values: [0.1, 0.9] },
      { label: 'b', values: [null, 0.8] }
    ]);
    expect(par.querySelectorAll('polyline').length).toBe(1);
    expect(par.querySelectorAll('.sf-runs-axis-label')[0].textContent).toBe('params.lr');
  });
});

describe('charts (issue 19)', () => {
  it('draws a metric logged once per run as labelled bars, not dots on an axis reading the same step twice', () => {
    const svg = lineChart(document, 'accuracy', [
      { label: 'run a', steps: [0], values: [0.91] },
      { label: 'run b', steps: [0], values: [0.87] }
    ]);
    expect(svg.dataset.kind).toBe('bars');
    expect(svg.querySelectorAll('rect.sf-runs-bar').length).toBe(2);
    expect([...svg.querySelectorAll('.sf-runs-bar-value')].map(t => t.textContent)).toEqual(['0.91', '0.87']);
    expect([...svg.querySelectorAll('.sf-runs-bar-label')].map(t => t.textContent)).toEqual(['run a', 'run b']);
    expect(svg.querySelector('circle')).toBeNull();
    expect(svg.querySelector('.sf-runs-chart-title')?.textContent).toBe('accuracy (one value per run, step 0)');
  });

  it('tells equal curves apart: each its own dash, and a note on the chart', () => {
    const same = { steps: [0, 1, 2], values: [1, 0.5, 0.25] };
    const series = ['a', 'b', 'c', 'd'].map(label => ({ label, ...same }));
    expect(identicalGroups(series)).toEqual([[0, 1, 2, 3]]);
    const svg = lineChart(document, 'loss', series);
    const dashes = [...svg.querySelectorAll('polyline')].map(p => p.getAttribute('stroke-dasharray'));
    expect(new Set(dashes).size).toBe(4);
    expect(svg.querySelector('.sf-runs-chart-same')?.textContent).toBe('4 runs have the same history (drawn over each other)');
    // A flat metric: one tick, not the same value at both ends of the axis.
    const flat = lineChart(document, 'x', [{ label: 'a', steps: [0, 1], values: [0.1695, 0.1695] }, { label: 'b', steps: [0, 1], values: [0.1695, 0.1695] }]);
    expect([...flat.querySelectorAll('.sf-runs-tick')].filter(t => t.textContent === '0.1695').length).toBe(1);
    const different = lineChart(document, 'y', [{ label: 'a', steps: [0, 1], values: [1, 2] }, { label: 'b', steps: [0, 1], values: [2, 1] }]);
    expect(different.querySelector('.sf-runs-chart-same')).toBeNull();
  });

  it('draws a categorical param axis with its categories, and a flat axis once', () => {
    const par = parallelCoordinates(
      document,
      ['params.model', 'metrics.loss'],
      [
        { label: 'a', values: [0, 0.1695] },
        { label: 'b', values: [1, 0.1695] }
      ],
      640,
      260,
      { 'params.model': ['linear', 'tree'] }
    );
    expect([...par.querySelectorAll('.sf-runs-category')].map(t => t.textContent)).toEqual(['linear', 'tree']);
    const ticks = [...par.querySelectorAll('.sf-runs-tick')].map(t => t.textContent);
    expect(ticks).toContain('all 0.1695');
    expect(par.querySelectorAll('polyline').length).toBe(2);
  });
});

describe('experiment picker (issue 19)', () => {
  const experiments = Array.from({ length: 12 }, (_, i) => ({ id: String(i), name: `exp-${i}`, runs: i }));

  it('names the experiment shown, lists them all with their runs, and finds one by name', () => {
    const chosen: string[][] = [];
    const picker = new ExperimentPicker(document, ids => chosen.push(ids));
    document.body.replaceChildren(picker.node);
    picker.update(experiments, ['3']);
    expect(picker.node.querySelector('summary')?.textContent).toBe('Experiment: exp-3 (3 runs)');
    const items = picker.node.querySelectorAll<HTMLElement>('.sf-runs-experiment');
    expect(items.length).toBe(12); // every experiment, not two rows of a listbox
    expect([...picker.node.querySelectorAll('.sf-chosen')].map(e => (e as HTMLElement).dataset.id)).toEqual(['3']);
    expect(picker.node.querySelector('.sf-chosen')?.getAttribute('aria-selected')).toBe('true');
    const search = picker.node.querySelector<HTMLInputElement>('.sf-runs-experiments-search')!;
    search.value = 'exp-1';
    search.dispatchEvent(new Event('input'));
    expect([...picker.node.querySelectorAll('.sf-runs-experiment-name')].map(e => e.textContent)).toEqual(['exp-1', 'exp-10', 'exp-11']);
    const box = picker.node.querySelector<HTMLInputElement>('.sf-runs-experiment[data-id="10"] input')!;
    box.checked = true;
    box.dispatchEvent(new Event('change'));
    picker.node.querySelector<HTMLButtonElement>('.sf-runs-experiment[data-id="11"] .sf-runs-experiment-only')!.click();
    expect(chosen).toEqual([['3', '10'], ['11']]);
    expect(pickerSummary(experiments, ['1', '2'])).toBe('Experiments: exp-1, exp-2');
    expect(pickerSummary(experiments, ['1', '2', '5'])).toBe('Experiments: 3 of 12');
    expect(pickerSummary(experiments, [])).toBe('Experiment: none chosen');
  });

  it('shows names as text', () => {
    const picker = new ExperimentPicker(document, () => undefined);
    picker.update([{ id: '1', name: '<img src=x onerror=alert(1)>', runs: null }], ['1']);
    expect(picker.node.querySelector('img')).toBeNull();
    expect(picker.node.querySelector('.sf-runs-experiment-name')?.textContent).toBe('<img src=x onerror=alert(1)>');
  });
});
