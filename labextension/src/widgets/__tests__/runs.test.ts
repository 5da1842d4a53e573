// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';

import { RunBrowserModel, RunBrowserView } from '../runs';
import { MockComm, modelOptions, query } from './harness';

function make(state: { [key: string]: unknown } = {}): { view: RunBrowserView; comm: MockComm } {
  const comm = new MockComm();
  const model = new RunBrowserModel(
    {
      experiments: [{ id: '1', name: 'exp', runs: 2 }],
      experiment_ids: ['1'],
      columns: ['metrics.acc'],
      rows: [
        { run_id: 'a', run_name: 'A', status: 'FINISHED', children: 0, values: { 'metrics.acc': 0.5 } },
        { run_id: 'b', run_name: 'B', status: 'FAILED', children: 0, values: {} }
      ],
      page: { index: 0, size: 2, has_prev: false, has_next: true, total: 9, backend: 'sql' },
      ...state
    },
    modelOptions('runs-1', comm)
  );
  const view = new RunBrowserView({ model } as never);
  view.render();
  document.body.replaceChildren(view.el);
  return { view, comm };
}

describe('RunBrowserView', () => {
  it('sends the filter, the sort, paging and the selection', async () => {
    const { view, comm } = make();
    const input = query<HTMLInputElement>(view.el, '.sf-runs-filter');
    input.value = "params.m = 'x' OR metrics.acc > 1";
    query<HTMLButtonElement>(view.el, '.sf-runs-apply').click();
    query<HTMLElement>(view.el, '.sf-runs-th[data-column="metrics.acc"]').click();
    query<HTMLButtonElement>(view.el, '.sf-runs-next').click();
    expect(query<HTMLButtonElement>(view.el, '.sf-runs-prev').disabled).toBe(true);
    for (const id of ['a', 'b']) {
      const box = query<HTMLInputElement>(view.el, `[data-run-id="${id}"] .sf-runs-select`);
      box.checked = true;
      box.dispatchEvent(new Event('change'));
    }
    expect(query<HTMLButtonElement>(view.el, '.sf-runs-compare').disabled).toBe(false);
    query<HTMLButtonElement>(view.el, '.sf-runs-compare').click();
    await new Promise(resolve => setTimeout(resolve, 10)); // buffered updates go out when the kernel is idle
    const updates = comm.updates();
    expect(updates.some(u => u.filter === "params.m = 'x' OR metrics.acc > 1")).toBe(true);
    expect(updates.some(u => JSON.stringify(u.order_by) === '["metrics.acc DESC"]')).toBe(true);
    expect(updates.some(u => JSON.stringify(u.selected) === '["a","b"]')).toBe(true);
    expect(comm.custom()).toEqual([{ event: 'next' }, { event: 'compare' }]);
  });

  it('shows an error as text and switches views', () => {
    const { view } = make({ error: '<b>Invalid filter</b>', mode: 'run', run: { run_id: 'a', run_name: 'A', params: {}, metrics: {}, metrics_total: 0, tags: {}, artifacts: [], mlflow_url: '', status: 'FINISHED', start_time: null, end_time: null, user_id: '', experiment_id: '1', artifact_uri: '' } });
    expect(query(view.el, '.sf-runs-error-text').textContent).toBe('<b>Invalid filter</b>');
    expect(view.el.querySelector('.sf-runs-error b')).toBeNull();
    expect(query<HTMLElement>(view.el, '.sf-runs-run-view').hidden).toBe(false);
    expect(query<HTMLElement>(view.el, '.sf-runs-table-panel').hidden).toBe(true);
  });

  it('keeps the typed filter when the tree box is toggled, and opens child runs that matched (issue 19)', async () => {
    const { view, comm } = make();
    const input = query<HTMLInputElement>(view.el, '.sf-runs-filter');
    input.value = 'metrics.train_accuracy > 0.8'; // typed, not applied
    const tree = query<HTMLInputElement>(view.el, '.sf-runs-tree input');
    tree.checked = false;
    tree.dispatchEvent(new Event('change'));
    expect(input.value).toBe('metrics.train_accuracy > 0.8');
    await new Promise(resolve => setTimeout(resolve, 10));
    expect(comm.updates().some(u => u.filter === 'metrics.train_accuracy > 0.8' && u.tree === false)).toBe(true);

    const parent = { run_id: 'p', run_name: 'pipeline', status: 'FINISHED', children: 2, values: {} };
    const step = { run_id: 's', run_name: 'train', status: 'FINISHED', children: 0, values: { 'metrics.acc': 0.9 } };
    const opened = make({ rows: [parent], children: { p: [step] } }).view;
    expect([...opened.el.querySelectorAll<HTMLElement>('.sf-runs-row')].map(r => r.dataset.runId)).toEqual(['p', 's']);
  });

  it('explains a comparison of workflow runs with nothing logged and offers their step runs (issue 19)', () => {
    const { view, comm } = make({
      mode: 'compare',
      compare_data: {
        runs: [{ run_id: 'a', run_name: 'A' }, { run_id: 'b', run_name: 'B' }],
        empty_note: 'These runs logged no params and no metrics: they are workflow runs.',
        step_runs: ['s1', 's2', 's3'],
        params: [], params_total: 0, metrics: [], metrics_total: 0, chart_keys: [], histories: {}, full: false,
        parallel: { axes: [], runs: [] }
      }
    });
    expect(query(view.el, '.sf-runs-empty-note').textContent).toContain('they are workflow runs');
    query<HTMLButtonElement>(view.el, '.sf-runs-compare-steps').click();
    expect(comm.custom()).toEqual([{ event: 'compare_steps' }]);
  });
});
