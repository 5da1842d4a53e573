// @vitest-environment jsdom
/**
 * Prints how long a 200-step nested application takes to lay out and draw. A figure to
 * read, never a timed assertion (DESIGN.md): the checks are about the drawing only.
 */
import { describe, expect, it } from 'vitest';

import { loadGraphviz, renderGraph } from '../render';
import { readSpec } from '../spec';
import { bigNested, stepAddresses } from './fixtures';

describe('a 200-step nested application', () => {
  it('lays out and draws every step (timings printed)', async () => {
    const raw = bigNested(200, 5);
    const steps = stepAddresses(raw.root);
    expect(steps.length).toBeGreaterThanOrEqual(195);
    const spec = readSpec(raw)!;
    const t0 = performance.now();
    await loadGraphviz();
    const loadMs = performance.now() - t0;
    await renderGraph(spec, {}, []); // warm-up: JIT, first wasm memory growth
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      const { drawing, timings } = await renderGraph(spec, { [steps[0]]: 'running' }, []);
      document.body.replaceChildren(drawing.svg);
      runs.push({ ...timings, totalMs: performance.now() - t });
      expect(drawing.svg.querySelectorAll('g.node[data-state]')).toHaveLength(steps.length);
    }
    const best = runs.reduce((a, b) => (a.totalMs < b.totalMs ? a : b));
    const t = performance.now();
    const collapsed = await renderGraph(spec, {}, ['stage0', 'stage2/train']);
    const collapsedMs = performance.now() - t;
    expect(collapsed.drawing.svg.querySelectorAll('g.node[data-collapsed="true"]')).toHaveLength(2);
    const fmt = (n: number): string => n.toFixed(0).padStart(4);
    console.log(
      `[render-time] ${steps.length} steps, 10 clusters: wasm load ${fmt(loadMs)} ms (once); ` +
        `best of 2: DOT ${fmt(best.dotMs)} ms, Graphviz layout ${fmt(best.layoutMs)} ms, ` +
        `SVG parse+decorate (jsdom) ${fmt(best.domMs)} ms, total ${fmt(best.totalMs)} ms; ` +
        `with 2 groups collapsed ${fmt(collapsedMs)} ms`
    );
  });
});
