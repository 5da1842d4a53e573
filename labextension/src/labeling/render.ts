/**
 * Drawing the labeling grid: sample cards (image thumbnails with an optional error heatmap, or tabular
 * fields), the class buttons, progress, and the learning curve. Pure DOM and SVG; the widget in
 * ../widgets/labeling.ts owns the state and the keys. User text is set as text, never HTML.
 */
import { el } from '../dom';
import { fmt, grey, heat, renderGrid } from '../drift/render';

const SVG = 'http://www.w3.org/2000/svg';

export interface LabelItem {
  id: string;
  why: Record<string, number>;
  /** Why it was picked, as a sentence. */
  reason?: string;
  /** The model's guess, e.g. "3 (87%)". */
  guess?: string;
  pixels?: number[];
  heatmap?: number[];
  fields?: [string, number][];
}

export interface CurvePoint {
  labels: number;
  accuracy: number;
  version: number;
  series: string;
}

export interface Progress {
  labeled: number;
  queued: number;
  budget: number;
  pool: number;
}

export function readItems(value: unknown): LabelItem[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value.filter(
    (v): v is LabelItem => typeof v === 'object' && v !== null && typeof (v as LabelItem).id === 'string'
  );
}

export function readCurve(value: unknown): CurvePoint[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value.filter(
    (v): v is CurvePoint =>
      typeof v === 'object' && v !== null && typeof v.labels === 'number' && typeof v.accuracy === 'number'
  );
}

/** Why a sample was picked, in one line: "margin 0.83 · typicality 0.61". */
export function whyText(why: Record<string, number>): string {
  return Object.entries(why)
    .map(([name, value]) => `${name} ${fmt(value)}`)
    .join(' · ');
}

/**
 * One sample card. `state` is "" (unlabeled), "pending" (sent, not yet on disk) or "saved";
 * `label` the label given.
 */
export function renderCard(doc: Document, item: LabelItem, imageShape: number[]): HTMLElement {
  const card = el(doc, 'div', 'sf-label-card');
  card.tabIndex = -1;
  card.dataset.id = item.id;
  const cells = imageShape.length === 2 ? imageShape[0] * imageShape[1] : 0;
  if (cells > 0 && item.pixels && item.pixels.length === cells) {
    const pictures = el(doc, 'div', 'sf-label-pictures');
    pictures.append(renderGrid(doc, item.pixels, imageShape, grey, `sample ${item.id}`));
    if (item.heatmap && item.heatmap.length === cells) {
      pictures.append(renderGrid(doc, item.heatmap, imageShape, heat, `reconstruction error of ${item.id}`));
    }
    card.append(pictures);
  } else {
    const table = el(doc, 'table', 'sf-label-fields');
    for (const [name, value] of item.fields ?? []) {
      const row = el(doc, 'tr', '');
      row.append(el(doc, 'td', 'sf-label-field-name', name), el(doc, 'td', '', fmt(value)));
      table.append(row);
    }
    card.append(table);
  }
  // "sample 17", small and grey: a bare "17" under a digit reads like its label.
  const id = el(doc, 'div', 'sf-label-id', `sample ${item.id}`);
  id.title = `sample id ${item.id}`;
  card.append(id);
  if (item.guess) {
    card.append(el(doc, 'div', 'sf-label-guess', `model's guess: ${item.guess}`));
  }
  const why = el(doc, 'div', 'sf-label-why', item.reason || whyText(item.why));
  why.title = whyText(item.why);
  card.append(why);
  card.append(el(doc, 'div', 'sf-label-badge', ''));
  return card;
}

/** Show a card's label state on its badge. */
export function setBadge(card: HTMLElement, state: '' | 'pending' | 'saved', label: string): void {
  card.dataset.state = state;
  const badge = card.querySelector('.sf-label-badge');
  if (badge) {
    badge.textContent = state === 'saved' ? `${label} ✓` : state === 'pending' ? `${label} …` : '';
  }
}

/** The learning curve: held-out accuracy against labels, the session's model and the random control's. */
export function renderCurve(doc: Document, points: CurvePoint[]): SVGSVGElement {
  const width = 320;
  const height = 140;
  const left = 36;
  const bottom = 22;
  const top = 8;
  const right = 8;
  const chart = doc.createElementNS(SVG, 'svg');
  chart.setAttribute('class', 'sf-label-curve');
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
  chart.setAttribute('role', 'img');
  chart.setAttribute('aria-label', 'Learning curve: held-out accuracy against the number of labels');
  const maxX = Math.max(10, ...points.map(p => p.labels));
  const minY = Math.min(0.5, ...points.map(p => p.accuracy));
  const x = (v: number): number => left + (v / maxX) * (width - left - right);
  const y = (v: number): number => top + (1 - (v - minY) / (1 - minY || 1)) * (height - top - bottom);
  const text = (content: string, attrs: Record<string, string | number>): void => {
    const node = doc.createElementNS(SVG, 'text');
    node.setAttribute('class', 'sf-label-curve-label');
    for (const [k, v] of Object.entries(attrs)) {
      node.setAttribute(k, String(v));
    }
    node.textContent = content;
    chart.append(node);
  };
  const axis = doc.createElementNS(SVG, 'path');
  axis.setAttribute('class', 'sf-label-curve-axis');
  axis.setAttribute('d', `M${left},${top} V${height - bottom} H${width - right}`);
  chart.append(axis);
  text(`${Math.round(minY * 100)}%`, { x: left - 3, y: height - bottom, 'text-anchor': 'end' });
  text('100%', { x: left - 3, y: top + 8, 'text-anchor': 'end' });
  text(`${maxX} labels`, { x: width - right, y: height - 6, 'text-anchor': 'end' });
  for (const series of ['control', 'session']) {
    const mine = points.filter(p => p.series === series).sort((a, b) => a.labels - b.labels);
    if (!mine.length) {
      continue;
    }
    const line = doc.createElementNS(SVG, 'polyline');
    line.setAttribute('class', `sf-label-curve-${series}`);
    line.setAttribute('points', mine.map(p => `${x(p.labels).toFixed(1)},${y(p.accuracy).toFixed(1)}`).join(' '));
    chart.append(line);
    const last = mine[mine.length - 1];
    const dot = doc.createElementNS(SVG, 'circle');
    dot.setAttribute('class', `sf-label-curve-${series}-dot`);
    dot.setAttribute('cx', x(last.labels).toFixed(1));
    dot.setAttribute('cy', y(last.accuracy).toFixed(1));
    dot.setAttribute('r', '2.5');
    const tip = doc.createElementNS(SVG, 'title');
    tip.textContent = `${series}: ${(last.accuracy * 100).toFixed(1)}% after ${last.labels} labels`;
    dot.append(tip);
    chart.append(dot);
  }
  return chart;
}

/** "12 labeled of 300 · 8 in this batch" and a bar. */
export function renderProgress(doc: Document, progress: Progress): HTMLElement {
  const box = el(doc, 'div', 'sf-label-progress');
  const bar = el(doc, 'progress', 'sf-label-progress-bar');
  bar.max = Math.max(1, progress.budget);
  bar.value = progress.labeled;
  box.append(
    bar,
    el(
      doc,
      'span',
      'sf-label-progress-text',
      `${progress.labeled} labeled of ${progress.budget} · ${progress.queued} queued · pool ${progress.pool}`
    )
  );
  return box;
}
