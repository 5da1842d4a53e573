// @vitest-environment jsdom
import { act } from 'react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { tabular } from '../../composer/__tests__/fixtures';
import { ComposerModel, ComposerView } from '../composer';
import { MockComm, modelOptions, query } from './harness';

beforeAll(() => {
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
  // jsdom has neither; @xyflow/react measures nodes with the first and reads zoom with the second.
  const g = globalThis as { ResizeObserver?: unknown; DOMMatrixReadOnly?: unknown };
  g.ResizeObserver ??= class {
    observe(): void {}
    unobserve(): void {}
    disconnect(): void {}
  };
  g.DOMMatrixReadOnly ??= class {
    m22 = 1;
    constructor(_transform?: string) {}
  };
});

let comm: MockComm;
let model: ComposerModel;
let view: ComposerView;

async function makeView(state: { [key: string]: unknown } = {}): Promise<ComposerView> {
  comm = new MockComm();
  model = new ComposerModel(
    { spec: tabular(), ...state },
    modelOptions('composer-1', comm)
  );
  view = new ComposerView({ model } as never);
  document.body.replaceChildren(view.el);
  await act(async () => view.render());
  return view;
}

function q<T extends Element = Element>(selector: string): T {
  return query<T>(view.el, selector);
}

async function click(el: Element): Promise<void> {
  await act(async () => {
    el.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true }));
  });
}

/** Type into a React-controlled input (React listens to `input` events and reads the native value). */
async function type(input: HTMLInputElement, text: string): Promise<void> {
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
  await act(async () => {
    setter.call(input, text);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

async function set(changes: { [key: string]: unknown }): Promise<void> {
  await act(async () => {
    model.set_state(changes); // as the widget manager applies an update from Python
  });
}

afterEach(async () => {
  await act(async () => view?.remove());
});

describe('ComposerModel', () => {
  it('has the defaults of PROTOCOL.md', async () => {
    const { MODULE_NAME, MODULE_VERSION } = await import('../../version');
    const fresh = new ComposerModel({}, { model_id: 'm', widget_manager: {} as never });
    expect(fresh.attributes).toMatchObject({
      _model_name: 'ComposerModel',
      _view_name: 'ComposerView',
      _model_module: MODULE_NAME,
      _view_module: MODULE_NAME,
      _model_module_version: MODULE_VERSION,
      _view_module_version: MODULE_VERSION,
      spec: {},
      positions: {},
      error: '',
      python_code: '',
      saved_path: '',
      message: '',
      revision: 0,
      height: '480px'
    });
  });
});

describe('ComposerView', () => {
  it('says on the palette what each kind of node is, not only in a tooltip (issue 19)', async () => {
    await makeView();
    const hints = [...view.el.querySelectorAll('.sf-composer-palette-item')].map(item => [
      item.querySelector('.sf-composer-palette-label')?.textContent,
      item.querySelector('.sf-composer-palette-hint')?.textContent
    ]);
    expect(hints).toEqual([
      ['Script step', 'runs a Python script, steps/NAME.py (a stub is written on save)'],
      ['Function step', 'calls a Python function, module:function'],
      ['Nested workflow', 'a box of steps that runs as one node']
    ]);
  });

  it('draws a node per step and group, with the DOM hooks of PROTOCOL.md', async () => {
    await makeView();
    expect(view.el.classList.contains('sf-composer')).toBe(true);
    expect(view.el.hasAttribute('data-lm-suppress-shortcuts')).toBe(true);
    const ids = [...view.el.querySelectorAll('.react-flow__node')].map(n => n.getAttribute('data-id'));
    expect(ids).toEqual(['gather', 'preprocess', 'modeling', 'modeling/linear', 'modeling/forest', 'evaluate']);
    expect(q('.react-flow__node[data-id="modeling"]').classList.contains('react-flow__node-sfGroup')).toBe(true);
    expect(q('.react-flow__node[data-id="gather"] .sf-composer-node-name').textContent).toBe('gather');
    expect(q('.sf-composer-title').textContent).toBe('tabular / pipeline');
    for (const hook of ['button.sf-composer-add', 'input.sf-composer-name', 'button.sf-composer-save', 'button.sf-composer-export']) {
      q(hook);
    }
    expect(view.el.querySelector('.sf-composer-error')).toBeNull();
    expect(view.el.dataset.revision).toBe('0');
  });

  it('lays the nodes out again on Arrange, forgetting where they were moved', async () => {
    await makeView({ positions: { gather: { x: 500, y: 500 } } });
    expect(comm.updates()).toEqual([]); // drawing writes nothing: only a drag or Arrange does
    await click(q('button.sf-composer-arrange'));
    expect(comm.updates()).toContainEqual({ positions: {} });
  });

  it('adds a step through the toolbar', async () => {
    await makeView();
    const add = q<HTMLButtonElement>('button.sf-composer-add');
    expect(add.disabled).toBe(true); // no name yet
    await type(q<HTMLInputElement>('input.sf-composer-name'), ' report ');
    expect(add.disabled).toBe(false);
    await click(add);
    expect(comm.custom()).toEqual([{ event: 'add', group: '', name: 'report' }]);
    // Python accepts it: the name clears.
    await set({ revision: 1 });
    expect(q<HTMLInputElement>('input.sf-composer-name').value).toBe('');
  });

  it('keeps the name when Python refuses it, and shows why as text', async () => {
    await makeView();
    await type(q<HTMLInputElement>('input.sf-composer-name'), 'gather');
    await click(q('button.sf-composer-add'));
    const why = "1 problem in this edit:\n  - pipeline: two nodes are named 'gather' <img src=x onerror=alert(1)>";
    await set({ error: why, revision: 1 });
    const banner = q('.sf-composer-error');
    expect(banner.textContent).toContain("two nodes are named 'gather' <img src=x onerror=alert(1)>");
    expect(banner.querySelector('img')).toBeNull(); // text, never HTML
    expect(q<HTMLInputElement>('input.sf-composer-name').value).toBe('gather');
    await click(q('.sf-composer-error-close'));
    expect(comm.updates()).toContainEqual({ error: '' });
  });

  it('selects a node on click and edits its parameters in the inspector', async () => {
    await makeView();
    await click(q('.react-flow__node[data-id="preprocess"]'));
    const inspector = q('.sf-composer-inspector');
    expect(inspector.getAttribute('data-address')).toBe('preprocess');
    expect([...inspector.querySelectorAll('.sf-composer-param')].map(r => r.getAttribute('data-name'))).toEqual([
      'shuffle',
      'test-size'
    ]);
    const value = q<HTMLInputElement>('.sf-composer-param[data-name="test-size"] input.sf-composer-param-value');
    expect(value.value).toBe('0.25');
    await type(value, '0.3');
    await act(async () => {
      value.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    });
    expect(comm.custom()).toContainEqual({
      event: 'set_param',
      address: 'preprocess',
      name: 'test-size',
      value: '0.3',
      type: 'float'
    });
    await click(q('.sf-composer-param[data-name="shuffle"] input.sf-composer-param-value'));
    expect(comm.custom()).toContainEqual({
      event: 'set_param',
      address: 'preprocess',
      name: 'shuffle',
      value: 'false',
      type: 'bool'
    });
    await click(q('.sf-composer-param[data-name="shuffle"] button.sf-composer-param-remove'));
    expect(comm.custom()).toContainEqual({ event: 'remove_param', address: 'preprocess', name: 'shuffle' });
    await type(q<HTMLInputElement>('input.sf-composer-param-new-name'), 'seed');
    await type(q<HTMLInputElement>('input.sf-composer-param-new-value'), '7');
    await click(q('button.sf-composer-param-add'));
    expect(comm.custom()).toContainEqual({ event: 'set_param', address: 'preprocess', name: 'seed', value: '7', type: 'str' });
  });

  it('a refused value goes back to the spec on Python\'s answer', async () => {
    await makeView();
    await click(q('.react-flow__node[data-id="gather"]'));
    const value = () => q<HTMLInputElement>('.sf-composer-param[data-name="rows"] input.sf-composer-param-value');
    await type(value(), 'many');
    await set({ error: "parameter 'rows' expects an int, got 'many'", revision: 1 });
    expect(value().value).toBe('0');
  });

  it('connects and disconnects from the inspector', async () => {
    await makeView();
    await click(q('.react-flow__node[data-id="evaluate"]'));
    expect([...view.el.querySelectorAll('.sf-composer-dep')].map(d => d.getAttribute('data-dep'))).toEqual([
      'modeling'
    ]);
    const choice = q<HTMLSelectElement>('select.sf-composer-dep-choice');
    expect([...choice.options].map(o => o.value)).toEqual(['gather', 'preprocess']);
    await click(q('button.sf-composer-dep-add'));
    expect(comm.custom()).toContainEqual({ event: 'connect', source: 'gather', target: 'evaluate' });
    await click(q('.sf-composer-dep[data-dep="modeling"] button.sf-composer-dep-remove'));
    expect(comm.custom()).toContainEqual({ event: 'disconnect', source: 'modeling', target: 'evaluate' });
  });

  it('deletes and groups the selection', async () => {
    await makeView();
    await click(q('.react-flow__node[data-id="modeling/linear"]'));
    await click(q('button.sf-composer-delete'));
    expect(comm.custom()).toEqual([{ event: 'delete', address: 'modeling/linear' }]);
    await type(q<HTMLInputElement>('input.sf-composer-name'), 'models');
    await click(q('button.sf-composer-group'));
    expect(comm.custom()).toContainEqual({ event: 'group', addresses: ['modeling/linear'], name: 'models' });
    await click(q('button.sf-composer-add')); // into the group holding the selected step
    expect(comm.custom()).toContainEqual({ event: 'add', group: 'modeling', name: 'models' });
  });

  it('saves and shows the exported code as text', async () => {
    await makeView();
    await click(q('button.sf-composer-save'));
    await click(q('button.sf-composer-export'));
    expect(comm.custom()).toEqual([{ event: 'save' }, { event: 'export' }]);
    const code = "app = Application(name='<b>x</b>')\n";
    await set({ python_code: code, message: 'saved /tmp/x/scanflow.yaml' });
    const pre = q('pre.sf-composer-code');
    expect(pre.textContent).toBe(code);
    expect(pre.querySelector('b')).toBeNull();
    expect(q('.sf-composer-status').textContent).toBe('saved /tmp/x/scanflow.yaml');
    await click(q('.sf-composer-code-close'));
    expect(comm.updates()).toContainEqual({ python_code: '' });
  });

  it('redraws when Python changes the spec, keeping the selection', async () => {
    await makeView();
    await click(q('.react-flow__node[data-id="gather"]'));
    const raw = tabular() as { root: { nodes: object[] } };
    raw.root.nodes.push({ kind: 'executor', name: 'late', address: 'late', depends_on: ['evaluate'], script: 'l.py', function: null, parameters: {} });
    await set({ spec: raw, revision: 1 });
    expect(view.el.querySelector('.react-flow__node[data-id="late"]')).not.toBeNull();
    expect(q('.react-flow__node[data-id="gather"]').classList.contains('selected')).toBe(true);
    expect(view.el.dataset.revision).toBe('1');
  });

  it('draws nothing but a note without a spec, and unmounts on remove', async () => {
    await makeView({ spec: {} });
    expect(q('.sf-composer-note').textContent).toBe('No workflow to compose.');
    await act(async () => view.remove());
    expect(view.el.childElementCount).toBe(0);
  });
});
