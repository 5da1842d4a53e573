/**
 * The document editor's toolbar items: Run, Resume and Cancel (enabled as the run allows), Undo and Redo (the
 * document's), Validate, and the text of the file beside the canvas.
 */
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { Widget } from '@lumino/widgets';

import { el } from '../dom';
import { EditorController } from './controller';

export interface ToolbarHooks {
  /** Open the file in JupyterLab's text editor beside the canvas (both edit the same document). */
  openText(path: string): void;
}

export class RunControls extends Widget {
  private readonly buttons: { [key: string]: HTMLButtonElement } = {};

  constructor(
    private readonly controller: EditorController,
    private readonly context: DocumentRegistry.IContext<DocumentRegistry.ICodeModel>,
    hooks: ToolbarHooks
  ) {
    super();
    this.addClass('sf-editor-toolbar');
    const doc = this.node.ownerDocument;
    const add = (key: string, label: string, title: string, act: () => unknown): void => {
      const b = el(doc, 'button', `jp-ToolbarButtonComponent sf-editor-button sf-editor-${key}`, label);
      b.type = 'button';
      b.title = title;
      b.onclick = () => void act();
      this.buttons[key] = b;
      this.node.append(b);
    };
    const shared = () => context.model.sharedModel;
    add('run', '▶ Run', 'Save, then run this workflow; the canvas colours each step as it runs', () =>
      controller.start(context.model.dirty)
    );
    add('resume', '↻ Resume', 'Finish the latest failed or cancelled run of this workflow: finished steps are reused', () =>
      controller.resume()
    );
    add('cancel', '■ Cancel', 'Stop the run shown: nothing new starts, running steps are stopped', () => controller.cancel());
    add('undo', '↶ Undo', 'Undo the last change to scanflow.yaml (Ctrl+Z)', () => shared().undo());
    add('redo', '↷ Redo', 'Redo (Ctrl+Shift+Z)', () => shared().redo());
    add('validate', '✓ Validate', 'Check the application: problems are marked on the nodes', () => controller.validate());
    add('text', 'Text', 'Open scanflow.yaml as text beside the canvas: edits in either show in both', () =>
      hooks.openText(context.path)
    );
    controller.stateChanged.connect(this.update, this);
    context.model.contentChanged.connect(this.update, this);
    // The document's load is not an edit to undo: JupyterLab clears the history once it is ready.
    void context.ready.then(() => this.update());
    this.update();
  }

  update(): void {
    const c = this.controller;
    const shared = this.context.model.sharedModel;
    this.buttons.run.disabled = c.running || !c.workflow || !!c.textError;
    this.buttons.resume.disabled = c.running || c.resumable() === null;
    this.buttons.cancel.disabled = !c.running;
    this.buttons.undo.disabled = !shared.canUndo();
    this.buttons.redo.disabled = !shared.canRedo();
    super.update();
  }

  dispose(): void {
    this.controller.stateChanged.disconnect(this.update, this);
    this.context.model.contentChanged.disconnect(this.update, this);
    super.dispose();
  }
}
