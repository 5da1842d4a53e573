/**
 * The details panel of the selected step. Everything that comes from the user or the
 * step (names, parameters, logs, errors, URLs) is written with `textContent` or
 * `setAttribute`, never parsed as HTML.
 */
import { el } from '../dom';
import { STATE_COLOURS } from './dot';
import { RunLinks, uiRunUrl } from './links';
import { State, StepInfo, isState } from './spec';

/** A duration in seconds as a person reads it: `0.4 s`, `12.3 s`, `2 min 05 s`, `1 h 02 min`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
    return '–';
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h} h ${pad(m)} min` : `${m} min ${pad(s)} s`;
}

/** A parameter value as text: strings as they are, anything else as JSON. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value === undefined) {
    return '';
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A metric value as a person reads it: 0.9533, 1257, 3.2e-5 (never 0.95333333333 or 1257.0000). */
export function formatMetric(value: unknown): string {
  if (typeof value !== 'number') {
    return formatValue(value);
  }
  if (!Number.isFinite(value) || Number.isInteger(value)) {
    return String(value);
  }
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) {
    return value.toExponential(2);
  }
  return String(Number(value.toPrecision(4)));
}

/** The URL if it is an http(s) URL, else null: only those become links. */
export function safeHttpUrl(url: unknown): string | null {
  return typeof url === 'string' && /^https?:\/\//i.test(url) ? url : null;
}


/**
 * The run id as a way to the run: a link to the server's run page, to the configured MLflow UI, or a button that
 * opens it in the run browser; plain text when none applies. The id is set as text, the URL as an attribute.
 */
export function mlflowRun(doc: Document, runId: string, info: StepInfo, links?: RunLinks): HTMLElement {
  const store = typeof info.mlflow_store === 'string' ? info.mlflow_store : '';
  const experiment = typeof info.mlflow_experiment_id === 'string' ? info.mlflow_experiment_id : '';
  const url = safeHttpUrl(info.mlflow_url) ?? (links && store ? uiRunUrl(links.uiUrl, experiment, runId) : null);
  if (url) {
    const a = el(doc, 'a', 'sf-graph-mlflow sf-graph-mlflow-link', runId);
    a.setAttribute('href', url);
    a.setAttribute('target', '_blank');
    a.setAttribute('rel', 'noopener noreferrer');
    a.title = 'Open this run in the MLflow UI (a new tab)';
    return a;
  }
  const open = links?.open;
  if (open && store) {
    const button = el(doc, 'button', 'sf-graph-mlflow sf-graph-mlflow-open', runId);
    button.type = 'button';
    button.title = 'Open this run in the run browser (its params, metrics and artifacts)';
    button.addEventListener('click', () => open(store, runId));
    return button;
  }
  const code = el(doc, 'code', 'sf-graph-mlflow', runId);
  code.title = 'The step run in MLflow (set an MLflow UI in the Scanflow settings to link it)';
  return code;
}

export interface DetailsOptions {
  /** Whether `address` is a step of the drawn workflow. */
  known: boolean;
  /** Called when the close button is pressed. */
  onClose?: () => void;
  /** Where an MLflow run id leads when the store is not a server (graph/links.ts); none: the id is text. */
  links?: RunLinks;
}

/**
 * Fill `container` with the details of the step at `address` ("" clears it and
 * shows a hint).
 */
export function renderDetails(
  container: HTMLElement,
  address: string,
  info: StepInfo | null | undefined,
  state: State,
  options: DetailsOptions
): void {
  const doc = container.ownerDocument;
  container.replaceChildren();
  if (!address) {
    container.classList.add('sf-empty');
    container.appendChild(el(doc, 'div', 'sf-graph-hint', 'Click a step to see its details.'));
    return;
  }
  container.classList.remove('sf-empty');

  const header = el(doc, 'div', 'sf-graph-details-header');
  header.appendChild(el(doc, 'span', 'sf-graph-details-address', address));
  // A checker that found drift succeeds as a step: the badge says what it found, not a plain green success.
  const verdict = typeof info?.verdict === 'string' ? info.verdict : '';
  const drift = verdict.startsWith('DRIFT');
  const badge = el(doc, 'span', 'sf-graph-details-state', drift ? `${state} · drift found` : state);
  badge.setAttribute('data-state', state);
  if (drift) {
    badge.setAttribute('data-verdict', 'drift');
  } else {
    badge.style.background = isState(state) ? STATE_COLOURS[state] : STATE_COLOURS.pending; // states.json's colour
  }
  header.appendChild(badge);
  const close = el(doc, 'button', 'sf-graph-details-close', '×');
  close.type = 'button';
  close.title = 'Close the details';
  close.setAttribute('aria-label', 'Close the details');
  if (options.onClose) {
    const onClose = options.onClose;
    close.addEventListener('click', () => onClose());
  }
  header.appendChild(close);
  container.appendChild(header);

  if (!options.known) {
    container.appendChild(el(doc, 'div', 'sf-graph-hint', 'This step is not in the workflow.'));
    return;
  }

  // Divs in a grid, not <dl>: notebook output styles float and size <dt>.
  const fields = el(doc, 'div', 'sf-graph-details-fields');
  const field = (label: string, value: Node | string, className: string): void => {
    fields.appendChild(el(doc, 'div', 'sf-graph-field-label', label));
    const dd = el(doc, 'div', `sf-graph-field-value ${className}`);
    if (typeof value === 'string') {
      dd.textContent = value;
    } else {
      dd.appendChild(value);
    }
    fields.appendChild(dd);
  };
  // A cached step did not run this time: say so rather than draw a dash (issue 19).
  const reused = state === 'cached' && (info?.duration === null || info?.duration === undefined);
  field('Duration', reused ? 'reused from an earlier run' : formatDuration(info?.duration), 'sf-graph-duration');
  if (verdict) {
    field('Verdict', verdict, drift ? 'sf-graph-verdict sf-graph-verdict-drift' : 'sf-graph-verdict');
  }
  const runId = typeof info?.mlflow_run_id === 'string' ? info.mlflow_run_id : '';
  if (runId) {
    field('MLflow run', mlflowRun(doc, runId, info ?? {}, options.links), 'sf-graph-mlflow-cell');
  }
  container.appendChild(fields);

  // The step's metrics (their last logged values, from its MLflow run): what a person opens a step for.
  const metrics = info?.metrics;
  const metricNames = metrics && typeof metrics === 'object' ? Object.keys(metrics).sort() : [];
  if (metrics && metricNames.length > 0) {
    const table = el(doc, 'table', 'sf-graph-metrics');
    table.title = 'The last value the step logged for each metric (its MLflow run has the full history)';
    const head = table.createTHead().insertRow();
    head.appendChild(el(doc, 'th', undefined, 'Metric'));
    head.appendChild(el(doc, 'th', undefined, 'Last value'));
    const body = table.createTBody();
    for (const name of metricNames) {
      const row = body.insertRow();
      row.dataset.metric = name;
      row.appendChild(el(doc, 'td', 'sf-graph-metric-name', name));
      const value = el(doc, 'td', 'sf-graph-metric-value', formatMetric(metrics[name]));
      value.title = String(metrics[name]);
      row.appendChild(value);
    }
    container.appendChild(table);
  }

  const params = info?.params;
  const names = params && typeof params === 'object' ? Object.keys(params).sort() : [];
  if (params && names.length > 0) {
    const table = el(doc, 'table', 'sf-graph-params');
    const head = table.createTHead().insertRow();
    head.appendChild(el(doc, 'th', undefined, 'Parameter'));
    head.appendChild(el(doc, 'th', undefined, 'Value'));
    const body = table.createTBody();
    for (const name of names) {
      const row = body.insertRow();
      row.appendChild(el(doc, 'td', 'sf-graph-param-name', name));
      row.appendChild(el(doc, 'td', 'sf-graph-param-value', formatValue(params[name])));
    }
    container.appendChild(table);
  }

  if (typeof info?.error === 'string' && info.error) {
    const section = el(doc, 'div', 'sf-graph-section');
    section.appendChild(el(doc, 'div', 'sf-graph-section-title', 'Error'));
    section.appendChild(el(doc, 'pre', 'sf-graph-error', info.error));
    container.appendChild(section);
  }

  if (typeof info?.log_tail === 'string' && info.log_tail) {
    const section = el(doc, 'div', 'sf-graph-section');
    section.appendChild(el(doc, 'div', 'sf-graph-section-title', 'Log (last lines)'));
    const pre = el(doc, 'pre', 'sf-graph-log', info.log_tail);
    section.appendChild(pre);
    container.appendChild(section);
    // Show the newest lines first; the element has a maximum height.
    pre.scrollTop = pre.scrollHeight;
  }
}
