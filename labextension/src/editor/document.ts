/**
 * `scanflow.yaml` as a document: a DocumentRegistry widget factory that opens the file in the composer
 * (editor/panel.tsx), on JupyterLab's text model, so dirty state, Ctrl-S, revert and a text editor open on
 * the same file are JupyterLab's own; undo and redo are the shared model's.
 */
import { ABCWidgetFactory, DocumentRegistry, DocumentWidget } from '@jupyterlab/docregistry';
import { Signal } from '@lumino/signaling';

import { DocumentHost, EditorController } from './controller';
import { EditorPanel } from './panel';

/** The factory's name (Open With > Scanflow Editor). */
export const EDITOR_FACTORY = 'Scanflow Editor';
/** The file type of `scanflow.yaml` files. */
export const SPEC_FILE_TYPE = 'scanflow-yaml';

/** A `scanflow.yaml` open in the composer. */
export class ScanflowEditor extends DocumentWidget<EditorPanel, DocumentRegistry.ICodeModel> {
  get controller(): EditorController {
    return this.content.controller;
  }
}

/** JupyterLab's document context as the controller's host: its text, its save, its changes. */
export function hostOf(context: DocumentRegistry.IContext<DocumentRegistry.ICodeModel>): DocumentHost {
  const changed = new Signal<unknown, void>(context);
  context.model.contentChanged.connect(() => changed.emit());
  return {
    get path() {
      return context.path;
    },
    text: () => context.model.sharedModel.getSource(),
    setText: (text: string) => {
      if (context.model.sharedModel.getSource() !== text) {
        context.model.sharedModel.setSource(text);
        context.model.dirty = true; // as the text editor marks its edits: the tab shows it, Ctrl-S saves
      }
    },
    save: () => context.save(),
    textChanged: changed
  };
}

export class ScanflowEditorFactory extends ABCWidgetFactory<ScanflowEditor, DocumentRegistry.ICodeModel> {
  protected createNewWidget(context: DocumentRegistry.IContext<DocumentRegistry.ICodeModel>): ScanflowEditor {
    const controller = new EditorController(hostOf(context));
    const content = new EditorPanel(controller);
    const widget = new ScanflowEditor({ context, content });
    widget.addClass('sf-editor-document');
    widget.title.caption = `${context.path} (Scanflow Editor)`;
    void context.ready.then(async () => {
      // Loading the file is not an edit: Undo right after opening must not empty the document.
      context.model.sharedModel.clearUndoHistory();
      content.update();
      await controller.load();
      await controller.refreshRuns();
    });
    context.saveState.connect((_, state) => {
      if (state === 'completed') {
        void controller.afterSave();
      }
    });
    return widget;
  }
}
