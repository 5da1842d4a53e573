/**
 * Drawing a drift report: the verdict, score histograms with the threshold, the
 * integrity checks, and the most anomalous samples (images beside their error heatmaps,
 * or tabular features); for a sequence batch, a time plot with the windows above the
 * threshold shaded.
 * Pure DOM (SVG for charts and heatmaps), no widget machinery, so tests need only jsdom.
 * User text (sample ids, feature names, notes, model URIs) is set as text, never HTML.
 */
import { el } from '../dom';

const SVG = 'http://www.w3.org/2000/svg';

export interface DriftSummary {
  verdict: string;
  drift: boolean;
  p_value: number | null;
  alpha: number;
  test: string;
  method: string;
  batch_size: number;
  reference_size: number;
  score_kind: string;
  threshold: number | null;
  false_alarm_rate: number;
  n_over_threshold: number;
  share_over_threshold: number;
  model_uri: string;
  notes: string[];
}

export interface Histogram {
  edges: number[];
  reference: number[];
  batch: number[];
}

export interface SampleCard {
  id: string;
  index: number;
  score: number;
  p_value: number;
  over_threshold: boolean;
  errors: number[];
  values: number[] | null;
  top_features: [string, number][];
}

/** One integrity check's outcome (its message names the check and the features). */
export interface CheckLine {
  check: string;
  passed: boolean;
  skipped: boolean;
  message: string;
}

/** A window of a sequence batch: steps [start, end), its score, whether it is above the threshold. */
export interface TimeWindow {
  start: number;
  end: number;
  score: number | null;
  over: boolean;
  id: string;
}

/** A sequence batch's time plot, as `SequenceDetector.check` builds it (Python side). */
export interface Timeline {
  sequence_id: string;
  length: number;
  steps: number[];
  labels: string[] | null;
  features: string[];
  values: (number | null)[][];
  error: (number | null)[];
  windows: TimeWindow[];
  downsampled: boolean;
}

export interface DriftData {
  summary: DriftSummary | null;
  histogram: Histogram | null;
  samples: SampleCard[];
  imageShape: number[];
  featureNames: string[];
  checks: CheckLine[];
  timeline: Timeline | null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numbers(value: unknown): number[] {
  return Array.isArray(value) ? value.filter((v): v is number => typeof v === 'number') : [];
}

function orNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function readChecks(value: unknown): CheckLine[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value.filter(isRecord).map(c => ({
    check: String(c.check ?? ''),
    passed: c.passed === true,
    skipped: c.skipped === true,
    message: String(c.message ?? '')
  }));
}

function readTimeline(value: unknown): Timeline | null {
  if (!isRecord(value) || !Array.isArray(value.steps) || !Array.isArray(value.values)) {
    return null;
  }
  const steps = numbers(value.steps);
  if (steps.length < 2) {
    return null;
  }
  const windows = Array.isArray(value.windows) ? value.windows.filter(isRecord) : [];
  return {
    sequence_id: String(value.sequence_id ?? ''),
    length: typeof value.length === 'number' ? value.length : steps[steps.length - 1] + 1,
    steps,
    labels: Array.isArray(value.labels) ? value.labels.map(String) : null,
    features: Array.isArray(value.features) ? value.features.map(String) : [],
    values: value.values.map(line => (Array.isArray(line) ? line.map(orNull) : [])),
    error: Array.isArray(value.error) ? value.error.map(orNull) : [],
    windows: windows.map(w => ({
      start: Number(w.start),
      end: Number(w.end),
      score: orNull(w.score),
      over: w.over === true,
      id: String(w.id ?? '')
    })),
    downsampled: value.downsampled === true
  };
}

/** Read the model's traits defensively: a missing or malformed part is drawn as absent. */
export function readDrift(get: (name: string) => unknown): DriftData {
  const summary = get('summary');
  const histogram = get('histogram');
  const samples = get('samples');
  const h = isRecord(histogram) ? histogram : null;
  return {
    summary: isRecord(summary) && typeof summary.verdict === 'string' ? (summary as unknown as DriftSummary) : null,
    histogram:
      h && Array.isArray(h.edges) && h.edges.length > 1
        ? { edges: numbers(h.edges), reference: numbers(h.reference), batch: numbers(h.batch) }
        : null,
    samples: Array.isArray(samples) ? (samples.filter(isRecord) as unknown as SampleCard[]) : [],
    imageShape: numbers(get('image_shape')),
    featureNames: Array.isArray(get('feature_names')) ? (get('feature_names') as string[]) : [],
    checks: readChecks(get('checks')),
    timeline: readTimeline(get('timeline'))
  };
}

function svg<K extends keyof SVGElementTagNameMap>(
  doc: Document,
  tag: K,
  attrs: Record<string, string | number>
): SVGElementTagNameMap[K] {
  const node = doc.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    node.setAttribute(key, String(value));
  }
  return node;
}

/** A number for people: 4 significant digits, "n/a" when missing. */
export function fmt(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return 'n/a';
  }
  return Number(value.toPrecision(4)).toString();
}

/** A p-value at one precision throughout (issue 19: "0.0004998" beside "0.31"): three decimals, "< 0.001" below. */
export function fmtP(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return 'n/a';
  }
  return value < 0.001 ? '< 0.001' : value.toFixed(3);
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** The verdict banner and the lines under it; `unit` is what the batch counts ("windows" for a sequence batch). */
export function renderVerdict(doc: Document, summary: DriftSummary, unit = 'samples'): HTMLElement {
  const box = el(doc, 'div', `sf-drift-verdict ${summary.drift ? 'sf-drift-yes' : 'sf-drift-no'}`);
  box.setAttribute('role', 'status');
  box.append(el(doc, 'strong', 'sf-drift-verdict-word', summary.verdict.toUpperCase()));
  box.append(
    el(
      doc,
      'span',
      'sf-drift-verdict-test',
      ` p ${summary.p_value !== null && summary.p_value < 0.001 ? '' : '= '}${fmtP(summary.p_value)} (${summary.test} test, alpha ${fmt(summary.alpha)}, ` +
        `${summary.batch_size} ${unit} against ${summary.reference_size} reference ${unit})`
    )
  );
  const facts = el(doc, 'div', 'sf-drift-facts');
  facts.append(
    el(
      doc,
      'div',
      'sf-drift-share',
      `${summary.n_over_threshold} of ${summary.batch_size} ${unit} (${percent(summary.share_over_threshold)}) ` +
        `score above the threshold ${fmt(summary.threshold)} (${percent(summary.false_alarm_rate)} expected ` +
        'without drift)'
    )
  );
  if (summary.model_uri) {
    facts.append(el(doc, 'div', 'sf-drift-model', `detector: ${summary.model_uri}`));
  }
  for (const note of summary.notes ?? []) {
    facts.append(el(doc, 'div', 'sf-drift-note', `note: ${note}`));
  }
  const wrap = el(doc, 'div', 'sf-drift-head');
  wrap.append(box, facts);
  return wrap;
}

/** Round values between `lo` and `hi`, about `count` of them, a step of 1, 2 or 5 times a power of ten. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) {
    return Number.isFinite(lo) ? [lo] : [];
  }
  const raw = (hi - lo) / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const steps = [1, 2, 5, 10].map(m => m * power);
  const step = steps.reduce((best, s) =>
    Math.abs((hi - lo) / s - count) < Math.abs((hi - lo) / best - count) ? s : best
  );
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)) || 0);
  }
  return out;
}

const HIST = { width: 480, height: 170, left: 44, right: 10, top: 10, bottom: 34 };

/**
 * Reference and batch histograms as shares of their samples (the two sets differ in
 * size), on shared bins, with the threshold as a dashed line.
 */
export function renderHistogram(doc: Document, histogram: Histogram, threshold: number | null): SVGSVGElement {
  const { width, height, left, right, top, bottom } = HIST;
  const chart = svg(doc, 'svg', {
    class: 'sf-drift-histogram',
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': 'Histogram of reference and batch scores with the threshold'
  });
  const edges = histogram.edges;
  const lo = edges[0];
  const hi = edges[edges.length - 1];
  const span = hi > lo ? hi - lo : 1;
  const total = (counts: number[]): number => Math.max(1, counts.reduce((a, b) => a + b, 0));
  const refTotal = total(histogram.reference);
  const batchTotal = total(histogram.batch);
  const shares = (counts: number[], n: number): number[] => counts.map(c => c / n);
  const ref = shares(histogram.reference, refTotal);
  const bat = shares(histogram.batch, batchTotal);
  const peak = Math.max(1e-9, ...ref, ...bat);
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const x = (v: number): number => left + ((v - lo) / span) * plotW;
  const y = (share: number): number => top + plotH - (share / peak) * plotH;

  const series: [string, number[]][] = [
    ['sf-drift-bar-reference', ref],
    ['sf-drift-bar-batch', bat]
  ];
  for (const [cls, values] of series) {
    const group = svg(doc, 'g', { class: cls });
    values.forEach((share, i) => {
      if (share <= 0) {
        return;
      }
      const x0 = x(edges[i]);
      const x1 = x(edges[i + 1]);
      const bar = svg(doc, 'rect', {
        x: x0.toFixed(2),
        y: y(share).toFixed(2),
        width: Math.max(0.5, x1 - x0 - 0.5).toFixed(2),
        height: (top + plotH - y(share)).toFixed(2)
      });
      const tip = svg(doc, 'title', {});
      tip.textContent = `${fmt(edges[i])} to ${fmt(edges[i + 1])}: ${percent(share)}`;
      bar.append(tip);
      group.append(bar);
    });
    chart.append(group);
  }
  chart.append(
    svg(doc, 'line', { class: 'sf-drift-axis', x1: left, y1: top + plotH, x2: width - right, y2: top + plotH }),
    svg(doc, 'line', { class: 'sf-drift-axis', x1: left, y1: top, x2: left, y2: top + plotH })
  );
  const label = (text: string, attrs: Record<string, string | number>): void => {
    const node = svg(doc, 'text', { class: 'sf-drift-label', ...attrs });
    node.textContent = text;
    chart.append(node);
  };
  // Ticks between the ends (issue 19: only min and max were labelled): round scores, three shares.
  for (const v of niceTicks(lo, hi)) {
    const tx = x(v);
    chart.append(svg(doc, 'line', { class: 'sf-drift-tick', x1: tx, y1: top + plotH, x2: tx, y2: top + plotH + 4 }));
    label(fmt(v), { x: tx, y: height - bottom + 14, 'text-anchor': 'middle' });
  }
  label('score', { x: left + plotW / 2, y: height - 4, 'text-anchor': 'middle' });
  for (const share of [0, peak / 2, peak]) {
    const ty = y(share);
    chart.append(svg(doc, 'line', { class: 'sf-drift-tick', x1: left - 4, y1: ty, x2: left, y2: ty }));
    label(percent(share), { x: left - 6, y: share === peak ? ty + 8 : ty + 3, 'text-anchor': 'end' });
  }
  if (threshold !== null && Number.isFinite(threshold)) {
    const tx = x(Math.min(hi, Math.max(lo, threshold)));
    chart.append(
      svg(doc, 'line', { class: 'sf-drift-threshold', x1: tx, y1: top, x2: tx, y2: top + plotH })
    );
    label(`threshold ${fmt(threshold)}`, { x: tx + 3, y: top + 10, 'text-anchor': 'start' });
  }
  return chart;
}

/** The colour scale of the error heatmaps: white (no error) to deep red (the sample's largest). */
export function heatScale(doc: Document): HTMLElement {
  const box = el(doc, 'div', 'sf-drift-heat-scale');
  const bar = el(doc, 'span', 'sf-drift-heat-bar');
  bar.style.background = `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map(heat).join(', ')})`;
  box.append(
    el(doc, 'span', '', 'Error heatmaps: no error'),
    bar,
    el(doc, 'span', '', "the sample's largest error (each map on its own scale)")
  );
  return box;
}

function legend(doc: Document): HTMLElement {
  const box = el(doc, 'div', 'sf-drift-legend');
  for (const [cls, text] of [
    ['sf-drift-key-reference', 'reference (held out)'],
    ['sf-drift-key-batch', 'batch'],
    // Where the two bars overlap they mix into a third colour: it has a key too (issue 19).
    ['sf-drift-key-overlap', 'both (bars overlap)'],
    ['sf-drift-key-threshold', 'threshold']
  ]) {
    const item = el(doc, 'span', 'sf-drift-key');
    item.append(el(doc, 'span', `sf-drift-swatch ${cls}`), doc.createTextNode(text));
    box.append(item);
  }
  return box;
}

/**
 * A grid of cells as SVG rects; `colour` maps a value in [0, 1] to a fill.
 * Values are scaled by the grid's own range so faint maps still show their shape.
 */
export function renderGrid(
  doc: Document,
  values: number[],
  shape: number[],
  colour: (t: number) => string,
  label: string
): SVGSVGElement {
  const [rows, cols] = shape;
  const grid = svg(doc, 'svg', {
    class: 'sf-drift-grid',
    viewBox: `0 0 ${cols} ${rows}`,
    role: 'img',
    'aria-label': label,
    'shape-rendering': 'crispEdges'
  });
  const finite = values.filter(v => Number.isFinite(v));
  const lo = finite.length ? Math.min(...finite) : 0;
  const hi = finite.length ? Math.max(...finite) : 1;
  const span = hi > lo ? hi - lo : 1;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = values[r * cols + c];
      const t = Number.isFinite(v) ? (v - lo) / span : 0;
      grid.append(svg(doc, 'rect', { x: c, y: r, width: 1, height: 1, fill: colour(t) }));
    }
  }
  return grid;
}

/** Pixels: black ink on white (digits and most scans read that way). */
export function grey(t: number): string {
  const level = Math.round(255 * (1 - t));
  return `rgb(${level},${level},${level})`;
}

/** Errors: white (none) to deep red (the sample's largest). */
export function heat(t: number): string {
  const g = Math.round(255 * (1 - t));
  const r = Math.round(255 - 80 * t);
  return `rgb(${r},${g},${Math.round(g * 0.85)})`;
}

function featureIndex(name: string, featureNames: string[]): number {
  const named = featureNames.indexOf(name);
  if (named >= 0) {
    return named;
  }
  return /^\d+$/.test(name) ? Number(name) : -1;
}

/** One anomalous sample: its id and scores, then its image + heatmap or its worst features. */
export function renderSample(
  doc: Document,
  sample: SampleCard,
  imageShape: number[],
  featureNames: string[],
  drift = true
): HTMLElement {
  // Alarm boxes only when the batch drifts: with no drift, a sample over the threshold is an expected false alarm.
  const marked = sample.over_threshold ? (drift ? ' sf-drift-over' : ' sf-drift-expected') : '';
  const card = el(doc, 'div', `sf-drift-sample${marked}`);
  card.append(el(doc, 'div', 'sf-drift-sample-id', sample.id));
  card.append(
    el(
      doc,
      'div',
      'sf-drift-sample-score',
      `score ${fmt(sample.score)}, p ${fmtP(sample.p_value)}${sample.over_threshold ? ' (over threshold)' : ''}`
    )
  );
  const cells = imageShape.length === 2 ? imageShape[0] * imageShape[1] : 0;
  if (cells > 0 && sample.errors.length === cells) {
    const pictures = el(doc, 'div', 'sf-drift-pictures');
    if (sample.values && sample.values.length === cells) {
      pictures.append(renderGrid(doc, sample.values, imageShape, grey, `sample ${sample.id}`));
    }
    pictures.append(renderGrid(doc, sample.errors, imageShape, heat, `reconstruction error of ${sample.id}`));
    card.append(pictures);
    return card;
  }
  const table = el(doc, 'table', 'sf-drift-features');
  const head = el(doc, 'tr', '');
  for (const title of sample.values ? ['feature', 'value', 'error'] : ['feature', 'error']) {
    head.append(el(doc, 'th', '', title));
  }
  table.append(head);
  for (const [name, error] of sample.top_features) {
    const row = el(doc, 'tr', '');
    row.append(el(doc, 'td', 'sf-drift-feature-name', name));
    if (sample.values) {
      const at = featureIndex(name, featureNames);
      row.append(el(doc, 'td', '', at >= 0 && at < sample.values.length ? fmt(sample.values[at]) : ''));
    }
    row.append(el(doc, 'td', '', fmt(error)));
    table.append(row);
  }
  card.append(table);
  return card;
}

/** The integrity checks: one line each, passed, failed or skipped, with its message (text). */
export function renderChecks(doc: Document, checks: CheckLine[]): HTMLElement {
  const list = el(doc, 'ul', 'sf-drift-checks');
  list.setAttribute('aria-label', 'Integrity checks');
  for (const check of checks) {
    const state = check.skipped ? 'skip' : check.passed ? 'pass' : 'fail';
    const item = el(doc, 'li', `sf-drift-check sf-drift-check-${state}`);
    item.dataset.check = check.check;
    item.append(el(doc, 'span', 'sf-drift-check-mark', state === 'fail' ? '✗ ' : state === 'pass' ? '✓ ' : '– '));
    item.append(el(doc, 'span', 'sf-drift-check-message', check.message));
    list.append(item);
  }
  return list;
}

const TIME = { width: 720, height: 250, left: 44, right: 10, top: 10, split: 150, gap: 14, bottom: 30 };

function path(points: [number, number | null][], x: (t: number) => number, y: (v: number) => number): string {
  let d = '';
  let drawing = false;
  for (const [t, v] of points) {
    if (v === null) {
      drawing = false;
      continue;
    }
    d += `${drawing ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    drawing = true;
  }
  return d;
}

/**
 * A sequence batch as a time plot: its features on top, the per-step reconstruction error
 * below, and every window above the threshold shaded across both (its id and score as a
 * tooltip). Feature names, window ids and time labels are text.
 */
export function renderTimeline(doc: Document, timeline: Timeline): SVGSVGElement {
  const { width, height, left, right, top, split, gap, bottom } = TIME;
  const chart = svg(doc, 'svg', {
    class: 'sf-drift-timeline',
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': 'The batch over time, its per-step error, and the windows above the threshold'
  });
  const t0 = 0;
  const t1 = Math.max(1, timeline.length);
  const plotW = width - left - right;
  const x = (t: number): number => left + ((t - t0) / (t1 - t0)) * plotW;
  const finite = (vs: (number | null)[]): number[] => vs.filter((v): v is number => v !== null);
  // A reduce, not Math.min(...all): a long timeline would overflow the call stack.
  const all = timeline.values.reduce<number[]>((acc, vs) => acc.concat(finite(vs)), []);
  const lo = all.length ? all.reduce((a, b) => Math.min(a, b)) : 0;
  const hi = all.length ? all.reduce((a, b) => Math.max(a, b)) : 1;
  const span = hi > lo ? hi - lo : 1;
  const yTop = (v: number): number => top + (split - top) * (1 - (v - lo) / span);
  const errors = finite(timeline.error);
  const errHi = errors.length ? Math.max(...errors) : 1;
  const errTop = split + gap;
  const errBottom = height - bottom;
  const yErr = (v: number): number => errBottom - (errBottom - errTop) * (errHi > 0 ? v / errHi : 0);

  const shading = svg(doc, 'g', { class: 'sf-drift-windows' });
  for (const w of timeline.windows) {
    if (!w.over) {
      continue;
    }
    const rect = svg(doc, 'rect', {
      class: 'sf-drift-window-over',
      x: x(w.start).toFixed(1),
      y: top,
      width: Math.max(1, x(w.end) - x(w.start)).toFixed(1),
      height: errBottom - top
    });
    rect.dataset.start = String(w.start);
    const tip = svg(doc, 'title', {});
    tip.textContent = `${w.id}: score ${fmt(w.score)}`;
    rect.append(tip);
    shading.append(rect);
  }
  chart.append(shading);
  timeline.values.forEach((line, i) => {
    const points = line.map((v, j): [number, number | null] => [timeline.steps[j] ?? j, v]);
    const series = svg(doc, 'path', { class: `sf-drift-series sf-drift-series-${i % 6}`, d: path(points, x, yTop) });
    const tip = svg(doc, 'title', {});
    tip.textContent = timeline.features[i] ?? String(i);
    series.append(tip);
    chart.append(series);
  });
  const errorPoints = timeline.error.map((v, j): [number, number | null] => [timeline.steps[j] ?? j, v]);
  chart.append(svg(doc, 'path', { class: 'sf-drift-error', d: path(errorPoints, x, yErr) }));
  chart.append(
    svg(doc, 'line', { class: 'sf-drift-axis', x1: left, y1: split, x2: width - right, y2: split }),
    svg(doc, 'line', { class: 'sf-drift-axis', x1: left, y1: errBottom, x2: width - right, y2: errBottom })
  );
  const label = (text: string, attrs: Record<string, string | number>): void => {
    const node = svg(doc, 'text', { class: 'sf-drift-label', ...attrs });
    node.textContent = text;
    chart.append(node);
  };
  const first = timeline.labels?.[0] ?? String(timeline.steps[0]);
  const last = timeline.labels?.[timeline.labels.length - 1] ?? String(timeline.length - 1);
  label(first, { x: left, y: height - bottom + 14, 'text-anchor': 'start' });
  label(last, { x: width - right, y: height - bottom + 14, 'text-anchor': 'end' });
  label(timeline.downsampled ? 'time (averaged per point)' : 'time', {
    x: left + plotW / 2,
    y: height - 4,
    'text-anchor': 'middle'
  });
  label('error', { x: left - 4, y: errTop + 8, 'text-anchor': 'end' });
  label(fmt(hi), { x: left - 4, y: top + 8, 'text-anchor': 'end' });
  label(fmt(lo), { x: left - 4, y: split - 2, 'text-anchor': 'end' });
  return chart;
}

function timelineLegend(doc: Document, timeline: Timeline): HTMLElement {
  const box = el(doc, 'div', 'sf-drift-legend sf-drift-timeline-legend');
  const keys: [string, string][] = timeline.features.map((name, i) => [`sf-drift-key-series-${i % 6}`, name]);
  keys.push(['sf-drift-key-error', 'error per step'], ['sf-drift-key-window', 'window above the threshold']);
  for (const [cls, text] of keys) {
    const item = el(doc, 'span', 'sf-drift-key');
    item.append(el(doc, 'span', `sf-drift-swatch ${cls}`), doc.createTextNode(text));
    box.append(item);
  }
  return box;
}

/** The whole report into `root` (its previous content replaced). */
export function renderDrift(root: HTMLElement, data: DriftData): void {
  const doc = root.ownerDocument;
  root.replaceChildren();
  if (!data.summary) {
    root.append(el(doc, 'div', 'sf-drift-empty', 'No report.'));
    return;
  }
  root.append(renderVerdict(doc, data.summary, data.timeline ? 'windows' : 'samples'));
  if (data.timeline) {
    const figure = el(doc, 'div', 'sf-drift-figure sf-drift-time-figure');
    figure.append(renderTimeline(doc, data.timeline), timelineLegend(doc, data.timeline));
    root.append(figure);
  }
  if (data.histogram) {
    const figure = el(doc, 'div', 'sf-drift-figure');
    figure.append(renderHistogram(doc, data.histogram, data.summary.threshold), legend(doc));
    root.append(figure);
  }
  if (data.checks.length) {
    root.append(el(doc, 'div', 'sf-drift-section', 'Integrity checks'));
    root.append(renderChecks(doc, data.checks));
  }
  if (data.samples.length) {
    const drift = data.summary.drift;
    const things = data.timeline ? 'windows' : 'samples';
    root.append(
      el(
        doc,
        'div',
        'sf-drift-section',
        drift ? `Most anomalous ${things}` : `Most unusual ${things} (no drift: a few over the threshold are expected)`
      )
    );
    const cells = data.imageShape.length === 2 ? data.imageShape[0] * data.imageShape[1] : 0;
    if (cells > 0 && data.samples.some(sample => sample.errors.length === cells)) {
      root.append(heatScale(doc));
    }
    const list = el(doc, 'div', 'sf-drift-samples');
    for (const sample of data.samples) {
      list.append(renderSample(doc, sample, data.imageShape, data.featureNames, drift));
    }
    root.append(list);
  }
}
