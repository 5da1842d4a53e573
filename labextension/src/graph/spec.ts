/**
 * The workflow tree sent by the Python model (`spec` trait, see widgets/PROTOCOL.md),
 * read defensively: the view must draw what it can from a partial or odd spec,
 * never throw on it.
 */

/** Node states of the engine (`scanflow_jupyter.engine`), in PROTOCOL.md order. */
export const STATES = [
  'pending',
  'queued',
  'running',
  'succeeded',
  'failed',
  'skipped',
  'cached',
  'cancelled'
] as const;

export type State = (typeof STATES)[number];

export type NodeKind = 'executor' | 'service' | 'workflow';

/** One node of the tree; `nodes` is empty for a step. */
export interface SpecNode {
  kind: NodeKind;
  name: string;
  address: string;
  dependsOn: string[];
  nodes: SpecNode[];
}

export interface GraphSpec {
  app: string;
  workflow: string;
  root: SpecNode;
}

/** `states` trait: address -> state name. */
export type StateMap = { [address: string]: string };

/** Per-step details (`info` trait). */
export interface StepInfo {
  params?: { [name: string]: unknown } | null;
  state?: string | null;
  duration?: number | null;
  log_tail?: string | null;
  mlflow_run_id?: string | null;
  mlflow_url?: string | null;
  error?: string | null;
}

export type InfoMap = { [address: string]: StepInfo };

/** A known state, or `pending` for anything else (absent, null, a typo). */
export function toState(value: unknown): State {
  return typeof value === 'string' && (STATES as readonly string[]).includes(value)
    ? (value as State)
    : 'pending';
}

/** The state of the step at `address` (`pending` when absent). */
export function stateOf(states: StateMap | null | undefined, address: string): State {
  return toState(states ? states[address] : undefined);
}

export function isGroup(node: SpecNode): boolean {
  return node.kind === 'workflow';
}

function asString(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

function asRecord(value: unknown): { [key: string]: unknown } | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as { [key: string]: unknown })
    : null;
}

function readNode(raw: unknown, prefix: string, index: number): SpecNode | null {
  const obj = asRecord(raw);
  if (!obj) {
    return null;
  }
  const name = asString(obj.name, `node${index}`);
  const kind: NodeKind =
    obj.kind === 'workflow' || obj.kind === 'service' ? obj.kind : 'executor';
  // The address is normally given; derive it from the parent when it is not.
  const address = asString(obj.address, prefix ? `${prefix}/${name}` : name);
  const dependsOn = Array.isArray(obj.depends_on)
    ? obj.depends_on.filter((d): d is string => typeof d === 'string')
    : [];
  const nodes: SpecNode[] = [];
  if (kind === 'workflow' && Array.isArray(obj.nodes)) {
    obj.nodes.forEach((child, i) => {
      const node = readNode(child, address, i);
      if (node) {
        nodes.push(node);
      }
    });
  }
  return { kind, name, address, dependsOn, nodes };
}

/**
 * Read the `spec` trait. Returns `null` when there is nothing to draw
 * (the default `{}` before Python sets a workflow).
 */
export function readSpec(raw: unknown): GraphSpec | null {
  const obj = asRecord(raw);
  const rootObj = obj ? asRecord(obj.root) : null;
  if (!obj || !rootObj) {
    return null;
  }
  const root = readNode({ ...rootObj, kind: 'workflow', address: '' }, '', 0);
  if (!root) {
    return null;
  }
  return {
    app: asString(obj.app, ''),
    workflow: asString(obj.workflow, root.name),
    root
  };
}

/** Depth-first walk of every node under `node` (not `node` itself), in spec order. */
export function* walk(node: SpecNode): Generator<SpecNode> {
  for (const child of node.nodes) {
    yield child;
    if (isGroup(child)) {
      yield* walk(child);
    }
  }
}

/** The addresses of the steps (executors and services) inside a group, at any depth. */
export function leafAddresses(node: SpecNode): string[] {
  const out: string[] = [];
  for (const sub of walk(node)) {
    if (!isGroup(sub)) {
      out.push(sub.address);
    }
  }
  return out;
}

/** Find the node at `address` ("" is the root). */
export function findNode(spec: GraphSpec, address: string): SpecNode | null {
  if (address === '') {
    return spec.root;
  }
  for (const node of walk(spec.root)) {
    if (node.address === address) {
      return node;
    }
  }
  return null;
}
