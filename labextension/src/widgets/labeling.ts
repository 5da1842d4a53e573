/**
 * The labeling grid widget: a batch of samples at once, labeled with buttons or keys
 * (a class's own key on digits and letters, else 1-9; arrows move, Shift extends the selection, x skips, z undoes),
 * a "new class" entry, progress, and the learning curve. A label shows "…" until Python says it is on
 * disk (the `acked` trait), then "✓". A label already saved (here, in Python, by another annotator) is changed only
 * by the same key or button twice. Moving to the next sample never waits for Python.
 * Python side: `scanflow_jupyter/notebook/widgets/labeling.py`; contract: PROTOCOL.md.
 */
import { DOMWidgetModel, DOMWidgetView, ISerializers } from '@jupyter-widgets/base';
import type { ObjectHash } from 'backbone';

import {
  LabelItem,
  Progress,
  readCurve,
  readItems,
  renderCard,
  renderCurve,
  renderProgress,
  setBadge
} from '../labeling/render';
import { MODULE_NAME, MODULE_VERSION } from '../version';
import { buttonText, keyOf, labelKeys } from '../labeling/keys';

export class LabelingModel extends DOMWidgetModel {
  defaults(): ObjectHash {
    return {
      ...super.defaults(),
      _model_name: LabelingModel.model_name,
      _model_module: LabelingModel.model_module,
      _model_module_version: LabelingModel.model_module_version,
      _view_name: LabelingModel.view_name,
      _view_module: LabelingModel.view_module,
      _view_module_version: LabelingModel.view_module_version,
      session_name: '',
      annotator: '',
      classes: [],
      items: [],
      image_shape: [],
      acked: {},
      progress: {},
      curve: [],
      status: '',
      error: '',
      revision: 0
    };
  }

  static serializers: ISerializers = {
    ...DOMWidgetModel.serializers
  };

  static model_name = 'LabelingModel';
  static model_module = MODULE_NAME;
  static model_module_version = MODULE_VERSION;
  static view_name = 'LabelingView';
  static view_module = MODULE_NAME;
  static view_module_version = MODULE_VERSION;
}

export class LabelingView extends DOMWidgetView {
  private header!: HTMLDivElement;
  private buttons!: HTMLDivElement;
  private grid!: HTMLDivElement;
  private side!: HTMLDivElement;
  private errorBox!: HTMLDivElement;
  private notice!: HTMLDivElement;
  /** The relabel a first press asked to confirm: "ids\u0000label". */
  private confirming: string | null = null;
  private cards: HTMLElement[] = [];
  private focusIndex = 0;
  private selected = new Set<string>();
  private pending = new Map<string, string>();

  render(): void {
    const doc = this.el.ownerDocument;
    this.el.classList.add('sf-label');
    this.el.tabIndex = 0;
    // Keys typed here are labels, not notebook shortcuts.
    this.el.setAttribute('data-lm-suppress-shortcuts', 'true');
    this.header = doc.createElement('div');
    this.header.className = 'sf-label-header';
    this.errorBox = doc.createElement('div');
    this.errorBox.className = 'sf-label-error';
    this.errorBox.setAttribute('role', 'alert');
    this.notice = doc.createElement('div');
    this.notice.className = 'sf-label-notice';
    this.notice.setAttribute('role', 'status');
    this.notice.hidden = true;
    this.buttons = doc.createElement('div');
    this.buttons.className = 'sf-label-buttons';
    const body = doc.createElement('div');
    body.className = 'sf-label-body';
    this.grid = doc.createElement('div');
    this.grid.className = 'sf-label-grid';
    this.side = doc.createElement('div');
    this.side.className = 'sf-label-side';
    body.append(this.grid, this.side);
    this.el.append(this.header, this.errorBox, this.buttons, this.notice, body);

    this.el.addEventListener('keydown', event => this.onKey(event));
    this.listenTo(this.model, 'change:items change:image_shape', this.drawGrid);
    this.listenTo(this.model, 'change:acked', this.drawBadges);
    this.listenTo(this.model, 'change:classes', this.drawButtons);
    this.listenTo(this.model, 'change:progress change:status change:session_name', this.drawHeader);
    this.listenTo(this.model, 'change:curve', this.drawSide);
    this.listenTo(this.model, 'change:error', this.drawError);
    this.drawHeader();
    this.drawButtons();
    this.drawGrid();
    this.drawSide();
    this.drawError();
  }

  private classes(): string[] {
    const value: unknown = this.model.get('classes');
    return Array.isArray(value) ? value.map(String) : [];
  }

  private items(): LabelItem[] {
    return readItems(this.model.get('items'));
  }

  private acked(): Record<string, string> {
    return (this.model.get('acked') as Record<string, string> | null) ?? {};
  }

  private drawHeader(): void {
    const doc = this.el.ownerDocument;
    const title = doc.createElement('span');
    title.className = 'sf-label-title';
    title.textContent = `${this.model.get('session_name')} · ${this.model.get('annotator')}`;
    const progress = (this.model.get('progress') as Progress | null) ?? { labeled: 0, queued: 0, budget: 0, pool: 0 };
    const status = doc.createElement('span');
    status.className = 'sf-label-status';
    status.setAttribute('role', 'status');
    status.textContent = String(this.model.get('status') ?? '');
    this.header.replaceChildren(title, renderProgress(doc, progress), status);
  }

  private drawError(): void {
    const text = String(this.model.get('error') ?? '');
    this.errorBox.textContent = text;
    this.errorBox.hidden = !text;
  }

  private button(label: string, className: string, title: string, onClick: () => void): HTMLButtonElement {
    const button = this.el.ownerDocument.createElement('button');
    button.type = 'button';
    button.className = `sf-label-button ${className}`;
    button.textContent = label;
    button.title = title;
    button.addEventListener('click', onClick);
    return button;
  }

  private drawButtons(): void {
    const doc = this.el.ownerDocument;
    const keys = labelKeys(this.classes());
    const row: HTMLElement[] = this.classes().map(name => {
      const key = keyOf(keys, name);
      const button = this.button(
        buttonText(keys, name),
        'sf-label-class',
        key !== null ? `Label the selected samples "${name}" (key ${key})` : `Label the selected samples "${name}"`,
        () => this.labelSelected(name)
      );
      if (key !== null) {
        button.dataset.key = key;
      }
      return button;
    });
    const other = doc.createElement('input');
    other.className = 'sf-label-other';
    other.placeholder = 'other / new class';
    other.addEventListener('keydown', event => {
      event.stopPropagation(); // typing a class name is not labeling
      if (event.key === 'Enter' && other.value.trim()) {
        this.send({ event: 'add_class', name: other.value.trim() });
        other.value = '';
      }
    });
    row.push(
      other,
      this.button('Undo', 'sf-label-undo', `Undo your last label (${keys.undo ?? 'Backspace'})`, () =>
        this.send({ event: 'undo' })
      ),
      this.button('Skip', 'sf-label-skip', `Skip the focused sample (${keys.skip})`, () => this.skipFocused()),
      this.button('Retrain', 'sf-label-retrain', 'Retrain the model now, in the background', () =>
        this.send({ event: 'retrain' })
      ),
      this.button('Next batch', 'sf-label-next', 'Show the next batch', () => this.send({ event: 'next' }))
    );
    this.buttons.replaceChildren(...row);
  }

  private drawGrid(): void {
    const doc = this.el.ownerDocument;
    const shape = (this.model.get('image_shape') as number[] | null) ?? [];
    this.cards = this.items().map(item => {
      const card = renderCard(doc, item, shape);
      card.addEventListener('click', event => this.onCardClick(card, event));
      return card;
    });
    this.grid.replaceChildren(...this.cards);
    this.selected.clear();
    this.confirming = null;
    this.say('');
    for (const id of [...this.pending.keys()]) {
      if (!this.cards.some(c => c.dataset.id === id)) {
        this.pending.delete(id);
      }
    }
    this.drawBadges();
    this.focusIndex = Math.max(0, this.cards.findIndex(c => !c.dataset.state));
    this.updateFocus();
  }

  private drawBadges(): void {
    const acked = this.acked();
    for (const card of this.cards) {
      const id = card.dataset.id ?? '';
      if (id in acked) {
        this.pending.delete(id);
        setBadge(card, 'saved', acked[id]);
      } else if (this.pending.has(id)) {
        setBadge(card, 'pending', this.pending.get(id) ?? '');
      } else {
        setBadge(card, '', '');
      }
    }
  }

  private drawSide(): void {
    const doc = this.el.ownerDocument;
    const title = doc.createElement('div');
    title.className = 'sf-label-side-title';
    title.textContent = 'Held-out accuracy (solid: this session, dashed: the random control slice)';
    this.side.replaceChildren(title, renderCurve(doc, readCurve(this.model.get('curve'))));
  }

  private updateFocus(): void {
    this.cards.forEach((card, i) => {
      card.classList.toggle('sf-label-focus', i === this.focusIndex);
      card.classList.toggle('sf-label-selected', this.selected.has(card.dataset.id ?? ''));
    });
    const card = this.cards[this.focusIndex];
    if (card && typeof card.scrollIntoView === 'function') {
      card.scrollIntoView({ block: 'nearest' });
    }
  }

  private onCardClick(card: HTMLElement, event: MouseEvent): void {
    const index = this.cards.indexOf(card);
    const id = card.dataset.id ?? '';
    if (event.shiftKey || event.metaKey || event.ctrlKey) {
      if (this.selected.has(id)) {
        this.selected.delete(id);
      } else {
        this.selected.add(id);
      }
    } else {
      this.selected.clear();
    }
    this.focusIndex = index;
    this.confirming = null;
    this.say('');
    this.updateFocus();
    this.el.focus();
  }

  /** The ids a label applies to: the selection, else the focused card. */
  private targets(): string[] {
    if (this.selected.size) {
      return [...this.selected];
    }
    const card = this.cards[this.focusIndex];
    return card?.dataset.id ? [card.dataset.id] : [];
  }

  private say(text: string): void {
    this.notice.textContent = text;
    this.notice.hidden = !text;
  }

  labelSelected(label: string): void {
    const ids = this.targets();
    if (!ids.length) {
      return;
    }
    // A label on disk is not overwritten by a stray key: the first press says so, the same press again changes it.
    const acked = this.acked();
    const changed = ids.filter(id => id in acked && acked[id] !== label);
    const ask = `${ids.join(',')}\u0000${label}`;
    if (changed.length && this.confirming !== ask) {
      this.confirming = ask;
      const key = keyOf(labelKeys(this.classes()), label);
      const again = key !== null ? `press ${key} again` : `click "${label}" again`;
      const what =
        changed.length === 1
          ? `Sample ${changed[0]} is already labeled "${acked[changed[0]]}"`
          : `${changed.length} of these samples are already labeled`;
      this.say(`${what}: ${again} to change it to "${label}", or move on.`);
      return;
    }
    this.confirming = null;
    this.say('');
    for (const id of ids) {
      this.pending.set(id, label);
    }
    this.send({ event: 'label', ids, label });
    this.selected.clear();
    this.drawBadges();
    // The next unlabeled sample, at once: no round trip to the kernel.
    const next = this.cards.findIndex((c, i) => i > this.focusIndex && !c.dataset.state);
    const first = this.cards.findIndex(c => !c.dataset.state);
    this.focusIndex = next >= 0 ? next : first >= 0 ? first : this.focusIndex;
    this.updateFocus();
  }

  private skipFocused(): void {
    const card = this.cards[this.focusIndex];
    if (card?.dataset.id) {
      this.send({ event: 'skip', id: card.dataset.id });
    }
  }

  private move(step: number, extend: boolean): void {
    if (!this.cards.length) {
      return;
    }
    this.confirming = null;
    this.say('');
    if (extend) {
      const current = this.cards[this.focusIndex]?.dataset.id;
      if (current) {
        this.selected.add(current);
      }
    }
    this.focusIndex = Math.min(this.cards.length - 1, Math.max(0, this.focusIndex + step));
    if (extend) {
      const id = this.cards[this.focusIndex]?.dataset.id;
      if (id) {
        this.selected.add(id);
      }
    }
    this.updateFocus();
  }

  private onKey(event: KeyboardEvent): void {
    if (event.target instanceof HTMLInputElement) {
      return;
    }
    const columns = Math.max(1, Math.round(this.grid.clientWidth / (this.cards[0]?.offsetWidth || 1)) || 1);
    let handled = true;
    const keys = labelKeys(this.classes());
    const label = keys.labels.get(event.key);
    if (label !== undefined) {
      this.labelSelected(label);
    } else if (event.key === 'ArrowRight') {
      this.move(1, event.shiftKey);
    } else if (event.key === 'ArrowLeft') {
      this.move(-1, event.shiftKey);
    } else if (event.key === 'ArrowDown') {
      this.move(columns, event.shiftKey);
    } else if (event.key === 'ArrowUp') {
      this.move(-columns, event.shiftKey);
    } else if (event.key === keys.skip) {
      this.skipFocused();
    } else if (event.key === keys.undo || event.key === 'Backspace') {
      this.send({ event: 'undo' });
    } else if (event.key === 'Escape') {
      this.selected.clear();
      this.updateFocus();
    } else {
      handled = false;
    }
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  }
}
