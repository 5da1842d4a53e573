/**
 * DOT text for a workflow tree: pure functions, no DOM, no Graphviz.
 *
 * Mirrors `scanflow_jupyter/workflow/dot.py` (ids, colours, roll-up rule), and adds
 * collapsing: a nested workflow listed in `collapsed` is drawn as one node.
 */
import {
  GraphSpec,
  SpecNode,
  State,
  StateMap,
  isGroup,
  leafAddresses,
  stateOf
} from './spec';
import STATES_JSON from '../../../scanflow_jupyter/workflow/states.json';

/** Fill colours by node state, from the one source both languages read (scanflow_jupyter/workflow/states.json). */
export const STATE_COLOURS: { readonly [state in State]: string } = STATES_JSON.fill;

/** Cluster border colours by rolled-up state (`BORDER_COLOURS` in workflow/colours.py). */
const BORDER_COLOURS: { readonly [state: string]: string } = STATES_JSON.border;
const DEFAULT_BORDER = '#999999';

/** Order in which a group shows the state of one of its steps, when not all are done. */
const ROLLUP: readonly State[] = [
  'failed',
  'running',
  'queued',
  'cancelled',
  'skipped',
  'pending'
];

/**
 * The state shown for a nested workflow, from the states of the steps inside it:
 * all succeeded or cached -> succeeded, else the first of failed, running, queued,
 * cancelled, skipped, pending found (`group_state` in workflow/dot.py).
 */
export function groupState(states: readonly State[]): State {
  if (states.length > 0 && states.every(s => s === 'succeeded' || s === 'cached')) {
    return 'succeeded';
  }
  for (const s of ROLLUP) {
    if (states.includes(s)) {
      return s;
    }
  }
  return 'pending';
}

/** The rolled-up state of the steps at `addresses`. */
export function rollUp(states: StateMap | null | undefined, addresses: readonly string[]): State {
  return groupState(addresses.map(a => stateOf(states, a)));
}

export function fillColour(state: State): string {
  return STATE_COLOURS[state];
}

export function borderColour(state: State): string {
  return BORDER_COLOURS[state] ?? DEFAULT_BORDER;
}

/**
 * Escape text for a DOT double-quoted string. Backslashes are doubled, so Graphviz
 * escapes such as `\N` or `\l` in a user's name stay literal; quotes are escaped;
 * line breaks become `\n`. Every string is emitted quoted, never as `<...>`, so no
 * user text can become an HTML-like label.
 */
export function escapeDot(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\r\n|\r|\n/g, '\\n');
}

/** `text` as a DOT double-quoted string. */
export function quote(text: string): string {
  return `"${escapeDot(text)}"`;
}

// Same as `_safe` in workflow/dot.py, so ids match the DOT made in Python: graphviz
// reads "a:b" in an edge as node a, port b.
function safe(address: string): string {
  return address.replace(/:/g, '%3A');
}

/** The DOT node id (and SVG element id) of a step or collapsed group: `sf/<address>`. */
export function nodeId(address: string): string {
  return `sf/${safe(address)}`;
}

/** The DOT subgraph name (and SVG id) of an expanded nested workflow: `cluster/<address>`. */
export function clusterId(address: string): string {
  return `cluster/${safe(address)}`;
}

const EMPTY = '__empty__';

/** A drawn group (expanded cluster or collapsed node) and the steps it stands for. */
export interface GroupEntry {
  address: string;
  name: string;
  leaves: string[];
}

/**
 * What a drawing contains, keyed by SVG element id: lets the renderer decorate and
 * patch the SVG, and the view map clicks back to addresses, without parsing ids.
 */
export interface GraphIndex {
  /** `sf/<address>` -> step address */
  steps: Map<string, string>;
  /** `sf/<address>` -> collapsed group */
  collapsed: Map<string, GroupEntry>;
  /** `cluster/<address>` -> expanded group */
  clusters: Map<string, GroupEntry>;
}

export interface DotResult {
  dot: string;
  index: GraphIndex;
}

type Attrs = [string, string][];

function attrList(attrs: Attrs): string {
  return attrs.map(([k, v]) => `${k}=${quote(v)}`).join(', ');
}

class DotWriter {
  readonly lines: string[] = [];
  readonly index: GraphIndex = {
    steps: new Map(),
    collapsed: new Map(),
    clusters: new Map()
  };

  constructor(
    private readonly states: StateMap,
    private readonly collapsed: ReadonlySet<string>
  ) {}

  isCollapsed(node: SpecNode): boolean {
    return isGroup(node) && this.collapsed.has(node.address);
  }

  /**
   * The drawn node that edges to or from `node` attach to: the node itself for a step
   * or a collapsed group, else the first drawn node inside the (expanded) group.
   */
  anchor(node: SpecNode): string {
    if (!isGroup(node) || this.isCollapsed(node)) {
      return nodeId(node.address);
    }
    if (node.nodes.length === 0) {
      return nodeId(`${node.address}/${EMPTY}`);
    }
    return this.anchor(node.nodes[0]);
  }

  drawChildren(wf: SpecNode, indent: string): void {
    const byName = new Map<string, SpecNode>();
    for (const node of wf.nodes) {
      byName.set(node.name, node);
    }
    for (const node of wf.nodes) {
      if (this.isCollapsed(node)) {
        this.drawCollapsed(node, indent);
      } else if (isGroup(node)) {
        this.drawCluster(node, indent);
      } else {
        this.drawStep(node, indent);
      }
    }
    // Edges after the nodes so every endpoint is declared inside its own cluster first.
    for (const node of wf.nodes) {
      for (const dep of node.dependsOn) {
        const upstream = byName.get(dep);
        if (!upstream) {
          continue; // reported by validation in Python; draw what is valid
        }
        const attrs: Attrs = [];
        if (isGroup(upstream) && !this.isCollapsed(upstream)) {
          attrs.push(['ltail', clusterId(upstream.address)]);
        }
        if (isGroup(node) && !this.isCollapsed(node)) {
          attrs.push(['lhead', clusterId(node.address)]);
        }
        const tail = quote(this.anchor(upstream));
        const head = quote(this.anchor(node));
        const suffix = attrs.length ? ` [${attrList(attrs)}]` : '';
        this.lines.push(`${indent}${tail} -> ${head}${suffix};`);
      }
    }
  }

  drawStep(node: SpecNode, indent: string): void {
    const id = nodeId(node.address);
    const state = stateOf(this.states, node.address);
    this.index.steps.set(id, node.address);
    const attrs: Attrs = [
      ['id', id],
      ['label', node.name],
      ['fillcolor', fillColour(state)]
    ];
    if (node.kind === 'service') {
      attrs.push(['shape', 'component']);
    }
    this.lines.push(`${indent}${quote(id)} [${attrList(attrs)}];`);
  }

  drawCollapsed(node: SpecNode, indent: string): void {
    const id = nodeId(node.address);
    const leaves = leafAddresses(node);
    const state = rollUp(this.states, leaves);
    this.index.collapsed.set(id, { address: node.address, name: node.name, leaves });
    const attrs: Attrs = [
      ['id', id],
      ['label', node.name],
      ['shape', 'box3d'],
      ['style', 'filled'],
      ['fillcolor', fillColour(state)]
    ];
    this.lines.push(`${indent}${quote(id)} [${attrList(attrs)}];`);
  }

  drawCluster(node: SpecNode, indent: string): void {
    const id = clusterId(node.address);
    const leaves = leafAddresses(node);
    const state = rollUp(this.states, leaves);
    this.index.clusters.set(id, { address: node.address, name: node.name, leaves });
    const inner = indent + '  ';
    this.lines.push(`${indent}subgraph ${quote(id)} {`);
    const attrs: Attrs = [
      ['id', id],
      ['label', node.name],
      ['style', 'rounded,filled'],
      ['fillcolor', '#fafafa'],
      ['color', borderColour(state)],
      ['penwidth', '2']
    ];
    this.lines.push(`${inner}graph [${attrList(attrs)}];`);
    if (node.nodes.length === 0) {
      const empty = nodeId(`${node.address}/${EMPTY}`);
      this.lines.push(
        `${inner}${quote(empty)} [${attrList([
          ['id', empty],
          ['label', '(empty)'],
          ['style', 'dashed']
        ])}];`
      );
    }
    this.drawChildren(node, inner);
    this.lines.push(`${indent}}`);
  }
}

/**
 * DOT text of `spec`, coloured by `states`, with the nested workflows at the
 * addresses in `collapsed` drawn as single nodes, plus an index of what was drawn.
 */
export function buildDot(
  spec: GraphSpec,
  states: StateMap | null | undefined,
  collapsed: Iterable<string> | null | undefined
): DotResult {
  const writer = new DotWriter(states ?? {}, new Set(collapsed ?? []));
  const graphAttrs: Attrs = [
    ['compound', 'true'],
    ['rankdir', 'LR'],
    ['fontname', 'Helvetica'],
    ['bgcolor', 'transparent']
  ];
  writer.lines.push(`digraph ${quote(spec.root.name)} {`);
  writer.lines.push(`  graph [${attrList(graphAttrs)}];`);
  writer.lines.push(
    `  node [${attrList([
      ['shape', 'box'],
      ['style', 'rounded,filled'],
      ['fontname', 'Helvetica']
    ])}];`
  );
  writer.lines.push(`  edge [${attrList([['color', '#555555']])}];`);
  writer.drawChildren(spec.root, '  ');
  writer.lines.push('}');
  return { dot: writer.lines.join('\n') + '\n', index: writer.index };
}

/** DOT text only; see {@link buildDot}. */
export function toDot(
  spec: GraphSpec,
  states: StateMap | null | undefined,
  collapsed: Iterable<string> | null | undefined
): string {
  return buildDot(spec, states, collapsed).dot;
}
