/** Small SVG charts drawn by hand: metric-history lines and parallel coordinates. Labels are text nodes. */
import { formatNumber } from './format';

const NS = 'http://www.w3.org/2000/svg';
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export interface Series {
  label: string;
  steps: number[];
  values: number[];
}

function svg(doc: Document, width: number, height: number, className: string): SVGSVGElement {
  const node = doc.createElementNS(NS, 'svg');
  node.setAttribute('viewBox', `0 0 ${width} ${height}`);
  node.setAttribute('width', String(width));
  node.setAttribute('height', String(height));
  node.setAttribute('class', className);
  return node;
}

function add<K extends keyof SVGElementTagNameMap>(
  parent: Element,
  tag: K,
  attrs: Record<string, string | number>,
  text?: string
): SVGElementTagNameMap[K] {
  const node = parent.ownerDocument!.createElementNS(NS, tag) as SVGElementTagNameMap[K];
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  parent.append(node);
  return node;
}

/** The smallest of many numbers (Math.min(...xs) overflows the stack on long histories). */
export function lowest(xs: number[]): number {
  let out = Infinity;
  for (const x of xs) {
    out = x < out ? x : out;
  }
  return out;
}

export function highest(xs: number[]): number {
  let out = -Infinity;
  for (const x of xs) {
    out = x > out ? x : out;
  }
  return out;
}

/** Map [lo, hi] onto [a, b]; a flat range maps to the middle. */
export function scale(lo: number, hi: number, a: number, b: number): (v: number) => number {
  if (!(hi > lo)) {
    return () => (a + b) / 2;
  }
  return v => a + ((v - lo) / (hi - lo)) * (b - a);
}

/** Dash patterns, so that curves drawn over each other stay told apart (four equal curves looked like one). */
export const DASHES = ['', '6 3', '2 3', '8 3 2 3', '1 5', '10 4'];

/** Groups of series with the same history (same steps, same values): indexes into `series`, groups of 2 or more. */
export function identicalGroups(series: Series[]): number[][] {
  const byKey = new Map<string, number[]>();
  series.forEach((s, i) => {
    const key = JSON.stringify([s.steps, s.values.map(v => (isFinite(v) ? v : null))]);
    byKey.set(key, [...(byKey.get(key) ?? []), i]);
  });
  return [...byKey.values()].filter(group => group.length > 1);
}

/** Whether every series has at most one finite point, all at the same step: a chart of single values. */
export function singleStep(series: Series[]): boolean {
  const steps = new Set<number>();
  for (const s of series) {
    const finite = s.steps.filter((_, k) => isFinite(s.values[k]));
    if (finite.length > 1) {
      return false;
    }
    finite.forEach(step => steps.add(step));
  }
  return steps.size === 1;
}

/** A metric logged once per run: one labelled bar per run, not dots on an axis whose two ends read the same step. */
export function barChart(doc: Document, title: string, series: Series[], width = 420): SVGSVGElement {
  const rows = series.filter(s => s.values.some(v => isFinite(v)));
  const bar = 18;
  const pad = { l: 150, r: 70, t: 24, b: 8 };
  const height = pad.t + pad.b + rows.length * (bar + 6);
  const root = svg(doc, width, height, 'sf-runs-chart sf-runs-chart-bars');
  root.dataset.metric = title;
  root.dataset.kind = 'bars';
  const step = rows.length ? rows[0].steps[rows[0].values.findIndex(v => isFinite(v))] : 0;
  add(root, 'text', { x: 8, y: 14, class: 'sf-runs-chart-title' }, `${title} (one value per run, step ${step})`);
  const values = rows.map(s => s.values.find(v => isFinite(v)) as number);
  const lo = Math.min(0, lowest(values));
  const hi = Math.max(0, highest(values));
  const x = scale(lo, hi > lo ? hi : lo + 1, pad.l, width - pad.r);
  rows.forEach((s, i) => {
    const colour = PALETTE[series.indexOf(s) % PALETTE.length];
    const y = pad.t + i * (bar + 6);
    const v = values[i];
    // The full name in a tooltip, on a group: a <title> inside the <text> would join its text.
    const label = add(root, 'g', {});
    add(label, 'title', {}, s.label);
    add(label, 'text', { x: pad.l - 6, y: y + bar - 5, 'text-anchor': 'end', class: 'sf-runs-bar-label' }, shorten(s.label, 24));
    const rect = add(root, 'rect', {
      x: Math.min(x(0), x(v)),
      y,
      width: Math.max(1, Math.abs(x(v) - x(0))),
      height: bar,
      fill: colour,
      class: 'sf-runs-bar'
    });
    add(rect, 'title', {}, `${s.label}: ${formatNumber(v)}`);
    add(root, 'text', { x: Math.max(x(0), x(v)) + 4, y: y + bar - 5, class: 'sf-runs-bar-value' }, formatNumber(v));
  });
  return root;
}

function shorten(text: string, n: number): string {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

export function lineChart(doc: Document, title: string, series: Series[], width = 420, height = 220): SVGSVGElement {
  if (singleStep(series)) {
    return barChart(doc, title, series, width);
  }
  const root = svg(doc, width, height, 'sf-runs-chart');
  root.dataset.metric = title;
  const pad = { l: 52, r: 10, t: 22, b: 26 };
  const finite: number[] = [];
  const steps: number[] = [];
  for (const s of series) {
    s.values.forEach((v, k) => {
      if (isFinite(v)) {
        finite.push(v);
        steps.push(s.steps[k]);
      }
    });
  }
  add(root, 'text', { x: pad.l, y: 14, class: 'sf-runs-chart-title' }, title);
  if (!finite.length) {
    add(root, 'text', { x: width / 2, y: height / 2, 'text-anchor': 'middle' }, 'no values');
    return root;
  }
  const x = scale(lowest(steps), highest(steps), pad.l, width - pad.r);
  const y = scale(lowest(finite), highest(finite), height - pad.b, pad.t);
  add(root, 'line', { x1: pad.l, x2: width - pad.r, y1: height - pad.b, y2: height - pad.b, class: 'sf-runs-axis' });
  add(root, 'line', { x1: pad.l, x2: pad.l, y1: pad.t, y2: height - pad.b, class: 'sf-runs-axis' });
  // One label where both ends are the same (a flat metric, a single step): never the same value twice.
  for (const v of new Set([lowest(finite), highest(finite)])) {
    add(root, 'text', { x: pad.l - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'sf-runs-tick' }, formatNumber(v));
  }
  for (const s of new Set([lowest(steps), highest(steps)])) {
    add(root, 'text', { x: x(s), y: height - 8, 'text-anchor': 'middle', class: 'sf-runs-tick' }, String(s));
  }
  // In the middle, clear of the end ticks ("step9" once).
  add(root, 'text', { x: (pad.l + width - pad.r) / 2, y: height - 8, 'text-anchor': 'middle', class: 'sf-runs-tick sf-runs-axis-name' }, 'step');
  const groups = identicalGroups(series);
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const points = s.steps.map((step, k) => [x(step), y(s.values[k])]).filter(([, v]) => isFinite(v));
    if (points.length === 1) {
      add(root, 'circle', { cx: points[0][0], cy: points[0][1], r: 3, fill: colour }).append(
        Object.assign(doc.createElementNS(NS, 'title'), { textContent: s.label })
      );
    } else {
      const same = groups.find(g => g.includes(i));
      const line = add(root, 'polyline', {
        points: points.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' '),
        fill: 'none',
        stroke: colour,
        'stroke-width': same ? 2.5 - same.indexOf(i) * 0.5 : 1.5,
        'stroke-dasharray': DASHES[i % DASHES.length],
        class: 'sf-runs-series'
      });
      add(line, 'title', {}, same ? `${s.label} (the same history as ${same.length - 1} other runs)` : s.label);
    }
  });
  // Equal curves are drawn over each other: say so on the chart, naming how many.
  groups.forEach((group, g) => {
    const note = add(root, 'g', {});
    add(note, 'title', {}, group.map(i => series[i].label).join(', '));
    add(
      note,
      'text',
      { x: width - pad.r, y: 14 + g * 12, 'text-anchor': 'end', class: 'sf-runs-chart-same' },
      `${group.length} runs have the same history (drawn over each other)`
    );
  });
  return root;
}

/**
 * One polyline per run across the axes; each axis scaled to its own range (a categorical axis, named in
 * `categories`, spaced by category). Missing values break the line.
 */
export function parallelCoordinates(
  doc: Document,
  axes: string[],
  runs: Array<{ label: string; values: Array<number | null> }>,
  width = 640,
  height = 260,
  categories: Record<string, string[]> = {}
): SVGSVGElement {
  const root = svg(doc, Math.max(width, axes.length * 110), height, 'sf-runs-parallel');
  const w = Math.max(width, axes.length * 110);
  // Room for the axis names, centred on the outer axes ("params.max_iter" was cut at the edge).
  const pad = { l: 80, r: 80, t: 30, b: 20 };
  const xs = axes.map((_, i) => (axes.length > 1 ? pad.l + (i * (w - pad.l - pad.r)) / (axes.length - 1) : w / 2));
  const scales = axes.map((_, i) => {
    const col = runs.map(r => r.values[i]).filter((v): v is number => v !== null && isFinite(v));
    const names = categories[axes[i]];
    // A categorical axis spans its categories (0 .. n-1), whichever of them the runs have.
    const [lo, hi] = names ? [0, names.length - 1] : [lowest(col), highest(col)];
    return { lo, hi, y: scale(lo, hi, height - pad.b, pad.t) };
  });
  axes.forEach((axis, i) => {
    add(root, 'line', { x1: xs[i], x2: xs[i], y1: pad.t, y2: height - pad.b, class: 'sf-runs-axis' });
    add(root, 'text', { x: xs[i], y: 14, 'text-anchor': 'middle', class: 'sf-runs-axis-label' }, axis);
    const names = categories[axis];
    if (names) {
      names.forEach((name, k) => {
        add(root, 'text', { x: xs[i] + 4, y: scales[i].y(k) + 4, class: 'sf-runs-tick sf-runs-category' }, shorten(name, 14));
      });
    } else if (scales[i].hi > scales[i].lo) {
      add(root, 'text', { x: xs[i] + 3, y: height - pad.b + 12, class: 'sf-runs-tick' }, formatNumber(scales[i].lo));
      add(root, 'text', { x: xs[i] + 3, y: pad.t - 3, class: 'sf-runs-tick' }, formatNumber(scales[i].hi));
    } else if (isFinite(scales[i].lo)) {
      add(root, 'text', { x: xs[i] + 4, y: (pad.t + height - pad.b) / 2 - 6, class: 'sf-runs-tick' }, `all ${formatNumber(scales[i].lo)}`);
    }
  });
  runs.forEach((run, r) => {
    const colour = PALETTE[r % PALETTE.length];
    let segment: string[] = [];
    const flush = (): void => {
      if (segment.length > 1) {
        const line = add(root, 'polyline', { points: segment.join(' '), fill: 'none', stroke: colour, class: 'sf-runs-series' });
        add(line, 'title', {}, run.label);
      }
      segment = [];
    };
    run.values.forEach((v, i) => {
      if (v === null || !isFinite(v)) {
        flush();
      } else {
        segment.push(`${xs[i].toFixed(1)},${scales[i].y(v).toFixed(1)}`);
      }
    });
    flush();
  });
  return root;
}
