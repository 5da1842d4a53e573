/**
 * Where each node of the composer sits: a stored position (the `positions` trait) when
 * there is one, else a layered layout, left to right as in the graph view: a node's
 * column is the length of the longest chain of dependencies leading to it, and the nodes
 * of a column are stacked in the order the workflow declares them. A nested workflow is a
 * box laid out the same way inside, sized to hold its nodes.
 *
 * Positions are relative to the nested workflow holding the node (as @xyflow/react wants
 * them for child nodes); the top level is relative to the canvas origin.
 */
import { ComposerNode, Point, Positions, isGroup } from './spec';

export const STEP_WIDTH = 180;
export const STEP_HEIGHT = 56;
export const GAP_X = 70;
export const GAP_Y = 24;
/** Room inside a nested workflow around its nodes, and above them for its title. */
export const GROUP_PAD = 20;
export const GROUP_HEADER = 32;
/** Size of a nested workflow that holds nothing (yet). */
export const EMPTY_GROUP = { width: 200, height: 90 };

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type Layout = Map<string, Box>;

/**
 * The column of each child of a workflow: 0 without dependencies, else one more than the
 * highest column of what it depends on. Unknown dependencies are ignored; a cycle (an
 * invalid application Python refused to create, but one loaded from a file may have it)
 * is cut where it closes, so every node still gets a column.
 */
export function ranks(nodes: ComposerNode[]): Map<string, number> {
  const byName = new Map(nodes.map(n => [n.name, n]));
  const rank = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (node: ComposerNode): number => {
    const known = rank.get(node.name);
    if (known !== undefined) {
      return known;
    }
    if (visiting.has(node.name)) {
      return -1; // a cycle: this edge does not push the node right
    }
    visiting.add(node.name);
    let r = 0;
    for (const dep of node.dependsOn) {
      const upstream = byName.get(dep);
      if (upstream && upstream !== node) {
        r = Math.max(r, visit(upstream) + 1);
      }
    }
    visiting.delete(node.name);
    rank.set(node.name, r);
    return r;
  };
  nodes.forEach(visit);
  return rank;
}

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/**
 * Lay out the children of `group` (recursively), writing each child's box into `out`;
 * returns the size the group needs to hold them.
 */
function layoutGroup(
  group: ComposerNode,
  positions: Positions,
  out: Layout,
  origin: Point
): { width: number; height: number } {
  const sizes = new Map<string, { width: number; height: number }>();
  for (const child of group.nodes) {
    sizes.set(
      child.address,
      isGroup(child)
        ? layoutGroup(child, positions, out, { x: GROUP_PAD, y: GROUP_HEADER })
        : { width: STEP_WIDTH, height: STEP_HEIGHT }
    );
  }

  // The layered layout of every child, used for those without a stored position.
  const rank = ranks(group.nodes);
  const columns: ComposerNode[][] = [];
  for (const child of group.nodes) {
    const r = rank.get(child.name) ?? 0;
    (columns[r] ??= []).push(child);
  }
  const computed = new Map<string, Point>();
  let x = origin.x;
  for (const column of columns) {
    if (!column) {
      continue;
    }
    let y = origin.y;
    let width = 0;
    for (const child of column) {
      const size = sizes.get(child.address)!;
      computed.set(child.address, { x, y });
      y += size.height + GAP_Y;
      width = Math.max(width, size.width);
    }
    x += width + GAP_X;
  }

  // Stored positions first; a node placed by the layout moves down past any box it would cover.
  const placed: Box[] = [];
  for (const child of group.nodes) {
    const stored = positions[child.address];
    if (stored) {
      const box = { ...stored, ...sizes.get(child.address)! };
      placed.push(box);
      out.set(child.address, box);
    }
  }
  for (const child of group.nodes) {
    if (positions[child.address]) {
      continue;
    }
    const box: Box = { ...computed.get(child.address)!, ...sizes.get(child.address)! };
    for (let hit = placed.find(p => overlaps(p, box)); hit; hit = placed.find(p => overlaps(p, box))) {
      box.y = hit.y + hit.height + GAP_Y;
    }
    placed.push(box);
    out.set(child.address, box);
  }

  if (placed.length === 0) {
    return { ...EMPTY_GROUP };
  }
  const right = Math.max(...placed.map(b => b.x + b.width));
  const bottom = Math.max(...placed.map(b => b.y + b.height));
  return {
    width: Math.max(EMPTY_GROUP.width, right + GROUP_PAD),
    height: Math.max(EMPTY_GROUP.height, bottom + GROUP_PAD)
  };
}

/** The box of every node under `root`, by address (positions relative to the holding group). */
export function layout(root: ComposerNode, positions: Positions): Layout {
  const out: Layout = new Map();
  layoutGroup(root, positions, out, { x: 0, y: 0 });
  return out;
}
