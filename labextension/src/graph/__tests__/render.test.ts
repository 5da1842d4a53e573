// @vitest-environment jsdom
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { STATE_COLOURS } from '../dot';
import { Drawing, loadGraphviz, parseSvg, renderGraph } from '../render';
import { GraphSpec, readSpec } from '../spec';
import { RawSpec, protocolExample, stepAddresses, threeLevels } from './fixtures';

function spec(raw: RawSpec): GraphSpec {
  return readSpec(raw)!;
}

// The wasm is embedded in the JavaScript: nothing may be fetched to load it.
const fetchSpy = vi.fn(() => Promise.reject(new Error('no network in tests')));
beforeAll(() => {
  vi.stubGlobal('fetch', fetchSpy);
});
afterAll(() => {
  vi.unstubAllGlobals();
});

async function draw(raw: RawSpec, states = {}, collapsed: string[] = []): Promise<Drawing> {
  const { drawing } = await renderGraph(spec(raw), states, collapsed);
  document.body.replaceChildren(drawing.svg);
  return drawing;
}

function fillOf(g: Element): string | null {
  return g.querySelector('path, polygon')?.getAttribute('fill') ?? null;
}

describe('loading Graphviz', () => {
  it('loads the wasm once, without fetching anything', async () => {
    const a = await loadGraphviz();
    const b = await loadGraphviz();
    expect(a).toBe(b);
    expect(fetchSpy).not.toHaveBeenCalled();
  });
});

describe('the drawing', () => {
  it('has a g.node with id and data-state for every step, and a g.cluster per group', async () => {
    const raw = threeLevels();
    const drawing = await draw(raw, { prep: 'succeeded', 'outer/mid/inner/c': 'running' });
    for (const address of stepAddresses(raw.root)) {
      const g = drawing.svg.querySelector(`g.node[id="sf/${address}"]`);
      expect(g, address).not.toBeNull();
      expect(g?.getAttribute('data-state')).toBe(
        address === 'prep' ? 'succeeded' : address === 'outer/mid/inner/c' ? 'running' : 'pending'
      );
    }
    expect(fillOf(drawing.svg.querySelector('g[id="sf/prep"]')!)).toBe(STATE_COLOURS.succeeded);
    const clusters = [...drawing.svg.querySelectorAll('g.cluster')].map(g => g.id);
    expect(clusters.sort()).toEqual(['cluster/outer', 'cluster/outer/mid', 'cluster/outer/mid/inner']);
  });

  it('marks a collapsed group with data-collapsed and its rolled-up state', async () => {
    const drawing = await draw(
      threeLevels(),
      { 'outer/mid/inner/c': 'succeeded', 'outer/mid/inner/d': 'cached' },
      ['outer/mid/inner']
    );
    const g = drawing.svg.querySelector('g.node[id="sf/outer/mid/inner"]')!;
    expect(g.getAttribute('data-collapsed')).toBe('true');
    expect(g.getAttribute('data-state')).toBe('succeeded');
    expect(fillOf(g)).toBe(STATE_COLOURS.succeeded);
    expect(drawing.svg.querySelector('g[id="cluster/outer/mid/inner"]')).toBeNull();
  });

  it('shows hostile names as text: no <img> element, no handler attribute', async () => {
    const evil = '<img src=x onerror=alert(1)>';
    const raw = protocolExample();
    raw.root.nodes![0].name = evil;
    raw.root.nodes![1].name = evil;
    raw.root.name = evil;
    const drawing = await draw(raw);
    expect(document.querySelector('img')).toBeNull();
    expect(drawing.svg.querySelector('[onerror]')).toBeNull();
    const texts = [...drawing.svg.querySelectorAll('text')].map(t => t.textContent);
    expect(texts.filter(t => t === evil)).toHaveLength(2); // step label and cluster label
  });

  it('renders quotes and backslashes in names literally', async () => {
    const raw = protocolExample();
    raw.root.nodes![0].name = 'a"b\\n';
    const drawing = await draw(raw);
    const texts = [...drawing.svg.querySelectorAll('text')].map(t => t.textContent);
    expect(texts).toContain('a"b\\n');
  });

  it('patches fill and data-state in place when only states change', async () => {
    const drawing = await draw(threeLevels(), {}, ['outer/mid/inner']);
    const svg = drawing.svg;
    const step = svg.querySelector('g[id="sf/prep"]')!;
    const group = svg.querySelector('g[id="sf/outer/mid/inner"]')!;
    const shape = step.querySelector('path, polygon');
    drawing.applyStates({ prep: 'failed', 'outer/mid/inner/d': 'running' });
    expect(drawing.svg).toBe(svg);
    expect(svg.querySelector('g[id="sf/prep"]')).toBe(step);
    expect(step.querySelector('path, polygon')).toBe(shape);
    expect(step.getAttribute('data-state')).toBe('failed');
    expect(fillOf(step)).toBe(STATE_COLOURS.failed);
    expect(group.getAttribute('data-state')).toBe('running');
    expect(fillOf(group)).toBe(STATE_COLOURS.running);
    expect(step.querySelector('title')?.textContent).toBe('prep (failed)');
    const outer = svg.querySelector('g[id="cluster/outer"]')!;
    expect(outer.getAttribute('data-state')).toBe('running');
  });

  it('colours a service (component shape) through its outline polygon', async () => {
    const drawing = await draw(protocolExample(), { serve: 'succeeded' });
    const g = drawing.svg.querySelector('g[id="sf/serve"]')!;
    expect(g.querySelector('polygon')?.getAttribute('fill')).toBe(STATE_COLOURS.succeeded);
    drawing.applyStates({ serve: 'failed' });
    expect(g.querySelector('polygon')?.getAttribute('fill')).toBe(STATE_COLOURS.failed);
    for (const line of g.querySelectorAll('polyline')) {
      expect(line.getAttribute('fill')).toBe('none');
    }
  });

  it('maps clicks back to steps and group toggles', async () => {
    const drawing = await draw(threeLevels(), {}, ['outer/mid/inner']);
    const svg = drawing.svg;
    expect(drawing.hit(svg.querySelector('g[id="sf/prep"] text'))).toEqual({ kind: 'step', address: 'prep' });
    expect(drawing.hit(svg.querySelector('g[id="sf/outer/mid/inner"] text'))).toEqual({
      kind: 'group',
      address: 'outer/mid/inner'
    });
    expect(drawing.hit(svg.querySelector('g[id="cluster/outer/mid"] > text'))).toEqual({
      kind: 'group',
      address: 'outer/mid'
    });
    // the cluster's box is not a toggle, nor is an edge
    expect(drawing.hit(svg.querySelector('g[id="cluster/outer/mid"] > path'))).toBeNull();
    expect(drawing.hit(svg.querySelector('g.edge path'))).toBeNull();
  });

  it('marks the selected step', async () => {
    const drawing = await draw(protocolExample());
    drawing.setSelected('gather');
    expect(drawing.svg.querySelector('.sf-selected')?.id).toBe('sf/gather');
    drawing.setSelected('serve');
    expect([...drawing.svg.querySelectorAll('.sf-selected')].map(e => e.id)).toEqual(['sf/serve']);
    drawing.setSelected('');
    expect(drawing.svg.querySelector('.sf-selected')).toBeNull();
  });
});

describe('parseSvg', () => {
  it('drops anything that could run script', () => {
    const svg = parseSvg(
      '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">' +
        '<script>alert(1)</script><g onclick="alert(1)"><a xlink:href="javascript:alert(1)"><text>t</text></a></g>' +
        '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml"><img src="x"/></div></foreignObject></svg>'
    );
    expect(svg.querySelector('script')).toBeNull();
    expect(svg.querySelector('foreignObject')).toBeNull();
    expect(svg.querySelector('[onclick]')).toBeNull();
    expect(svg.querySelector('a')?.getAttribute('xlink:href')).toBeNull();
    expect(svg.querySelector('text')?.textContent).toBe('t');
  });

  it('refuses what is not SVG', () => {
    expect(() => parseSvg('<html></html>')).toThrow(/not SVG/);
    expect(() => parseSvg('<svg')).toThrow(/not SVG/);
  });
});
