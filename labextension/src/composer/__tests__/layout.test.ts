import { describe, expect, it } from 'vitest';

import {
  EMPTY_GROUP,
  GAP_X,
  GAP_Y,
  GROUP_HEADER,
  GROUP_PAD,
  STEP_HEIGHT,
  STEP_WIDTH,
  layout,
  ranks
} from '../layout';
import { ComposerNode, readComposerSpec } from '../spec';
import { tabular } from './fixtures';

function node(name: string, after: string[] = [], nodes: ComposerNode[] = [], prefix = ''): ComposerNode {
  return {
    kind: nodes.length ? 'workflow' : 'executor',
    name,
    address: prefix ? `${prefix}/${name}` : name,
    dependsOn: after,
    nodes,
    script: null,
    function: 'm:f',
    parameters: {},
    modelUri: null,
    requirements: null,
    retries: 0,
    timeout: null,
    resources: { cpu: null, memory: null, gpu: 0 }
  };
}

function root(...nodes: ComposerNode[]): ComposerNode {
  return { ...node('w'), kind: 'workflow', address: '', nodes };
}

const column = (i: number): number => i * (STEP_WIDTH + GAP_X);
const row = (i: number): number => i * (STEP_HEIGHT + GAP_Y);

describe('ranks', () => {
  it('puts a node one column right of the furthest thing it runs after', () => {
    const r = ranks([node('a'), node('b', ['a']), node('c', ['a']), node('d', ['b', 'c', 'a'])]);
    expect(Object.fromEntries(r)).toEqual({ a: 0, b: 1, c: 1, d: 2 });
  });

  it('does not care about declaration order', () => {
    const r = ranks([node('d', ['c']), node('c', ['b']), node('b', ['a']), node('a')]);
    expect(Object.fromEntries(r)).toEqual({ a: 0, b: 1, c: 2, d: 3 });
  });

  it('ignores unknown dependencies and self-loops, and survives a cycle', () => {
    expect(Object.fromEntries(ranks([node('a', ['nope', 'a'])]))).toEqual({ a: 0 });
    const r = ranks([node('a', ['c']), node('b', ['a']), node('c', ['b'])]);
    expect([...r.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(new Set(r.values()).size).toBe(3); // still spread out
  });
});

describe('layout', () => {
  it('lays out columns by rank, left to right, stacked in declaration order', () => {
    const boxes = layout(root(node('a'), node('b', ['a']), node('c', ['a']), node('d', ['b', 'c'])), {});
    expect(boxes.get('a')).toEqual({ x: 0, y: 0, width: STEP_WIDTH, height: STEP_HEIGHT });
    expect(boxes.get('b')).toMatchObject({ x: column(1), y: row(0) });
    expect(boxes.get('c')).toMatchObject({ x: column(1), y: row(1) });
    expect(boxes.get('d')).toMatchObject({ x: column(2), y: row(0) });
  });

  it('sizes a nested workflow to hold its nodes, placed inside relative to it', () => {
    const spec = readComposerSpec(tabular())!;
    const boxes = layout(spec.root, {});
    const linear = boxes.get('modeling/linear')!;
    const forest = boxes.get('modeling/forest')!;
    expect(linear).toMatchObject({ x: GROUP_PAD, y: GROUP_HEADER });
    expect(forest).toMatchObject({ x: GROUP_PAD, y: GROUP_HEADER + row(1) });
    const modeling = boxes.get('modeling')!;
    expect(modeling).toMatchObject({ x: column(2), y: 0 });
    expect(modeling.width).toBe(GROUP_PAD + STEP_WIDTH + GROUP_PAD);
    expect(modeling.height).toBe(forest.y + STEP_HEIGHT + GROUP_PAD);
    // evaluate runs after the group: one column right of the group's (wider) box
    expect(boxes.get('evaluate')).toMatchObject({ x: column(2) + modeling.width + GAP_X, y: 0 });
  });

  it('keeps stored positions and grows the group around them', () => {
    const spec = readComposerSpec(tabular())!;
    const boxes = layout(spec.root, {
      gather: { x: -50, y: 300 },
      'modeling/forest': { x: 400, y: 200 }
    });
    expect(boxes.get('gather')).toMatchObject({ x: -50, y: 300 });
    expect(boxes.get('modeling/forest')).toMatchObject({ x: 400, y: 200 });
    const modeling = boxes.get('modeling')!;
    expect(modeling.width).toBe(400 + STEP_WIDTH + GROUP_PAD);
    expect(modeling.height).toBe(200 + STEP_HEIGHT + GROUP_PAD);
  });

  it('moves a node placed by the layout off the nodes the user placed', () => {
    // `b` was dragged onto the slot the layout gives the new node `c`.
    const boxes = layout(root(node('a'), node('b'), node('c')), { a: { x: 0, y: 0 }, b: { x: 0, y: row(2) } });
    const c = boxes.get('c')!;
    expect(c.x).toBe(0);
    expect(c.y).toBe(row(3)); // below b, not on it
    for (const other of ['a', 'b']) {
      const o = boxes.get(other)!;
      const overlap = c.x < o.x + o.width && o.x < c.x + c.width && c.y < o.y + o.height && o.y < c.y + c.height;
      expect(overlap).toBe(false);
    }
  });

  it('gives an empty nested workflow a box of its own', () => {
    const empty = { ...node('g'), kind: 'workflow' as const };
    const boxes = layout(root(node('a'), empty), {});
    expect(boxes.get('g')).toEqual({ x: 0, y: row(1), ...EMPTY_GROUP });
  });

  it('lays out an empty workflow as nothing', () => {
    expect(layout(root(), {}).size).toBe(0);
  });

  it('nests groups in groups', () => {
    const inner = node('inner', [], [node('x', [], [], 'outer/inner')], 'outer');
    const outer = node('outer', [], [inner]);
    const boxes = layout(root(outer), {});
    expect(boxes.get('outer/inner/x')).toMatchObject({ x: GROUP_PAD, y: GROUP_HEADER });
    expect(boxes.get('outer/inner')).toMatchObject({ x: GROUP_PAD, y: GROUP_HEADER });
    const innerBox = boxes.get('outer/inner')!;
    expect(boxes.get('outer')!.width).toBe(Math.max(EMPTY_GROUP.width, GROUP_PAD + innerBox.width + GROUP_PAD));
  });
});
