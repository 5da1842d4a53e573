/**
 * DOT -> SVG with WebAssembly Graphviz, and the live SVG that the view patches.
 *
 * `@hpcc-js/wasm-graphviz` ships its wasm inside its JavaScript (no file to serve,
 * nothing fetched at run time). It is imported dynamically so the bundler splits it
 * into its own chunk, loaded the first time a graph is drawn, and instantiated once.
 */
import type { Graphviz } from '@hpcc-js/wasm-graphviz';

import { GraphIndex, GroupEntry, borderColour, buildDot, fillColour, rollUp } from './dot';
import { GraphSpec, InfoMap, State, StateMap, stateOf } from './spec';

/** What the renderer needs from Graphviz; a seam for tests. */
export interface LayoutEngine {
  dot(dotSource: string, outputFormat?: 'svg'): string;
}

let loading: Promise<LayoutEngine> | null = null;

/** The Graphviz instance, loaded on first use and cached (a failed load is retried). */
export function loadGraphviz(): Promise<LayoutEngine> {
  if (!loading) {
    const attempt: Promise<LayoutEngine> = import('@hpcc-js/wasm-graphviz').then(
      (m): Promise<Graphviz> => m.Graphviz.load()
    );
    loading = attempt;
    attempt.catch(() => {
      if (loading === attempt) {
        loading = null;
      }
    });
  }
  return loading;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Elements Graphviz's SVG output never contains and that could run or embed content. */
const FORBIDDEN = ['script', 'foreignObject', 'iframe', 'object', 'embed', 'image', 'use'];

/**
 * Parse Graphviz SVG output into an element of `doc`. Graphviz escapes all text it
 * writes; as a second line of defence the parse is XML (nothing runs while parsing)
 * and anything that could run script or load a resource is removed.
 */
export function parseSvg(svgText: string, doc: Document = document): SVGSVGElement {
  const parsed = new DOMParser().parseFromString(svgText, 'image/svg+xml');
  const root = parsed.documentElement;
  if (
    !root ||
    root.namespaceURI !== SVG_NS ||
    root.localName !== 'svg' ||
    parsed.getElementsByTagName('parsererror').length > 0
  ) {
    throw new Error('Graphviz returned something that is not SVG');
  }
  for (const name of FORBIDDEN) {
    for (const el of Array.from(root.getElementsByTagNameNS('*', name))) {
      el.remove();
    }
  }
  for (const el of Array.from(root.getElementsByTagName('*'))) {
    for (const attr of Array.from(el.attributes)) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on')) {
        el.removeAttributeNode(attr);
      } else if ((name === 'href' || name === 'xlink:href') && !attr.value.startsWith('#')) {
        el.removeAttributeNode(attr);
      }
    }
  }
  return doc.importNode(root, true) as unknown as SVGSVGElement;
}

/** What a click or key press on the drawing hit. */
export type Hit =
  | { kind: 'step'; address: string }
  | { kind: 'group'; address: string };

// The element that carries a node's fill: the first filled shape Graphviz drew.
function shapeOf(g: Element): Element | null {
  for (const child of Array.from(g.children)) {
    const tag = child.localName;
    if (
      (tag === 'path' || tag === 'polygon' || tag === 'ellipse') &&
      child.getAttribute('fill') !== 'none'
    ) {
      return child;
    }
  }
  return null;
}

// The element that carries a cluster's border: its first path or polygon.
function borderOf(g: Element): Element | null {
  for (const child of Array.from(g.children)) {
    if (child.localName === 'path' || child.localName === 'polygon') {
      return child;
    }
  }
  return null;
}

function setTitle(g: Element, text: string): void {
  for (const child of Array.from(g.children)) {
    if (child.localName === 'title') {
      child.textContent = text;
      return;
    }
  }
}

interface Part {
  g: Element;
  shape: Element | null;
}

/** An SVG drawing of a workflow, decorated for the view and patchable in place. */
export class Drawing {
  private readonly steps = new Map<string, Part>();
  private readonly groups = new Map<string, Part & { entry: GroupEntry }>();
  private readonly clusters = new Map<string, Part & { entry: GroupEntry }>();
  private readonly byAddress = new Map<string, Element>();
  private selected = '';

  constructor(
    readonly svg: SVGSVGElement,
    readonly index: GraphIndex
  ) {
    for (const g of Array.from(svg.querySelectorAll('g.node, g.cluster'))) {
      const id = g.getAttribute('id') ?? '';
      const step = index.steps.get(id);
      const group = index.collapsed.get(id);
      const cluster = index.clusters.get(id);
      if (step !== undefined) {
        this.steps.set(step, { g, shape: shapeOf(g) });
        this.byAddress.set(step, g);
        this.makeButton(g, 'step', step);
      } else if (group) {
        g.setAttribute('data-collapsed', 'true');
        this.groups.set(group.address, { g, shape: shapeOf(g), entry: group });
        this.makeButton(g, 'group', group.address);
      } else if (cluster) {
        this.clusters.set(cluster.address, { g, shape: borderOf(g), entry: cluster });
        g.setAttribute('data-address', cluster.address);
        // The label is the toggle; the box itself stays inert so clicks near nodes are safe.
        const label = g.querySelector('text');
        if (label) {
          label.classList.add('sf-graph-cluster-label');
          label.setAttribute('tabindex', '0');
          label.setAttribute('role', 'button');
          label.setAttribute('aria-label', `Collapse ${cluster.name}`);
        }
      }
    }
  }

  private makeButton(g: Element, kind: Hit['kind'], address: string): void {
    g.setAttribute('data-address', address);
    g.setAttribute('tabindex', '0');
    g.setAttribute('role', 'button');
    g.classList.add(kind === 'step' ? 'sf-graph-step' : 'sf-graph-group');
  }

  /** Set fill, `data-state` and tooltip of every step and group from `states`, in place. */
  applyStates(states: StateMap | null | undefined): void {
    for (const [address, part] of this.steps) {
      const state = stateOf(states, address);
      this.paint(part, state);
      setTitle(part.g, `${address} (${state})`);
    }
    for (const [address, part] of this.groups) {
      const state = rollUp(states, part.entry.leaves);
      this.paint(part, state);
      const n = part.entry.leaves.length;
      setTitle(
        part.g,
        `${address} (${state}, ${n} step${n === 1 ? '' : 's'}): click to expand`
      );
    }
    for (const [address, part] of this.clusters) {
      const state = rollUp(states, part.entry.leaves);
      part.g.setAttribute('data-state', state);
      part.shape?.setAttribute('stroke', borderColour(state));
      setTitle(part.g, `${address} (${state}): click the name to collapse`);
    }
  }

  /**
   * Outline the checker steps whose verdict is drift (a step that succeeded and found drift keeps its state's
   * colour; the outline and the tooltip say what it found). Call after {@link applyStates}.
   */
  markVerdicts(info: InfoMap | null | undefined): void {
    for (const [address, part] of this.steps) {
      const verdict = info?.[address]?.verdict;
      const drift = typeof verdict === 'string' && verdict.startsWith('DRIFT');
      part.g.classList.toggle('sf-graph-drift', drift);
      if (drift) {
        setTitle(part.g, `${address} (${part.g.getAttribute('data-state') ?? ''} · drift found)`);
      }
    }
  }

  private paint(part: Part, state: State): void {
    part.g.setAttribute('data-state', state);
    part.shape?.setAttribute('fill', fillColour(state));
  }

  /** Mark the step at `address` as selected ("" for none). */
  setSelected(address: string): void {
    this.byAddress.get(this.selected)?.classList.remove('sf-selected');
    this.selected = address;
    this.byAddress.get(address)?.classList.add('sf-selected');
  }

  /** The step or group toggle under `target`, if any. */
  hit(target: EventTarget | null): Hit | null {
    if (!(target instanceof Element) || !this.svg.contains(target)) {
      return null;
    }
    const label = target.closest('text.sf-graph-cluster-label');
    if (label) {
      const address = label.parentElement?.getAttribute('data-address');
      return address !== null && address !== undefined ? { kind: 'group', address } : null;
    }
    const g = target.closest('g.node');
    const address = g?.getAttribute('data-address');
    if (!g || address === null || address === undefined) {
      return null;
    }
    return { kind: g.getAttribute('data-collapsed') === 'true' ? 'group' : 'step', address };
  }

  /** The label of the expanded group at `address`, if drawn. */
  clusterLabel(address: string): Element | null {
    return this.clusters.get(address)?.g.querySelector('text.sf-graph-cluster-label') ?? null;
  }

  /** The `g.node` of a step or collapsed group, by address. */
  element(address: string): Element | null {
    return this.byAddress.get(address) ?? this.groups.get(address)?.g ?? null;
  }
}

export interface RenderTimings {
  dotMs: number;
  layoutMs: number;
  domMs: number;
}

/**
 * Lay out `spec` and return the decorated drawing (not yet in the document).
 * `engine` defaults to the shared WebAssembly Graphviz.
 */
export async function renderGraph(
  spec: GraphSpec,
  states: StateMap | null | undefined,
  collapsed: Iterable<string> | null | undefined,
  options: { doc?: Document; engine?: LayoutEngine } = {}
): Promise<{ drawing: Drawing; timings: RenderTimings }> {
  const engine = options.engine ?? (await loadGraphviz());
  const t0 = performance.now();
  const { dot, index } = buildDot(spec, states, collapsed);
  const t1 = performance.now();
  const svgText = engine.dot(dot, 'svg');
  const t2 = performance.now();
  const svg = parseSvg(svgText, options.doc ?? document);
  svg.classList.add('sf-graph-svg');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `Workflow ${spec.root.name}`);
  const drawing = new Drawing(svg, index);
  drawing.applyStates(states);
  const t3 = performance.now();
  return { drawing, timings: { dotMs: t1 - t0, layoutMs: t2 - t1, domMs: t3 - t2 } };
}
