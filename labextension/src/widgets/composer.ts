/**
 * The composer widget: a canvas (@xyflow/react) on which a workflow is edited; every
 * edit is a message to the Python model, which applies it to the live Application (or
 * refuses it with the validation message) and answers with the new spec.
 * Python side: `scanflow_jupyter/notebook/widgets/composer.py`; contract: PROTOCOL.md.
 */
import { DOMWidgetModel, DOMWidgetView, ISerializers } from '@jupyter-widgets/base';
import type { ObjectHash } from 'backbone';
import { createElement } from 'react';
import { Root, createRoot } from 'react-dom/client';

import { ComposerActions, ComposerApp, ComposerState } from '../composer/canvas';
import { ComposerMessage } from '../composer/messages';
import { ComposerSpec, Positions, readComposerSpec, readPositions } from '../composer/spec';
import { MODULE_NAME, MODULE_VERSION } from '../version';

export class ComposerModel extends DOMWidgetModel {
  defaults(): ObjectHash {
    return {
      ...super.defaults(),
      _model_name: ComposerModel.model_name,
      _model_module: ComposerModel.model_module,
      _model_module_version: ComposerModel.model_module_version,
      _view_name: ComposerModel.view_name,
      _view_module: ComposerModel.view_module,
      _view_module_version: ComposerModel.view_module_version,
      spec: {},
      positions: {},
      error: '',
      python_code: '',
      saved_path: '',
      message: '',
      revision: 0,
      height: '480px'
    };
  }

  static serializers: ISerializers = {
    ...DOMWidgetModel.serializers
  };

  static model_name = 'ComposerModel';
  static model_module = MODULE_NAME;
  static model_module_version = MODULE_VERSION;
  static view_name = 'ComposerView';
  static view_module = MODULE_NAME;
  static view_module_version = MODULE_VERSION;
}

/** Parse a trait only when its value changed (the canvas compares by identity). */
class Cached<T> {
  private raw: unknown = undefined;
  private value: T | undefined = undefined;
  constructor(private readonly read: (raw: unknown) => T) {}
  get(raw: unknown): T {
    if (this.value === undefined || raw !== this.raw) {
      this.raw = raw;
      this.value = this.read(raw);
    }
    return this.value;
  }
}

export class ComposerView extends DOMWidgetView {
  private root: Root | null = null;
  private readonly spec = new Cached<ComposerSpec | null>(readComposerSpec);
  private readonly positions = new Cached<Positions>(readPositions);
  private readonly actions: ComposerActions = {
    send: (message: ComposerMessage) => this.send(message),
    setPositions: (positions: Positions) => this.write('positions', positions),
    dismissError: () => this.write('error', ''),
    closeCode: () => this.write('python_code', '')
  };

  render(): void {
    this.el.classList.add('sf-composer');
    // Keys typed in the composer (Delete, arrows, letters in its fields) are not notebook shortcuts.
    this.el.setAttribute('data-lm-suppress-shortcuts', 'true');
    this.root = createRoot(this.el);
    this.update();
  }

  /** Called by the widget framework on every change of the model. */
  update(): void {
    const revision = Number(this.model.get('revision') ?? 0);
    this.el.dataset.revision = String(revision);
    this.root?.render(createElement(ComposerApp, { state: this.state(), actions: this.actions }));
  }

  remove(): void {
    this.root?.unmount();
    this.root = null;
    super.remove();
  }

  /** The traits as the canvas reads them. */
  state(): ComposerState {
    const text = (key: string): string => {
      const value: unknown = this.model.get(key);
      return typeof value === 'string' ? value : '';
    };
    return {
      spec: this.spec.get(this.model.get('spec')),
      positions: this.positions.get(this.model.get('positions')),
      error: text('error'),
      pythonCode: text('python_code'),
      savedPath: text('saved_path'),
      message: text('message'),
      revision: Number(this.model.get('revision') ?? 0),
      height: text('height') || '480px'
    };
  }

  private write(key: string, value: unknown): void {
    this.model.set(key, value);
    this.model.save_changes();
  }
}
