/**
 * The composer's editing aids: which nodes "Runs after" offers (never one that closes a cycle: issue 19), the
 * properties read from the spec, problems marked on nodes, palette names, and run states on the canvas.
 */
import { describe, expect, it } from 'vitest';

import { marksOf } from '../canvas';
import {
  ComposerSpec,
  dependencyChoices,
  fieldText,
  findNode,
  freeName,
  problemsByNode,
  readComposerSpec
} from '../spec';
import { tabular } from './fixtures';

function spec(): ComposerSpec {
  const read = readComposerSpec(tabular());
  if (!read) {
    throw new Error('no spec');
  }
  return read;
}

const state = { positions: {}, error: '', pythonCode: '', savedPath: '', message: '', revision: 0, height: '' };

describe('dependencyChoices', () => {
  it('leaves out the nodes downstream, which would close a cycle', () => {
    const s = spec();
    const gather = findNode(s, 'gather')!;
    // preprocess, modeling and evaluate all run after gather: none can be something gather runs after.
    expect(dependencyChoices(gather, s.root.nodes).map(n => n.name)).toEqual([]);
    const modeling = findNode(s, 'modeling')!;
    expect(dependencyChoices(modeling, s.root.nodes).map(n => n.name)).toEqual(['gather']);
    const linear = findNode(s, 'modeling/linear')!;
    expect(dependencyChoices(linear, modeling.nodes).map(n => n.name)).toEqual(['forest']);
  });
});

describe('properties', () => {
  it('reads requirements, retries, timeout and resources, with defaults when absent', () => {
    const raw = tabular() as { root: { nodes: { [k: string]: unknown }[] } };
    Object.assign(raw.root.nodes[0], {
      requirements: ['numpy', 'pandas'],
      retries: 2,
      timeout: 30,
      resources: { cpu: '500m', memory: '1Gi', gpu: 1 }
    });
    const s = readComposerSpec(raw)!;
    const gather = findNode(s, 'gather')!;
    expect(fieldText(gather, 'requirements')).toBe('numpy, pandas');
    expect(fieldText(gather, 'retries')).toBe('2');
    expect(fieldText(gather, 'timeout')).toBe('30');
    expect(fieldText(gather, 'resources.cpu')).toBe('500m');
    expect(fieldText(gather, 'resources.gpu')).toBe('1');
    const evaluate = findNode(s, 'evaluate')!;
    expect([fieldText(evaluate, 'timeout'), fieldText(evaluate, 'retries'), fieldText(evaluate, 'resources.memory')]).toEqual([
      '',
      '0',
      ''
    ]);
  });
});

describe('problemsByNode', () => {
  it('puts each problem on the deepest node its place names', () => {
    const marks = problemsByNode(spec(), [
      { where: 'modeling/linear', message: 'script not found' },
      { where: 'gather.retries', message: 'must be >= 0' },
      { where: 'tracker', message: 'an application-wide problem' }
    ]);
    expect(marks).toEqual({ 'modeling/linear': ['script not found'], gather: ['must be >= 0'] });
  });
});

describe('freeName', () => {
  it('numbers a name that is taken', () => {
    expect(freeName('step', ['gather'])).toBe('step');
    expect(freeName('step', ['step', 'step2'])).toBe('step3');
  });
});

describe('marksOf', () => {
  it('colours groups by the roll-up of their steps', () => {
    const marks = marksOf(spec(), {
      ...state,
      spec: null,
      states: { gather: 'succeeded', preprocess: 'succeeded', 'modeling/linear': 'running', 'modeling/forest': 'succeeded' }
    });
    expect(marks.states?.modeling).toBe('running');
    expect(marks.states?.gather).toBe('succeeded');
  });
});
