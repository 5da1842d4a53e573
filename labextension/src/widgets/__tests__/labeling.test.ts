// @vitest-environment jsdom
import { beforeEach, describe, expect, it } from 'vitest';

import { LabelingModel, LabelingView } from '../labeling';
import { MockComm, modelOptions, query } from './harness';

let comm: MockComm;
let model: LabelingModel;
let view: LabelingView;

const EVIL = '<img src=x onerror="window.pwned=1">';

function items(n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `s${i}`,
    why: { margin: 0.5 + i / 100, typicality: 0.7 },
    pixels: [0, 0.5, 1, 0.25],
    heatmap: [0.1, 0.2, 0.3, 0.4]
  }));
}

function makeView(state: { [key: string]: unknown } = {}): void {
  comm = new MockComm();
  model = new LabelingModel(
    {
      session_name: 'digits',
      annotator: 'ana',
      classes: ['zero', 'one', 'two'],
      items: items(4),
      image_shape: [2, 2],
      progress: { labeled: 0, queued: 4, budget: 100, pool: 500 },
      ...state
    },
    modelOptions('label-1', comm)
  );
  view = new LabelingView({ model } as never);
  view.render();
  document.body.replaceChildren(view.el);
}

function key(k: string, shiftKey = false): void {
  view.el.dispatchEvent(new KeyboardEvent('keydown', { key: k, shiftKey, bubbles: true }));
}

function focused(): string | undefined {
  return view.el.querySelector<HTMLElement>('.sf-label-focus')?.dataset.id;
}

describe('LabelingView keys on single-character classes (issue 19)', () => {
  const digits = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

  it('labels a digit with its own key, 0 included, and the buttons say so', () => {
    makeView({ classes: digits });
    const buttons = [...view.el.querySelectorAll<HTMLElement>('.sf-label-class')];
    expect(buttons.map(b => b.textContent)).toEqual(digits);
    expect(buttons.map(b => b.dataset.key)).toEqual(digits);
    key('2');
    key('0');
    expect(comm.custom()).toEqual([
      { event: 'label', ids: ['s0'], label: '2' },
      { event: 'label', ids: ['s1'], label: '0' }
    ]);
  });

  it('lets a class named x or z win over skip and undo (skip moves to ".", undo stays on Backspace)', () => {
    makeView({ classes: ['x', 'y', 'z'] });
    key('x');
    key('z');
    key('.');
    key('Backspace');
    expect(comm.custom()).toEqual([
      { event: 'label', ids: ['s0'], label: 'x' },
      { event: 'label', ids: ['s1'], label: 'z' },
      { event: 'skip', id: 's2' },
      { event: 'undo' }
    ]);
  });
});

describe('LabelingView cards and saved labels (issue 19)', () => {
  it('says why in words, shows the model guess, and marks the id as a sample id', () => {
    makeView({
      items: [{ id: '17', why: { margin: 0.9953, typicality: 0.4892 }, reason: 'The model is unsure', guess: '3 (87%)' }],
      image_shape: []
    });
    const card = query(view.el, '.sf-label-card');
    expect(query(card, '.sf-label-why').textContent).toBe('The model is unsure');
    expect(query<HTMLElement>(card, '.sf-label-why').title).toBe('margin 0.9953 · typicality 0.4892');
    expect(query(card, '.sf-label-guess').textContent).toBe("model's guess: 3 (87%)");
    expect(query(card, '.sf-label-id').textContent).toBe('sample 17');
  });

  it('does not overwrite a label on disk with one key press: the same key again changes it', () => {
    makeView({ classes: ['0', '1', '2'], acked: { s0: '1' } });
    key('ArrowLeft'); // the focus starts on the first unlabeled card: go back to the saved one
    expect(focused()).toBe('s0');
    key('2');
    expect(comm.custom()).toEqual([]);
    expect(query(view.el, '.sf-label-notice').textContent).toBe(
      'Sample s0 is already labeled "1": press 2 again to change it to "2", or move on.'
    );
    key('2');
    expect(comm.custom()).toEqual([{ event: 'label', ids: ['s0'], label: '2' }]);
    expect(query<HTMLElement>(view.el, '.sf-label-notice').hidden).toBe(true);
    // The same label again is no change: sent at once.
    makeView({ classes: ['0', '1', '2'], acked: { s0: '1' } });
    key('ArrowLeft');
    key('1');
    expect(comm.custom()).toEqual([{ event: 'label', ids: ['s0'], label: '1' }]);
  });
});

describe('LabelingView', () => {
  beforeEach(() => makeView());

  it('draws a card per sample with its picture, heatmap and why, and a button per class', () => {
    const cards = view.el.querySelectorAll('.sf-label-card');
    expect(cards).toHaveLength(4);
    expect(cards[0].querySelectorAll('svg.sf-drift-grid')).toHaveLength(2);
    expect(query(cards[0], '.sf-label-why').textContent).toBe('margin 0.5 · typicality 0.7');
    const buttons = [...view.el.querySelectorAll('.sf-label-class')].map(b => b.textContent);
    expect(buttons).toEqual(['1 · zero', '2 · one', '3 · two']);
    expect(query(view.el, '.sf-label-progress-text').textContent).toBe('0 labeled of 100 · 4 queued · pool 500');
    expect(focused()).toBe('s0');
  });

  it('labels with number keys, moves on at once, and shows saved only when Python acknowledges', () => {
    key('2');
    expect(comm.custom()).toEqual([{ event: 'label', ids: ['s0'], label: 'one' }]);
    expect(focused()).toBe('s1'); // no round trip
    const first = query<HTMLElement>(view.el, '[data-id="s0"]');
    expect(first.dataset.state).toBe('pending');
    expect(query(first, '.sf-label-badge').textContent).toBe('one …');
    model.set('acked', { s0: 'one' });
    expect(first.dataset.state).toBe('saved');
    expect(query(first, '.sf-label-badge').textContent).toBe('one ✓');
  });

  it('moves with arrows, extends the selection with Shift, labels many at once, skips and undoes', () => {
    key('ArrowRight');
    expect(focused()).toBe('s1');
    key('ArrowRight', true);
    expect([...view.el.querySelectorAll<HTMLElement>('.sf-label-selected')].map(c => c.dataset.id)).toEqual([
      's1',
      's2'
    ]);
    key('1');
    expect(comm.custom()[0]).toEqual({ event: 'label', ids: ['s1', 's2'], label: 'zero' });
    key('x');
    key('z');
    expect(comm.custom().slice(1)).toEqual([{ event: 'skip', id: 's3' }, { event: 'undo' }]);
    key('9'); // no ninth class: nothing sent
    expect(comm.custom()).toHaveLength(3);
  });

  it('adds a class from the "other" entry without labeling as it types', () => {
    const other = query<HTMLInputElement>(view.el, '.sf-label-other');
    other.value = 'smudge';
    other.dispatchEvent(new KeyboardEvent('keydown', { key: '1', bubbles: true }));
    other.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    expect(comm.custom()).toEqual([{ event: 'add_class', name: 'smudge' }]);
  });

  it('draws a new batch, the learning curve and the error as text', () => {
    model.set('items', items(2));
    expect(view.el.querySelectorAll('.sf-label-card')).toHaveLength(2);
    model.set('curve', [
      { labels: 10, accuracy: 0.6, version: 1, series: 'session' },
      { labels: 20, accuracy: 0.8, version: 2, series: 'session' },
      { labels: 2, accuracy: 0.4, version: 2, series: 'control' }
    ]);
    expect(query(view.el, '.sf-label-curve-session').getAttribute('points')?.split(' ')).toHaveLength(2);
    expect(view.el.querySelector('.sf-label-curve-control')).not.toBeNull();
    model.set('error', EVIL);
    expect(query(view.el, '.sf-label-error').textContent).toBe(EVIL);
    expect(view.el.querySelector('img')).toBeNull();
  });

  it('shows ids, field names and class names as text', () => {
    makeView({
      classes: [EVIL],
      items: [{ id: EVIL, why: {}, fields: [[EVIL, 1.5]] }],
      image_shape: []
    });
    expect(query(view.el, '.sf-label-id').textContent).toBe(`sample ${EVIL}`);
    expect(query(view.el, '.sf-label-field-name').textContent).toBe(EVIL);
    expect(query(view.el, '.sf-label-class').textContent).toBe(`1 · ${EVIL}`);
    expect(view.el.querySelector('img')).toBeNull();
  });
});
