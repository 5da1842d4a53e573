/**
 * The composer's spec as @xyflow/react nodes and edges: one node per executor or
 * service, one group node per nested workflow (its nodes are children held inside it),
 * and one edge per declared dependency, between siblings, as `depends_on` says it.
 */
import { Edge, MarkerType, Node, NodeHandle, Position } from '@xyflow/react';

import { Layout, STEP_HEIGHT, STEP_WIDTH, layout } from './layout';
import { ComposerNode, ComposerSpec, Positions, isGroup, siblingAddress, walk } from './spec';

/** Node types registered with the canvas (`.react-flow__node-<type>`). */
export const STEP_TYPE = 'sfStep';
export const SERVICE_TYPE = 'sfService';
export const GROUP_TYPE = 'sfGroup';

/** What a node draws: its spec, its validation problems, and its state in the run shown (if any). */
export type FlowNodeData = { node: ComposerNode; problems?: string[]; state?: string };

/** Per-node marks drawn over the spec: validation problems and a run's states, by address. */
export interface NodeMarks {
  problems?: { readonly [address: string]: string[] };
  states?: { readonly [address: string]: string };
}
export type FlowNode = Node<FlowNodeData>;
export type FlowEdge = Edge;

/** A handle's size on screen (10px and a 1px border: composer.css), and the height of a group's (by its title). */
export const HANDLE_SIZE = 12;
export const GROUP_HANDLE_Y = 16;

/**
 * Where a node's handles are, declared rather than measured: a node just added or redrawn
 * can be connected at once, before @xyflow/react has measured it again. Input on the left,
 * output on the right, centred on `y` (as composer.css places them).
 */
export function handlesOf(width: number, y: number): NodeHandle[] {
  const half = HANDLE_SIZE / 2;
  const handle = { id: null, width: HANDLE_SIZE, height: HANDLE_SIZE, y: y - half };
  return [
    { ...handle, type: 'target', position: Position.Left, x: -half },
    { ...handle, type: 'source', position: Position.Right, x: width - half }
  ];
}

/** The id of the edge drawn for "`target` depends on `source`". */
export function edgeId(source: string, target: string): string {
  return `${source}->${target}`;
}

function typeOf(node: ComposerNode): string {
  return isGroup(node) ? GROUP_TYPE : node.kind === 'service' ? SERVICE_TYPE : STEP_TYPE;
}

/**
 * Nodes in the order @xyflow/react needs (a group before its children), positioned by
 * `positions` or the layered layout; `selected` addresses keep their selection.
 */
export function toNodes(
  spec: ComposerSpec,
  positions: Positions,
  selected: ReadonlySet<string> = new Set(),
  boxes: Layout = layout(spec.root, positions),
  marks: NodeMarks = {}
): FlowNode[] {
  const nodes: FlowNode[] = [];
  for (const node of walk(spec.root)) {
    const box = boxes.get(node.address);
    if (!box) {
      continue;
    }
    const parent = node.address.includes('/')
      ? node.address.slice(0, node.address.lastIndexOf('/'))
      : '';
    const flow: FlowNode = {
      id: node.address,
      type: typeOf(node),
      position: { x: box.x, y: box.y },
      data: {
        node,
        ...(marks.problems?.[node.address] ? { problems: marks.problems[node.address] } : {}),
        ...(marks.states?.[node.address] ? { state: marks.states[node.address] } : {})
      },
      selected: selected.has(node.address),
      ariaLabel: `${isGroup(node) ? 'nested workflow' : node.kind === 'service' ? 'service' : 'step'} ${node.name}`
    };
    if (isGroup(node)) {
      flow.width = box.width;
      flow.height = box.height;
      flow.style = { width: box.width, height: box.height };
      flow.handles = handlesOf(box.width, GROUP_HANDLE_Y);
    } else {
      flow.handles = handlesOf(STEP_WIDTH, STEP_HEIGHT / 2);
    }
    if (parent) {
      flow.parentId = parent;
      flow.extent = 'parent';
      flow.expandParent = true;
    }
    nodes.push(flow);
  }
  return nodes;
}

/**
 * One edge per dependency on a sibling that exists (an unknown dependency has nothing
 * to point at; validation reports it). (@xyflow/react draws edges between
 * the nodes of a nested workflow above it.)
 */
export function toEdges(spec: ComposerSpec, selected: ReadonlySet<string> = new Set()): FlowEdge[] {
  const edges: FlowEdge[] = [];
  const visit = (group: ComposerNode): void => {
    const names = new Set(group.nodes.map(n => n.name));
    for (const node of group.nodes) {
      for (const dep of node.dependsOn) {
        if (!names.has(dep) || dep === node.name) {
          continue;
        }
        const source = siblingAddress(node.address, dep);
        const id = edgeId(source, node.address);
        edges.push({
          id,
          source,
          target: node.address,
          selected: selected.has(id),
          markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
          ariaLabel: `${node.name} runs after ${dep}`
        });
      }
      if (isGroup(node)) {
        visit(node);
      }
    }
  };
  visit(spec.root);
  return edges;
}

/** Both, from the traits' values. */
export function toFlow(
  spec: ComposerSpec,
  positions: Positions,
  selected: ReadonlySet<string> = new Set()
): { nodes: FlowNode[]; edges: FlowEdge[] } {
  return { nodes: toNodes(spec, positions, selected), edges: toEdges(spec, selected) };
}
