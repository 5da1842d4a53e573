/**
 * The graph widget: the nested workflow drawn with WebAssembly Graphviz, coloured live
 * by step state, with run / cancel buttons and a details panel.
 * Python side: `scanflow_jupyter/notebook/widgets/graph.py`; contract: PROTOCOL.md.
 */
import { DOMWidgetModel, DOMWidgetView, ISerializers } from '@jupyter-widgets/base';
import type { ObjectHash } from 'backbone';

import { renderDetails } from '../graph/details';
import { runLinks } from '../graph/links';
import { Drawing, Hit, LayoutEngine, RenderTimings, renderGraph } from '../graph/render';
import { GraphSpec, InfoMap, StateMap, findNode, isGroup, readSpec, toState } from '../graph/spec';
import { renderLegend } from '../graph/legend';
import { MODULE_NAME, MODULE_VERSION } from '../version';

export class GraphModel extends DOMWidgetModel {
  defaults(): ObjectHash {
    return {
      ...super.defaults(),
      _model_name: GraphModel.model_name,
      _model_module: GraphModel.model_module,
      _model_module_version: GraphModel.model_module_version,
      _view_name: GraphModel.view_name,
      _view_module: GraphModel.view_module,
      _view_module_version: GraphModel.view_module_version,
      spec: {},
      states: {},
      info: {},
      collapsed: [],
      selected: '',
      run_status: '',
      message: '',
      height: '420px'
    };
  }

  static serializers: ISerializers = {
    ...DOMWidgetModel.serializers
  };

  static model_name = 'GraphModel';
  static model_module = MODULE_NAME;
  static model_module_version = MODULE_VERSION;
  static view_name = 'GraphView';
  static view_module = MODULE_NAME;
  static view_module_version = MODULE_VERSION;
}

export class GraphView extends DOMWidgetView {
  /**
   * The layout engine; tests may replace it. Defaults to the shared WebAssembly
   * Graphviz, loaded on first use.
   */
  static engine: LayoutEngine | undefined = undefined;

  private title!: HTMLSpanElement;
  private runButton!: HTMLButtonElement;
  private cancelButton!: HTMLButtonElement;
  private fitButton!: HTMLButtonElement;
  private status!: HTMLSpanElement;
  private canvas!: HTMLDivElement;
  private details!: HTMLDivElement;
  private drawing: Drawing | null = null;
  private generation = 0;
  private layoutDone: Promise<void> = Promise.resolve();
  private focusAfterLayout: string | null = null;
  /** Timings of the last layout, for the curious (and the benchmark). */
  lastTimings: RenderTimings | null = null;

  render(): void {
    const doc = this.el.ownerDocument;
    this.el.classList.add('sf-graph');

    const toolbar = doc.createElement('div');
    toolbar.className = 'sf-graph-toolbar';
    this.runButton = this.button('sf-graph-run', 'Run', 'Run the workflow');
    this.runButton.addEventListener('click', () => this.send({ event: 'run' }));
    this.cancelButton = this.button('sf-graph-cancel', 'Cancel', 'Cancel the run');
    this.cancelButton.addEventListener('click', () => this.send({ event: 'cancel' }));
    this.fitButton = this.button('sf-graph-fit', 'Fit', 'Fit the drawing to the view');
    this.fitButton.setAttribute('aria-pressed', 'false');
    this.fitButton.addEventListener('click', () => this.toggleFit());
    this.title = doc.createElement('span');
    this.title.className = 'sf-graph-title';
    this.status = doc.createElement('span');
    this.status.className = 'sf-graph-status';
    this.status.setAttribute('role', 'status');
    toolbar.append(this.runButton, this.cancelButton, this.title, this.status, this.fitButton);
    const legend = renderLegend(doc);
    legend.classList.add('sf-graph-legend');

    const body = doc.createElement('div');
    body.className = 'sf-graph-body';
    this.canvas = doc.createElement('div');
    this.canvas.className = 'sf-graph-canvas';
    this.canvas.addEventListener('click', event => this.onActivate(event.target));
    this.canvas.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        if (this.onActivate(event.target)) {
          event.preventDefault();
        }
      }
    });
    this.details = doc.createElement('div');
    this.details.className = 'sf-graph-details';
    body.append(this.canvas, this.details);
    this.el.append(toolbar, legend, body);

    this.listenTo(this.model, 'change:spec change:collapsed', () => void this.relayout());
    this.listenTo(this.model, 'change:states', this.onStates);
    this.listenTo(this.model, 'change:selected change:info', this.onSelection);
    this.listenTo(this.model, 'change:run_status change:message', this.updateStatus);
    this.listenTo(this.model, 'change:height', this.updateHeight);

    this.updateHeight();
    this.updateStatus();
    this.updateDetails();
    void this.relayout();
  }

  /** Resolves when the latest layout requested has been drawn (or has failed). */
  whenDrawn(): Promise<void> {
    return this.layoutDone;
  }

  private button(className: string, label: string, title: string): HTMLButtonElement {
    const button = this.el.ownerDocument.createElement('button');
    button.type = 'button';
    button.className = `sf-graph-button ${className}`;
    button.textContent = label;
    button.title = title;
    return button;
  }

  private spec(): GraphSpec | null {
    return readSpec(this.model.get('spec'));
  }

  private states(): StateMap {
    return (this.model.get('states') as StateMap | null) ?? {};
  }

  private collapsed(): string[] {
    const value: unknown = this.model.get('collapsed');
    return Array.isArray(value) ? value.filter((a): a is string => typeof a === 'string') : [];
  }

  /** A new layout: `spec` or `collapsed` changed. Only the newest request is drawn. */
  private relayout(): Promise<void> {
    const generation = ++this.generation;
    const spec = this.spec();
    this.title.textContent = spec ? [spec.app, spec.workflow].filter(Boolean).join(' / ') : '';
    if (!spec) {
      this.drawing = null;
      this.showMessage('No workflow to draw.');
      this.layoutDone = Promise.resolve();
      return this.layoutDone;
    }
    if (!this.drawing) {
      this.showMessage('Drawing…');
    }
    this.layoutDone = renderGraph(spec, this.states(), this.collapsed(), {
      doc: this.el.ownerDocument,
      engine: GraphView.engine
    }).then(
      ({ drawing, timings }) => {
        if (generation !== this.generation) {
          return;
        }
        // States may have changed while the layout ran.
        drawing.applyStates(this.states());
        drawing.markVerdicts(this.info());
        drawing.setSelected(this.model.get('selected') as string);
        const { scrollLeft, scrollTop } = this.canvas;
        this.canvas.replaceChildren(drawing.svg);
        this.canvas.scrollLeft = scrollLeft;
        this.canvas.scrollTop = scrollTop;
        this.drawing = drawing;
        this.lastTimings = timings;
        this.restoreFocus();
      },
      (error: unknown) => {
        if (generation !== this.generation) {
          return;
        }
        this.drawing = null;
        const reason = error instanceof Error ? error.message : String(error);
        this.showMessage(`Could not draw the workflow: ${reason}`, true);
      }
    );
    return this.layoutDone;
  }

  private showMessage(text: string, isError = false): void {
    const note = this.el.ownerDocument.createElement('div');
    note.className = isError ? 'sf-graph-note sf-graph-error-note' : 'sf-graph-note';
    note.textContent = text;
    this.canvas.replaceChildren(note);
  }

  /** Only `states` changed: recolour in place, no new layout. */
  private onStates(): void {
    this.drawing?.applyStates(this.states());
    this.drawing?.markVerdicts(this.info());
    this.updateDetails();
  }

  private onSelection(): void {
    this.drawing?.markVerdicts(this.info());
    this.drawing?.setSelected(this.model.get('selected') as string);
    this.updateDetails();
  }

  private info(): InfoMap {
    return (this.model.get('info') as InfoMap | null) ?? {};
  }

  /** A click or Enter/Space on the drawing; returns whether it hit something. */
  private onActivate(target: EventTarget | null): boolean {
    const hit: Hit | null = this.drawing ? this.drawing.hit(target) : null;
    if (!hit) {
      return false;
    }
    if (hit.kind === 'group') {
      if (target instanceof Element && target.ownerDocument.activeElement === target) {
        this.focusAfterLayout = hit.address;
      }
      this.toggleCollapsed(hit.address);
    } else {
      this.select(hit.address);
    }
    return true;
  }

  private toggleCollapsed(address: string): void {
    const collapsed = this.collapsed();
    const next = collapsed.includes(address)
      ? collapsed.filter(a => a !== address)
      : [...collapsed, address];
    this.model.set('collapsed', next);
    this.model.save_changes();
  }

  private select(address: string): void {
    if (this.model.get('selected') !== address) {
      this.model.set('selected', address);
      this.model.save_changes();
    }
  }

  // Keyboard users keep their place when a group is toggled (the drawing is new).
  private restoreFocus(): void {
    const address = this.focusAfterLayout;
    this.focusAfterLayout = null;
    if (address === null || !this.drawing) {
      return;
    }
    const target =
      this.drawing.element(address) ?? this.drawing.clusterLabel(address);
    (target as unknown as HTMLElement | null)?.focus?.();
  }

  private toggleFit(): void {
    const fit = this.canvas.classList.toggle('sf-fit');
    this.fitButton.setAttribute('aria-pressed', String(fit));
    this.updateHeight();
  }

  /**
   * The `height` trait is the most the drawing takes: a small graph takes only the room it needs, a large
   * one scrolls. Fitted, the drawing is scaled into a box of exactly that height.
   */
  private updateHeight(): void {
    const value: unknown = this.model.get('height');
    const height = typeof value === 'string' && value ? value : '420px';
    this.canvas.style.maxHeight = height;
    this.canvas.style.height = this.canvas.classList.contains('sf-fit') ? height : '';
  }

  private updateStatus(): void {
    const runStatus = String(this.model.get('run_status') ?? '');
    const message = String(this.model.get('message') ?? '');
    this.status.replaceChildren();
    this.status.setAttribute('data-status', runStatus);
    const doc = this.el.ownerDocument;
    if (runStatus) {
      const badge = doc.createElement('span');
      badge.className = 'sf-graph-run-status';
      // The trait's word as it is (tests match it); CSS capitalises it.
      badge.textContent = runStatus;
      this.status.appendChild(badge);
    }
    if (message) {
      const text = doc.createElement('span');
      text.className = 'sf-graph-message';
      text.textContent = message;
      this.status.appendChild(text);
    }
    const running = runStatus === 'running';
    this.runButton.disabled = running;
    this.cancelButton.disabled = !running;
  }

  private updateDetails(): void {
    const address = String(this.model.get('selected') ?? '');
    const spec = this.spec();
    const node = spec && address ? findNode(spec, address) : null;
    const known = node !== null && !isGroup(node);
    const info = ((this.model.get('info') as InfoMap | null) ?? {})[address];
    // `states` is the live source; `info.state` covers a step `states` does not list yet.
    const state = toState(this.states()[address] ?? info?.state);
    renderDetails(this.details, address, info, state, {
      known,
      onClose: () => this.select(''),
      links: runLinks()
    });
  }
}
