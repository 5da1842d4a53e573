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

export function lineChart(doc: Document, title: string, series: Series[], width = 420, height = 220): SVGSVGElement {
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
  for (const v of [lowest(finite), highest(finite)]) {
    add(root, 'text', { x: pad.l - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'sf-runs-tick' }, formatNumber(v));
  }
  for (const s of [lowest(steps), highest(steps)]) {
    add(root, 'text', { x: x(s), y: height - 8, 'text-anchor': 'middle', class: 'sf-runs-tick' }, String(s));
  }
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const points = s.steps.map((step, k) => [x(step), y(s.values[k])]).filter(([, v]) => isFinite(v));
    if (points.length === 1) {
      add(root, 'circle', { cx: points[0][0], cy: points[0][1], r: 3, fill: colour }).append(
        Object.assign(doc.createElementNS(NS, 'title'), { textContent: s.label })
      );
    } else {
      const line = add(root, 'polyline', {
        points: points.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' '),
        fill: 'none',
        stroke: colour,
        'stroke-width': 1.5,
        class: 'sf-runs-series'
      });
      add(line, 'title', {}, s.label);
    }
  });
  return root;
}

/** One polyline per run across the axes; each axis scaled to its own range. Missing values break the line. */
export function parallelCoordinates(
  doc: Document,
  axes: string[],
  runs: Array<{ label: string; values: Array<number | null> }>,
  width = 640,
  height = 260
): SVGSVGElement {
  const root = svg(doc, Math.max(width, axes.length * 110), height, 'sf-runs-parallel');
  const w = Math.max(width, axes.length * 110);
  const pad = { l: 40, r: 40, t: 30, b: 20 };
  const xs = axes.map((_, i) => (axes.length > 1 ? pad.l + (i * (w - pad.l - pad.r)) / (axes.length - 1) : w / 2));
  const scales = axes.map((_, i) => {
    const col = runs.map(r => r.values[i]).filter((v): v is number => v !== null && isFinite(v));
    return { lo: lowest(col), hi: highest(col), y: scale(lowest(col), highest(col), height - pad.b, pad.t) };
  });
  axes.forEach((axis, i) => {
    add(root, 'line', { x1: xs[i], x2: xs[i], y1: pad.t, y2: height - pad.b, class: 'sf-runs-axis' });
    add(root, 'text', { x: xs[i], y: 14, 'text-anchor': 'middle', class: 'sf-runs-axis-label' }, axis);
    if (isFinite(scales[i].lo)) {
      add(root, 'text', { x: xs[i] + 3, y: height - pad.b + 12, class: 'sf-runs-tick' }, formatNumber(scales[i].lo));
      add(root, 'text', { x: xs[i] + 3, y: pad.t - 3, class: 'sf-runs-tick' }, formatNumber(scales[i].hi));
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
