/**
 * The workflow tree of the `spec` trait (widgets/PROTOCOL.md), as every widget that draws a
 * workflow reads it: defensively, so that a view draws what it can from a partial or odd
 * spec and never throws on it. Each widget adds its own fields to the nodes through
 * `readTree`'s `extend`. Python side: `scanflow_jupyter/notebook/widgets/spec.py`.
 */

export type NodeKind = 'executor' | 'service' | 'workflow';

/** A plain object as sent over the wire. */
export type Raw = { [key: string]: unknown };

/** The fields every node has; `nodes` is empty for a step. */
export interface TreeNode<N> {
  kind: NodeKind;
  name: string;
  /** `inner/step`, relative to the workflow drawn ("" is the workflow itself). */
  address: string;
  /** Names of siblings this node runs after. */
  dependsOn: string[];
  nodes: N[];
}

export interface Tree<N> {
  app: string;
  workflow: string;
  root: N;
}

export function asRecord(value: unknown): Raw | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Raw) : null;
}

export function asString(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

function readNode<N extends TreeNode<N>>(
  raw: unknown,
  prefix: string,
  index: number,
  extend: (node: TreeNode<N>, raw: Raw) => N
): N | null {
  const obj = asRecord(raw);
  if (!obj) {
    return null;
  }
  const name = asString(obj.name, `node${index}`);
  const kind: NodeKind = obj.kind === 'workflow' || obj.kind === 'service' ? obj.kind : 'executor';
  // The address is normally given; derive it from the parent when it is not.
  const address = asString(obj.address, prefix ? `${prefix}/${name}` : name);
  const dependsOn = Array.isArray(obj.depends_on)
    ? obj.depends_on.filter((d): d is string => typeof d === 'string')
    : [];
  const nodes: N[] = [];
  if (kind === 'workflow' && Array.isArray(obj.nodes)) {
    obj.nodes.forEach((child, i) => {
      const node = readNode(child, address, i, extend);
      if (node) {
        nodes.push(node);
      }
    });
  }
  return extend({ kind, name, address, dependsOn, nodes }, obj);
}

/**
 * Read a `spec` trait; `extend` turns each node's common fields (and its raw object) into the
 * widget's node. Returns `null` when there is nothing to draw (the default `{}` before Python
 * sets a workflow).
 */
export function readTree<N extends TreeNode<N>>(
  raw: unknown,
  extend: (node: TreeNode<N>, raw: Raw) => N
): Tree<N> | null {
  const obj = asRecord(raw);
  const rootObj = obj ? asRecord(obj.root) : null;
  if (!obj || !rootObj) {
    return null;
  }
  const root = readNode({ ...rootObj, kind: 'workflow', address: '' }, '', 0, extend);
  if (!root) {
    return null;
  }
  return { app: asString(obj.app, ''), workflow: asString(obj.workflow, root.name), root };
}

export function isGroup<N extends TreeNode<N>>(node: N): boolean {
  return node.kind === 'workflow';
}

/** Depth-first walk of every node under `node` (not `node` itself), parents before children, in spec order. */
export function* walk<N extends TreeNode<N>>(node: N): Generator<N> {
  for (const child of node.nodes) {
    yield child;
    if (isGroup(child)) {
      yield* walk(child);
    }
  }
}

/** The node at `address` ("" is the root), or null. */
export function findNode<N extends TreeNode<N>>(spec: Tree<N>, address: string): N | null {
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
