import { describe, expect, it } from 'vitest';

import {
  findNode,
  isInside,
  outermost,
  parentAddress,
  readComposerSpec,
  readPositions,
  siblingAddress,
  valueText,
  walk
} from '../spec';
import { tabular } from './fixtures';

describe('readComposerSpec', () => {
  it('reads the tree with sources and typed parameters', () => {
    const spec = readComposerSpec(tabular())!;
    expect(spec.app).toBe('tabular');
    expect(spec.workflow).toBe('pipeline');
    expect([...walk(spec.root)].map(n => n.address)).toEqual([
      'gather',
      'preprocess',
      'modeling',
      'modeling/linear',
      'modeling/forest',
      'evaluate'
    ]);
    const preprocess = findNode(spec, 'preprocess')!;
    expect(preprocess.dependsOn).toEqual(['gather']);
    expect(preprocess.script).toBe('steps/preprocess.py');
    expect(preprocess.parameters).toEqual({
      'test-size': { type: 'float', default: 0.25 },
      shuffle: { type: 'bool', default: true }
    });
    expect(findNode(spec, 'modeling')!.kind).toBe('workflow');
    expect(findNode(spec, '')).toBe(spec.root);
    expect(findNode(spec, 'nope')).toBeNull();
  });

  it('returns null when there is nothing to draw', () => {
    expect(readComposerSpec({})).toBeNull();
    expect(readComposerSpec(null)).toBeNull();
    expect(readComposerSpec({ root: 'x' })).toBeNull();
  });

  it('draws what it can from an odd spec', () => {
    const spec = readComposerSpec({
      root: {
        name: 'w',
        nodes: [
          { name: 'a', depends_on: ['b', 3], parameters: { n: { type: 'weird', default: [1] }, k: 5 } },
          'junk',
          { kind: 'workflow', name: 'g', nodes: [{ name: 'x' }] },
          { kind: 'service', name: 's', model_uri: 'models:/m/1' }
        ]
      }
    })!;
    expect(spec.workflow).toBe('w');
    const a = findNode(spec, 'a')!;
    expect(a.kind).toBe('executor');
    expect(a.dependsOn).toEqual(['b']);
    expect(a.parameters).toEqual({ n: { type: 'str', default: null }, k: { type: 'str', default: 5 } });
    expect(findNode(spec, 'g/x')!.name).toBe('x'); // the address derived from the parent
    expect(findNode(spec, 's')!.modelUri).toBe('models:/m/1');
    expect(findNode(spec, 's')!.parameters).toEqual({});
  });
});

describe('readPositions', () => {
  it('keeps only points', () => {
    expect(
      readPositions({ a: { x: 1, y: 2 }, b: { x: '1', y: 2 }, c: null, d: { x: NaN, y: 0 }, e: { x: 0, y: -3.5 } })
    ).toEqual({ a: { x: 1, y: 2 }, e: { x: 0, y: -3.5 } });
    expect(readPositions(undefined)).toEqual({});
    expect(readPositions([1, 2])).toEqual({});
  });
});

describe('addresses', () => {
  it('finds parents and siblings', () => {
    expect(parentAddress('a')).toBe('');
    expect(parentAddress('g/h/a')).toBe('g/h');
    expect(siblingAddress('g/a', 'b')).toBe('g/b');
    expect(siblingAddress('a', 'b')).toBe('b');
    expect(isInside('g/a', 'g')).toBe(true);
    expect(isInside('gg/a', 'g')).toBe(false);
    expect(isInside('g', 'g')).toBe(false);
    expect(isInside('a', '')).toBe(true);
  });

  it('leaves out nodes inside another selected group', () => {
    expect(outermost(['g/a', 'g', 'b', 'g/h/c', 'b'])).toEqual(['g', 'b']);
    expect(outermost(['g/a', 'g/b'])).toEqual(['g/a', 'g/b']);
  });

  it('writes values for input fields', () => {
    expect(valueText(true)).toBe('true');
    expect(valueText(0.25)).toBe('0.25');
    expect(valueText(null)).toBe('');
    expect(valueText('x')).toBe('x');
  });
});
