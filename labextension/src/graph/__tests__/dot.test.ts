import { describe, expect, it } from 'vitest';

import {
  STATE_COLOURS,
  buildDot,
  clusterId,
  escapeDot,
  groupState,
  nodeId,
  rollUp,
  toDot
} from '../dot';
import STATES_JSON from '../../../../scanflow_jupyter/workflow/states.json';
import { GraphSpec, STATES, State, readSpec } from '../spec';
import { RawSpec, protocolExample, threeLevels } from './fixtures';
import { parseDot } from './graphviz';

function spec(raw: RawSpec | unknown): GraphSpec {
  const s = readSpec(raw);
  if (!s) {
    throw new Error('spec did not read');
  }
  return s;
}

describe('state colours', () => {
  it('come from scanflow_jupyter/workflow/states.json, which Python reads too', () => {
    expect(STATE_COLOURS).toEqual(STATES_JSON.fill);
    expect(Object.keys(STATE_COLOURS).sort()).toEqual([...STATES].sort());
  });

  it('tell a cached step from a succeeded one (issue 19: teal and green looked alike)', () => {
    const hue = (hex: string): number => {
      const [r, g, b] = [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16) / 255);
      const max = Math.max(r, g, b);
      const min = Math.min(r, g, b);
      const d = max - min;
      const h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
      return (h * 60 + 360) % 360;
    };
    const apart = Math.abs(hue(STATE_COLOURS.cached) - hue(STATE_COLOURS.succeeded));
    expect(Math.min(apart, 360 - apart)).toBeGreaterThan(90);
  });

  it.each(STATES.map(s => [s]))('fill a %s step with its colour', async state => {
    const { nodes } = await parseDot(toDot(spec(protocolExample()), { gather: state }, []));
    expect(nodes.get('sf/gather')?.fillcolor).toBe(STATE_COLOURS[state]);
  });

  it('treats a missing or unknown state as pending', async () => {
    const { nodes } = await parseDot(
      toDot(spec(protocolExample()), { gather: 'exploded', serve: null } as never, [])
    );
    expect(nodes.get('sf/gather')?.fillcolor).toBe(STATE_COLOURS.pending);
    expect(nodes.get('sf/serve')?.fillcolor).toBe(STATE_COLOURS.pending);
    expect(nodes.get('sf/modeling/linear')?.fillcolor).toBe(STATE_COLOURS.pending);
  });
});

describe('groupState (rolled-up state of a nested workflow)', () => {
  it.each<[State[], State]>([
    [['succeeded', 'cached', 'succeeded'], 'succeeded'],
    [['cached'], 'succeeded'],
    [['succeeded', 'pending'], 'pending'],
    [['succeeded', 'running', 'failed'], 'failed'],
    [['queued', 'running', 'pending'], 'running'],
    [['queued', 'pending', 'skipped'], 'queued'],
    [['pending', 'cancelled', 'skipped'], 'cancelled'],
    [['skipped', 'succeeded'], 'skipped'],
    [['pending'], 'pending'],
    [[], 'pending']
  ])('%j -> %s', (states, expected) => {
    expect(groupState(states)).toBe(expected);
  });

  it('rolls up addresses from a states map (absent = pending)', () => {
    expect(rollUp({ a: 'succeeded', b: 'cached' }, ['a', 'b'])).toBe('succeeded');
    expect(rollUp({ a: 'succeeded' }, ['a', 'b'])).toBe('pending');
  });
});

describe('DOT of the PROTOCOL.md example', () => {
  it('is a compound left-to-right digraph', () => {
    const dot = toDot(spec(protocolExample()), {}, []);
    expect(dot).toMatch(/^digraph "pipeline" \{/);
    expect(dot).toContain('compound="true"');
    expect(dot).toContain('rankdir="LR"');
  });

  it('draws steps as rounded filled boxes, services as components, a cluster per nested workflow', async () => {
    const g = await parseDot(toDot(spec(protocolExample()), {}, []));
    expect([...g.nodes.keys()].sort()).toEqual(['sf/gather', 'sf/modeling/linear', 'sf/serve']);
    const gather = g.nodes.get('sf/gather');
    expect(gather).toMatchObject({ id: 'sf/gather', label: 'gather', style: 'rounded,filled', shape: 'box' });
    expect(g.nodes.get('sf/serve')).toMatchObject({ shape: 'component', label: 'serve' });
    expect(g.topClusters).toEqual(['cluster/modeling']);
    const modeling = g.clusters.get('cluster/modeling');
    expect(modeling?.attrs).toMatchObject({ id: 'cluster/modeling', label: 'modeling' });
    expect(modeling?.nodes).toEqual(['sf/modeling/linear']);
  });

  it('attaches edges to a nested workflow to a step inside it, clipped at the cluster', async () => {
    const g = await parseDot(toDot(spec(protocolExample()), {}, []));
    expect(g.edges).toEqual([
      { tail: 'sf/gather', head: 'sf/modeling/linear', lhead: 'cluster/modeling' },
      { tail: 'sf/modeling/linear', head: 'sf/serve', ltail: 'cluster/modeling' }
    ]);
  });

  it('draws a collapsed nested workflow as one node coloured by its rolled-up state', async () => {
    const { dot, index } = buildDot(
      spec(protocolExample()),
      { 'modeling/linear': 'failed' },
      ['modeling']
    );
    const g = await parseDot(dot);
    expect(g.clusters.size).toBe(0);
    expect(g.nodes.has('sf/modeling/linear')).toBe(false);
    expect(g.nodes.get('sf/modeling')).toMatchObject({
      id: 'sf/modeling',
      label: 'modeling',
      fillcolor: STATE_COLOURS.failed
    });
    expect(g.edges).toEqual([
      { tail: 'sf/gather', head: 'sf/modeling' },
      { tail: 'sf/modeling', head: 'sf/serve' }
    ]);
    expect(index.collapsed.get('sf/modeling')).toEqual({
      address: 'modeling',
      name: 'modeling',
      leaves: ['modeling/linear']
    });
    expect([...index.steps.values()].sort()).toEqual(['gather', 'serve']);
  });
});

describe('three levels of nesting', () => {
  const deep = (): GraphSpec => spec(threeLevels());

  it('nests one cluster per level, each labelled with the group name', async () => {
    const g = await parseDot(toDot(deep(), {}, []));
    expect(g.topClusters).toEqual(['cluster/outer']);
    expect(g.clusters.get('cluster/outer')?.children).toEqual(['cluster/outer/mid']);
    expect(g.clusters.get('cluster/outer/mid')?.children).toEqual(['cluster/outer/mid/inner']);
    expect(g.clusters.get('cluster/outer/mid/inner')?.nodes.sort()).toEqual([
      'sf/outer/mid/inner/c',
      'sf/outer/mid/inner/d'
    ]);
    for (const [name, label] of [
      ['cluster/outer', 'outer'],
      ['cluster/outer/mid', 'mid'],
      ['cluster/outer/mid/inner', 'inner']
    ]) {
      expect(g.clusters.get(name)?.attrs).toMatchObject({ id: name, label });
    }
  });

  it('links siblings at every level, through representative steps', async () => {
    const g = await parseDot(toDot(deep(), {}, []));
    expect(g.edges).toEqual(
      expect.arrayContaining([
        { tail: 'sf/prep', head: 'sf/outer/a', lhead: 'cluster/outer' },
        { tail: 'sf/outer/a', head: 'sf/outer/mid/b', lhead: 'cluster/outer/mid' },
        { tail: 'sf/outer/mid/b', head: 'sf/outer/mid/inner/c', lhead: 'cluster/outer/mid/inner' },
        { tail: 'sf/outer/mid/inner/c', head: 'sf/outer/mid/inner/d' },
        { tail: 'sf/outer/a', head: 'sf/serve', ltail: 'cluster/outer' }
      ])
    );
    expect(g.edges).toHaveLength(5);
  });

  it('collapses the innermost group', async () => {
    const states = { 'outer/mid/inner/c': 'succeeded', 'outer/mid/inner/d': 'cached' };
    const g = await parseDot(toDot(deep(), states, ['outer/mid/inner']));
    expect(g.clusters.has('cluster/outer/mid/inner')).toBe(false);
    expect(g.clusters.get('cluster/outer/mid')?.nodes.sort()).toEqual([
      'sf/outer/mid/b',
      'sf/outer/mid/inner'
    ]);
    expect(g.nodes.get('sf/outer/mid/inner')?.fillcolor).toBe(STATE_COLOURS.succeeded);
    expect(g.edges).toEqual(
      expect.arrayContaining([{ tail: 'sf/outer/mid/b', head: 'sf/outer/mid/inner' }])
    );
  });

  it('collapses the middle group, hiding the inner one whatever its own setting', async () => {
    const states = { 'outer/mid/b': 'succeeded', 'outer/mid/inner/c': 'running' };
    const g = await parseDot(toDot(deep(), states, ['outer/mid', 'outer/mid/inner']));
    expect([...g.clusters.keys()]).toEqual(['cluster/outer']);
    expect(g.nodes.has('sf/outer/mid/inner')).toBe(false);
    expect(g.nodes.get('sf/outer/mid')?.fillcolor).toBe(STATE_COLOURS.running);
    expect(g.edges).toEqual(
      expect.arrayContaining([{ tail: 'sf/outer/a', head: 'sf/outer/mid' }])
    );
  });

  it('collapses the outer group: edges from and to siblings end on the group node', async () => {
    const g = await parseDot(toDot(deep(), { prep: 'succeeded' }, ['outer']));
    expect(g.clusters.size).toBe(0);
    expect([...g.nodes.keys()].sort()).toEqual(['sf/outer', 'sf/prep', 'sf/serve']);
    expect(g.nodes.get('sf/outer')?.fillcolor).toBe(STATE_COLOURS.pending);
    expect(g.edges).toEqual([
      { tail: 'sf/prep', head: 'sf/outer' },
      { tail: 'sf/outer', head: 'sf/serve' }
    ]);
  });

  it('attaches an edge into an expanded group to a collapsed group inside it when that comes first', async () => {
    const raw = threeLevels();
    // make `mid` the first node of `outer`, so it is outer's representative
    const outer = raw.root.nodes![1];
    outer.nodes!.reverse();
    outer.nodes![1].depends_on = [];
    const g = await parseDot(toDot(spec(raw), {}, ['outer/mid']));
    expect(g.edges).toEqual(
      expect.arrayContaining([{ tail: 'sf/prep', head: 'sf/outer/mid', lhead: 'cluster/outer' }])
    );
  });

  it('ignores collapsed addresses that are not groups', async () => {
    const g = await parseDot(toDot(deep(), {}, ['prep', 'nope', '']));
    expect(g.nodes.get('sf/prep')?.label).toBe('prep');
    expect(g.clusters.size).toBe(3);
  });
});

describe('escaping user text', () => {
  it('escapes backslashes, quotes and line breaks for a double-quoted string', () => {
    expect(escapeDot('a"b')).toBe('a\\"b');
    expect(escapeDot('a\\b')).toBe('a\\\\b');
    expect(escapeDot('\\"')).toBe('\\\\\\"');
    expect(escapeDot('one\ntwo')).toBe('one\\ntwo');
  });

  it.each([
    ['<img src=x onerror=alert(1)>'],
    ['a"b'],
    ['<<b>bold</b>>'],
    ['x" shape="plaintext'],
    ['end\\'],
    ['}; "evil" [label="x"]; {'],
    ['<table><tr><td>t</td></tr></table>']
  ])('keeps %s a plain-text label of one node', async name => {
    const raw = protocolExample();
    raw.root.nodes![0].name = name;
    raw.root.nodes![1].nodes![0].name = name;
    raw.root.nodes![1].name = name;
    const { dot } = buildDot(spec(raw), {}, []);
    // Every label is a quoted string, never an HTML-like <...> label.
    expect(dot).not.toMatch(/label=</);
    const g = await parseDot(dot);
    expect(g.nodes.size).toBe(3);
    expect(g.nodes.get('sf/gather')?.shape).toBe('box');
    expect(g.clusters.get('cluster/modeling')?.attrs.label).toBe(escapeDot(name).replace(/\\"/g, '"'));
  });

  it('quotes ids built from addresses, as workflow/dot.py does', () => {
    expect(nodeId('a/b')).toBe('sf/a/b');
    expect(clusterId('a/b')).toBe('cluster/a/b');
    expect(nodeId('a:b')).toBe('sf/a%3Ab');
  });

  it('quotes a workflow name with a quote in it', async () => {
    const raw = protocolExample();
    raw.root.name = 'pipe"line';
    expect(toDot(spec(raw), {}, [])).toMatch(/^digraph "pipe\\"line" \{/);
    await expect(parseDot(toDot(spec(raw), {}, []))).resolves.toBeDefined();
  });
});

describe('odd specs', () => {
  it('reads nothing from the default {} or junk', () => {
    expect(readSpec({})).toBeNull();
    expect(readSpec(null)).toBeNull();
    expect(readSpec({ root: 'x' })).toBeNull();
  });

  it('draws an empty nested workflow as a placeholder inside its cluster', async () => {
    const raw = protocolExample();
    raw.root.nodes![1].nodes = [];
    const { dot, index } = buildDot(spec(raw), {}, []);
    const g = await parseDot(dot);
    expect(g.clusters.get('cluster/modeling')?.nodes).toEqual(['sf/modeling/__empty__']);
    expect(g.nodes.get('sf/modeling/__empty__')?.label).toBe('(empty)');
    expect(index.steps.has('sf/modeling/__empty__')).toBe(false);
    expect(g.edges).toEqual(
      expect.arrayContaining([
        { tail: 'sf/gather', head: 'sf/modeling/__empty__', lhead: 'cluster/modeling' }
      ])
    );
  });

  it('skips dependencies on unknown siblings and bad nodes', async () => {
    const raw = protocolExample() as unknown as { root: { nodes: unknown[] } };
    raw.root.nodes.push(null, 3, { kind: 'executor', name: 'late', address: 'late', depends_on: ['ghost', 'gather'] });
    const g = await parseDot(toDot(spec(raw), {}, []));
    expect(g.nodes.has('sf/late')).toBe(true);
    expect(g.edges).toEqual(expect.arrayContaining([{ tail: 'sf/gather', head: 'sf/late' }]));
    expect(g.edges).toHaveLength(3);
  });
});
