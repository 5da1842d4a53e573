// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';

import { DeployPanelModel, DeployPanelView } from '../deploy';
import { MockComm, modelOptions, query } from './harness';

function makeView(state: { [key: string]: unknown } = {}): { view: DeployPanelView; model: DeployPanelModel; comm: MockComm } {
  const comm = new MockComm();
  const model = new DeployPanelModel({ app: 'tabular', ...state }, modelOptions('deploy-1', comm));
  const view = new DeployPanelView({ model } as never);
  view.render();
  document.body.replaceChildren(view.el);
  return { view, model, comm };
}

describe('DeployPanelView', () => {
  it('sends the action of the button clicked', () => {
    const { view, comm } = makeView();
    expect(query(view.el, '.sf-deploy-title').textContent).toBe('tabular on docker');
    query<HTMLButtonElement>(view.el, 'button[data-action="run"]').click();
    query<HTMLButtonElement>(view.el, 'button[data-action="cleanup"]').click();
    expect(comm.custom()).toEqual([{ action: 'run' }, { action: 'cleanup' }]);
  });

  it('follows a run: progress, step states, live logs as text, buttons off while busy', () => {
    const { view, model } = makeView();
    model.set({
      phase: 'running',
      action: 'run',
      done: 1,
      total: 5,
      nodes: { gather: 'succeeded', preprocess: 'running' },
      logs: [{ node: 'gather', stream: 'stdout', line: '<b>500 rows</b>' }]
    });
    const bar = query<HTMLProgressElement>(view.el, '.sf-deploy-progress');
    expect([bar.value, bar.max, bar.hidden]).toEqual([1, 5, false]);
    expect(Array.from(view.el.querySelectorAll('.sf-deploy-node')).map(n => n.textContent)).toEqual([
      'gather: succeeded',
      'preprocess: running'
    ]);
    const log = query(view.el, '.sf-deploy-log');
    expect(log.textContent).toBe('[gather] <b>500 rows</b>');
    expect(log.querySelector('b')).toBeNull();
    expect(query<HTMLButtonElement>(view.el, 'button[data-action="stop"]').disabled).toBe(true);

    model.set({ phase: 'failed', error: "Step 'evaluate' exited with code 1" });
    const error = query<HTMLElement>(view.el, '.sf-deploy-error');
    expect([error.hidden, error.textContent]).toEqual([false, "Step 'evaluate' exited with code 1"]);
    expect(query<HTMLButtonElement>(view.el, 'button[data-action="stop"]').disabled).toBe(false);
  });

  it('lists images being built before any step runs', () => {
    const { view } = makeView({ images: { gather: { image: 'scanflow/tabular-gather:abc', status: 'built' } } });
    expect(query(view.el, '.sf-deploy-image').textContent).toBe('gather: scanflow/tabular-gather:abc (built)');
    expect(query<HTMLElement>(view.el, '.sf-deploy-log').hidden).toBe(true);
  });
});
