// @vitest-environment jsdom
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { STATE_COLOURS } from '../../graph/dot';
import { LayoutEngine, loadGraphviz } from '../../graph/render';
import { protocolExample, threeLevels } from '../../graph/__tests__/fixtures';
import { GraphModel, GraphView } from '../graph';
import { MockComm, modelOptions, query } from './harness';
import baseCss from '../../../style/base.css?raw';

// Counts layouts; delegates to the real WebAssembly Graphviz.
let real: LayoutEngine;
const layouts = { count: 0 };
const countingEngine: LayoutEngine = {
  dot: (source: string) => {
    layouts.count += 1;
    return real.dot(source, 'svg');
  }
};

beforeAll(async () => {
  real = await loadGraphviz();
  GraphView.engine = countingEngine;
});

let comm: MockComm;
let model: GraphModel;
let view: GraphView;

async function makeView(state: { [key: string]: unknown } = {}): Promise<GraphView> {
  comm = new MockComm();
  model = new GraphModel(
    { spec: protocolExample(), ...state },
    modelOptions('graph-1', comm)
  );
  view = new GraphView({ model } as never);
  view.render();
  document.body.replaceChildren(view.el);
  await view.whenDrawn();
  return view;
}

function q<T extends Element = Element>(selector: string): T {
  return query<T>(view.el, selector);
}

function click(el: Element): void {
  el.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true }));
}

async function settle(): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, 0));
}

beforeEach(() => {
  layouts.count = 0;
});
afterEach(() => {
  view?.remove();
});

describe('GraphModel', () => {
  it('has the defaults of PROTOCOL.md', async () => {
    const { MODULE_NAME, MODULE_VERSION } = await import('../../version');
    expect(MODULE_NAME).toBe('scanflow-jupyter');
    const fresh = new GraphModel({}, { model_id: 'm', widget_manager: {} as never });
    expect(fresh.attributes).toMatchObject({
      _model_name: 'GraphModel',
      _view_name: 'GraphView',
      _model_module: MODULE_NAME,
      _view_module: MODULE_NAME,
      _model_module_version: MODULE_VERSION,
      _view_module_version: MODULE_VERSION,
      spec: {},
      states: {},
      info: {},
      collapsed: [],
      selected: '',
      run_status: '',
      message: '',
      height: '420px'
    });
  });
});

describe('GraphView', () => {
  it('builds the toolbar, canvas and details of PROTOCOL.md', async () => {
    await makeView({ height: '300px' });
    expect(view.el.classList.contains('sf-graph')).toBe(true);
    expect(q('button.sf-graph-run').textContent).toBe('Run');
    expect(q('button.sf-graph-cancel').textContent).toBe('Cancel');
    expect(q('.sf-graph-status')).toBeDefined();
    expect(q<HTMLElement>('.sf-graph-canvas').style.maxHeight).toBe('300px');
    expect(q('.sf-graph-canvas svg g.node[id="sf/gather"]').getAttribute('data-state')).toBe('pending');
    expect(q('.sf-graph-canvas g.cluster[id="cluster/modeling"]')).toBeDefined();
    expect(q('.sf-graph-title').textContent).toBe('tabular / pipeline');
    expect(q('.sf-graph-details').textContent).toContain('Click a step');
  });

  it('keys its colours with a legend of every state (issue 19)', async () => {
    await makeView();
    const items = [...view.el.querySelectorAll<HTMLElement>('.sf-graph-legend .sf-legend-item')];
    expect(items.map(i => i.textContent)).toEqual([
      'pending',
      'queued',
      'running',
      'succeeded',
      'failed',
      'skipped',
      'cached',
      'cancelled'
    ]);
    expect(items[6].querySelector<HTMLElement>('.sf-legend-swatch')!.style.background).not.toBe(
      items[3].querySelector<HTMLElement>('.sf-legend-swatch')!.style.background
    );
  });

  it('takes the height trait as a most, so a small graph leaves no empty room', async () => {
    await makeView({ height: '300px' });
    const canvas = q<HTMLElement>('.sf-graph-canvas');
    expect([canvas.style.maxHeight, canvas.style.height]).toEqual(['300px', '']);
    model.set('height', '600px');
    expect([canvas.style.maxHeight, canvas.style.height]).toEqual(['600px', '']);
    // Fitted, the drawing is scaled into a box of that height; unfitted, it takes its own height again.
    click(q('button.sf-graph-fit'));
    expect(canvas.classList.contains('sf-fit')).toBe(true);
    expect([canvas.style.maxHeight, canvas.style.height]).toEqual(['600px', '600px']);
    click(q('button.sf-graph-fit'));
    expect([canvas.style.maxHeight, canvas.style.height]).toEqual(['600px', '']);
  });

  it('keeps the title row and the title whole beside a long message', async () => {
    const style = document.createElement('style');
    style.textContent = baseCss;
    document.head.appendChild(style);
    try {
      await makeView({ message: 'x'.repeat(500) });
      expect(getComputedStyle(q('.sf-graph-toolbar')).flexShrink).toBe('0');
      expect(getComputedStyle(q('.sf-graph-title')).flexShrink).toBe('0');
      expect(getComputedStyle(q('.sf-graph-status')).minWidth).toBe('0');
    } finally {
      style.remove();
    }
  });

  it('says when there is nothing to draw', async () => {
    await makeView({ spec: {} });
    expect(q('.sf-graph-canvas').textContent).toBe('No workflow to draw.');
  });

  it('sends run and cancel as custom messages', async () => {
    await makeView({ run_status: 'running' });
    click(q('button.sf-graph-cancel'));
    model.set('run_status', 'failed');
    click(q('button.sf-graph-run'));
    expect(comm.custom()).toEqual([{ event: 'cancel' }, { event: 'run' }]);
  });

  it('shows run status and message as text, and enables the buttons that apply', async () => {
    await makeView();
    const run = q<HTMLButtonElement>('button.sf-graph-run');
    const cancel = q<HTMLButtonElement>('button.sf-graph-cancel');
    expect([run.disabled, cancel.disabled]).toEqual([false, true]);
    model.set({ run_status: 'running', message: 'run <b>20261123-1</b>' });
    const status = q('.sf-graph-status');
    expect(status.getAttribute('data-status')).toBe('running');
    expect(status.querySelector('.sf-graph-run-status')?.textContent).toBe('running');
    expect(status.textContent).toContain('run <b>20261123-1</b>');
    expect(status.querySelector('b')).toBeNull();
    expect([run.disabled, cancel.disabled]).toEqual([true, false]);
  });

  it('selects a step on click and shows its details as text', async () => {
    await makeView({
      info: {
        'modeling/linear': {
          params: { alpha: 1 },
          state: 'failed',
          duration: 3,
          log_tail: '<img src=x onerror=alert(1)>',
          mlflow_run_id: 'r1',
          mlflow_url: 'javascript:alert(1)',
          error: 'boom'
        }
      },
      states: { 'modeling/linear': 'failed' }
    });
    click(q('g.node[id="sf/modeling/linear"] text'));
    expect(model.get('selected')).toBe('modeling/linear');
    expect(comm.updates()).toEqual([{ selected: 'modeling/linear' }]);
    const details = q('.sf-graph-details');
    expect(details.querySelector('.sf-graph-details-address')?.textContent).toBe('modeling/linear');
    expect(details.querySelector('.sf-graph-details-state')?.textContent).toBe('failed');
    expect(details.querySelector('pre.sf-graph-log')?.textContent).toBe('<img src=x onerror=alert(1)>');
    expect(details.querySelector('img')).toBeNull();
    expect(details.querySelector('a')).toBeNull();
    expect(q('g.node.sf-selected').id).toBe('sf/modeling/linear');
  });

  it('follows selection and info set from Python', async () => {
    await makeView();
    model.set('selected', 'gather');
    expect(q('.sf-graph-details-address').textContent).toBe('gather');
    model.set('info', { gather: { duration: 61, mlflow_run_id: 'r9', mlflow_url: 'http://127.0.0.1:5000/#/r9' } });
    expect(q('.sf-graph-duration').textContent).toBe('1 min 01 s');
    expect(q('a.sf-graph-mlflow').getAttribute('href')).toBe('http://127.0.0.1:5000/#/r9');
    click(q('button.sf-graph-details-close'));
    expect(model.get('selected')).toBe('');
  });

  it('outlines a checker step that found drift on the canvas, and keys the outline (issue 19)', async () => {
    await makeView({ states: { gather: 'succeeded', evaluate: 'succeeded' } });
    expect(view.el.querySelectorAll('g.node.sf-graph-drift')).toHaveLength(0);
    model.set('info', { gather: { verdict: 'DRIFT: p = 0.002' }, evaluate: { verdict: 'NO DRIFT: p = 0.41' } });
    const marked = [...view.el.querySelectorAll('g.node.sf-graph-drift')];
    expect(marked.map(g => g.getAttribute('data-address'))).toEqual(['gather']);
    expect(marked[0].getAttribute('data-state')).toBe('succeeded'); // still its state's colour
    expect(marked[0].querySelector('title')?.textContent).toBe('gather (succeeded · drift found)');
    expect(q('.sf-graph-legend .sf-legend-drift').textContent).toBe('drift found');
    model.set('info', { gather: { verdict: 'NO DRIFT: p = 0.5' } });
    expect(view.el.querySelectorAll('g.node.sf-graph-drift')).toHaveLength(0);
  });

  it('patches states in place, without a new layout', async () => {
    await makeView();
    const svg = q('.sf-graph-canvas svg');
    const count = layouts.count;
    model.set('states', { gather: 'running', 'modeling/linear': 'succeeded' });
    await view.whenDrawn();
    expect(layouts.count).toBe(count);
    expect(q('.sf-graph-canvas svg')).toBe(svg);
    const gather = q('g.node[id="sf/gather"]');
    expect(gather.getAttribute('data-state')).toBe('running');
    expect(gather.querySelector('path')?.getAttribute('fill')).toBe(STATE_COLOURS.running);
  });

  it('toggles a group from its cluster label and from the collapsed node', async () => {
    await makeView({ states: { 'modeling/linear': 'failed' } });
    click(q('g.cluster[id="cluster/modeling"] > text'));
    expect(model.get('collapsed')).toEqual(['modeling']);
    expect(comm.updates()).toEqual([{ collapsed: ['modeling'] }]);
    await view.whenDrawn();
    const node = q('g.node[id="sf/modeling"]');
    expect(node.getAttribute('data-collapsed')).toBe('true');
    expect(node.getAttribute('data-state')).toBe('failed');
    expect(view.el.querySelector('g.cluster')).toBeNull();
    click(q('g.node[id="sf/modeling"] text'));
    expect(model.get('collapsed')).toEqual([]);
    await view.whenDrawn();
    expect(q('g.cluster[id="cluster/modeling"]')).toBeDefined();
    await settle();
    expect(comm.updates()).toEqual([{ collapsed: ['modeling'] }, { collapsed: [] }]);
  });

  it('collapses at the third level from Python and lays out again on a new spec', async () => {
    await makeView();
    model.set({ spec: threeLevels(), collapsed: ['outer/mid/inner'] });
    await view.whenDrawn();
    expect(q('g.node[id="sf/outer/mid/inner"]').getAttribute('data-collapsed')).toBe('true');
    expect(q('g.cluster[id="cluster/outer/mid"]')).toBeDefined();
    expect(q('.sf-graph-title').textContent).toBe('deep / main');
  });

  it('draws only the newest of overlapping layouts, with the newest states', async () => {
    await makeView();
    model.set('collapsed', ['modeling']);
    const first = view.whenDrawn();
    model.set('collapsed', []);
    model.set('states', { gather: 'cached' });
    await Promise.all([first, view.whenDrawn()]);
    expect(view.el.querySelectorAll('svg')).toHaveLength(1);
    expect(q('g.cluster[id="cluster/modeling"]')).toBeDefined();
    expect(q('g.node[id="sf/gather"]').getAttribute('data-state')).toBe('cached');
  });

  it('activates a step from the keyboard', async () => {
    await makeView();
    const g = q('g.node[id="sf/serve"]');
    expect(g.getAttribute('tabindex')).toBe('0');
    g.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    expect(model.get('selected')).toBe('serve');
  });

  it('shows a layout error as text', async () => {
    GraphView.engine = {
      dot: () => {
        throw new Error('syntax <error>');
      }
    };
    try {
      await makeView();
      expect(q('.sf-graph-canvas').textContent).toBe('Could not draw the workflow: syntax <error>');
      expect(view.el.querySelector('error')).toBeNull();
    } finally {
      GraphView.engine = countingEngine;
    }
  });
});
