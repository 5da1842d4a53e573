import { describe, expect, it } from 'vitest';

import { addTarget, deletion } from '../canvas';
import { findNode, readComposerSpec } from '../spec';
import { tabular } from './fixtures';

const spec = readComposerSpec(tabular())!;
const at = (address: string) => findNode(spec, address)!;

describe('deletion', () => {
  it('deletes the outermost nodes and only the edges between nodes that stay', () => {
    const messages = deletion(
      ['modeling/linear', 'modeling', 'gather'],
      [
        { source: 'gather', target: 'preprocess' }, // goes with gather
        { source: 'modeling', target: 'evaluate' }, // goes with modeling
        { source: 'preprocess', target: 'evaluate' } // between kept nodes: disconnect
      ]
    );
    expect(messages).toEqual([
      { event: 'disconnect', source: 'preprocess', target: 'evaluate' },
      { event: 'delete', address: 'modeling' },
      { event: 'delete', address: 'gather' }
    ]);
  });

  it('disconnects a selected edge alone', () => {
    expect(deletion([], [{ source: 'gather', target: 'preprocess' }])).toEqual([
      { event: 'disconnect', source: 'gather', target: 'preprocess' }
    ]);
  });
});

describe('addTarget', () => {
  it('adds into the selected group, beside the selected step, else at the top', () => {
    expect(addTarget([])).toBe('');
    expect(addTarget([at('gather')])).toBe('');
    expect(addTarget([at('modeling')])).toBe('modeling');
    expect(addTarget([at('modeling/linear')])).toBe('modeling');
    expect(addTarget([at('gather'), at('modeling')])).toBe('');
  });
});
