/** How values show in the run browser: dates, durations, numbers; always as text. */
import { Value } from './types';

/** `metrics.acc` -> `acc`, `tags."a.b"` -> `a.b`, `attributes.start_time` -> `start time`. */
export function columnLabel(name: string): string {
  const dot = name.indexOf('.');
  let key = dot >= 0 ? name.slice(dot + 1) : name;
  if (key.length >= 2 && key[0] === '"' && key[key.length - 1] === '"') {
    key = key.slice(1, -1);
  }
  return name.startsWith('attributes.') ? key.replace(/_/g, ' ') : key;
}

export function columnKind(name: string): 'metric' | 'param' | 'tag' | 'attribute' {
  if (name.startsWith('metrics.')) {
    return 'metric';
  }
  if (name.startsWith('params.')) {
    return 'param';
  }
  if (name.startsWith('tags.')) {
    return 'tag';
  }
  return 'attribute';
}

/** Columns MLflow can sort by (duration is computed). */
export function sortable(name: string): boolean {
  return name !== 'attributes.duration' && name !== 'attributes.experiment_id';
}

/** `text` of at most `max` characters, cut in the middle so both ends show, the end more (names differ there). */
export function middleEllipsis(text: string, max: number): string {
  if (text.length <= max) {
    return text;
  }
  const tail = Math.ceil((max - 1) * 0.6);
  return `${text.slice(0, max - 1 - tail)}…${text.slice(text.length - tail)}`;
}

export function formatDate(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !isFinite(ms)) {
    return '';
  }
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return '';
  }
  if (seconds < 60) {
    return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  }
  const m = Math.floor(seconds / 60);
  if (m < 60) {
    return `${m} min ${Math.round(seconds - m * 60)} s`;
  }
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatNumber(value: number): string {
  if (Number.isInteger(value)) {
    return String(value);
  }
  const abs = Math.abs(value);
  return abs !== 0 && (abs < 1e-3 || abs >= 1e6) ? value.toExponential(3) : String(Number(value.toPrecision(6)));
}

export function formatValue(column: string, value: Value | undefined): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (column === 'attributes.start_time' || column === 'attributes.end_time') {
    return formatDate(typeof value === 'number' ? value : Number(value));
  }
  if (column === 'attributes.duration') {
    return formatDuration(typeof value === 'number' ? value : Number(value));
  }
  if (typeof value === 'number') {
    return formatNumber(value);
  }
  return String(value);
}

/** Parse a sort entry `metrics.acc DESC` into its column and direction. */
export function parseSort(entry: string): { column: string; ascending: boolean } {
  const m = /^(.*?)\s+(ASC|DESC)$/i.exec(entry.trim());
  return m ? { column: m[1], ascending: m[2].toUpperCase() === 'ASC' } : { column: entry.trim(), ascending: true };
}

/** What a header click does to the sort: DESC first, then ASC, then off. Shift adds a key. */
export function nextSort(order: string[], column: string, add: boolean): string[] {
  const current = order.map(parseSort);
  const at = current.findIndex(s => s.column === column);
  let replacement: string | null = `${column} DESC`;
  if (at >= 0) {
    replacement = current[at].ascending ? null : `${column} ASC`;
  }
  if (!add) {
    return replacement ? [replacement] : [];
  }
  const out = order.slice();
  if (at >= 0) {
    if (replacement) {
      out[at] = replacement;
    } else {
      out.splice(at, 1);
    }
  } else if (replacement) {
    out.push(replacement);
  }
  return out;
}
