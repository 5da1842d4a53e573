import { describe, expect, it } from 'vitest';

import {
  GROUP_HANDLE_Y,
  GROUP_TYPE,
  HANDLE_SIZE,
  SERVICE_TYPE,
  STEP_TYPE,
  edgeId,
  handlesOf,
  toEdges,
  toFlow,
  toNodes
} from '../flow';
import { STEP_HEIGHT, STEP_WIDTH, layout } from '../layout';
import { readComposerSpec } from '../spec';
import { tabular } from './fixtures';

const spec = readComposerSpec(tabular())!;

describe('toNodes', () => {
  it('makes a node per step and a group node per nested workflow, parents first', () => {
    const nodes = toNodes(spec, {});
    expect(nodes.map(n => [n.id, n.type, n.parentId])).toEqual([
      ['gather', STEP_TYPE, undefined],
      ['preprocess', STEP_TYPE, undefined],
      ['modeling', GROUP_TYPE, undefined],
      ['modeling/linear', STEP_TYPE, 'modeling'],
      ['modeling/forest', STEP_TYPE, 'modeling'],
      ['evaluate', STEP_TYPE, undefined]
    ]);
    for (const node of nodes) {
      const index = nodes.findIndex(n => n.id === node.parentId);
      expect(index).toBeLessThan(nodes.indexOf(node)); // -1 for top-level nodes
    }
  });

  it('keeps children inside their group and sizes the group', () => {
    const nodes = toNodes(spec, {});
    const boxes = layout(spec.root, {});
    const linear = nodes.find(n => n.id === 'modeling/linear')!;
    expect(linear.extent).toBe('parent');
    expect(linear.expandParent).toBe(true);
    expect(linear.position).toEqual({ x: boxes.get('modeling/linear')!.x, y: boxes.get('modeling/linear')!.y });
    const modeling = nodes.find(n => n.id === 'modeling')!;
    expect([modeling.width, modeling.height]).toEqual([boxes.get('modeling')!.width, boxes.get('modeling')!.height]);
    expect(modeling.style).toEqual({ width: modeling.width, height: modeling.height });
    expect(nodes.find(n => n.id === 'gather')!.extent).toBeUndefined();
  });

  it('carries the spec node, the stored positions and the selection', () => {
    const nodes = toNodes(spec, { gather: { x: 5, y: 6 } }, new Set(['preprocess']));
    const gather = nodes.find(n => n.id === 'gather')!;
    expect(gather.position).toEqual({ x: 5, y: 6 });
    expect(gather.data.node.parameters).toEqual({ rows: { type: 'int', default: 0 } });
    expect(nodes.filter(n => n.selected).map(n => n.id)).toEqual(['preprocess']);
    expect(gather.ariaLabel).toBe('step gather');
  });

  it('declares where the handles are, so a node just drawn can be connected', () => {
    const nodes = toNodes(spec, {});
    const gather = nodes.find(n => n.id === 'gather')!;
    expect(gather.handles).toEqual(handlesOf(STEP_WIDTH, STEP_HEIGHT / 2));
    const [input, output] = gather.handles!;
    expect(input).toMatchObject({ type: 'target', position: 'left', x: -HANDLE_SIZE / 2, y: STEP_HEIGHT / 2 - HANDLE_SIZE / 2 });
    expect(output).toMatchObject({ type: 'source', position: 'right', x: STEP_WIDTH - HANDLE_SIZE / 2 });
    const modeling = nodes.find(n => n.id === 'modeling')!;
    expect(modeling.handles![1]).toMatchObject({ x: modeling.width! - HANDLE_SIZE / 2, y: GROUP_HANDLE_Y - HANDLE_SIZE / 2 });
  });

  it('draws a service as one', () => {
    const withService = readComposerSpec({
      root: { name: 'w', nodes: [{ kind: 'service', name: 's', address: 's', model_uri: 'models:/m/1' }] }
    })!;
    expect(toNodes(withService, {})[0].type).toBe(SERVICE_TYPE);
  });
});

describe('toEdges', () => {
  it('draws each dependency between siblings, as declared', () => {
    const edges = toEdges(spec);
    expect(edges.map(e => [e.id, e.source, e.target])).toEqual([
      ['gather->preprocess', 'gather', 'preprocess'],
      ['preprocess->modeling', 'preprocess', 'modeling'],
      ['modeling->evaluate', 'modeling', 'evaluate']
    ]);
    expect(edges[0].markerEnd).toMatchObject({ type: 'arrowclosed' });
  });

  it('draws dependencies inside nested workflows with their addresses', () => {
    const raw = tabular() as { root: { nodes: { nodes?: { depends_on: string[] }[] }[] } };
    raw.root.nodes[2].nodes![1].depends_on = ['linear'];
    const edges = toEdges(readComposerSpec(raw)!);
    expect(edges.map(e => e.id)).toContain(edgeId('modeling/linear', 'modeling/forest'));
  });

  it('skips dependencies on nothing', () => {
    const odd = readComposerSpec({ root: { name: 'w', nodes: [{ name: 'a', depends_on: ['ghost', 'a'] }] } })!;
    expect(toEdges(odd)).toEqual([]);
  });

  it('keeps the selection of edges', () => {
    const edges = toEdges(spec, new Set(['gather->preprocess']));
    expect(edges.filter(e => e.selected).map(e => e.id)).toEqual(['gather->preprocess']);
  });
});

describe('toFlow', () => {
  it('keeps the layout when every position is stored', () => {
    const { nodes, edges } = toFlow(spec, {});
    expect(edges).toHaveLength(3);
    const stored = Object.fromEntries(nodes.map(n => [n.id, n.position]));
    expect(toNodes(spec, stored).map(n => n.position)).toEqual(nodes.map(n => n.position));
  });
});
