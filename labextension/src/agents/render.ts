/**
 * Drawing the agent panel: one card per agent (state, readings, rules, last decisions with their reasons,
 * errors) and a timeline of every agent's readings, decisions and errors. Pure DOM and SVG; the widget in
 * ../widgets/agents.ts owns the buttons. Everything from the kernel (names, reasons, errors) is set as text,
 * never as HTML.
 */
import { el } from '../dom';

const SVG = 'http://www.w3.org/2000/svg';

export interface ReadingCard {
  sensor: string;
  summary: string;
  changed: boolean;
  time: number;
}

export interface RuleCard {
  name: string;
  then: string[];
  fired: number;
  fired_at: number | null;
  cooling: number;
  cooldown: number;
  description: string;
}

export interface ActionCard {
  actuator: string;
  status: string;
  attempts: number;
  error: string;
}

export interface DecisionCard {
  time: number;
  rule: string;
  status: string;
  reasons: string[];
  actions: ActionCard[];
  run_id: string;
  error: string;
}

export interface AgentCard {
  name: string;
  kind: string;
  state: string;
  interval: number;
  ticks: number;
  last_tick: number | null;
  experiment: string;
  readings: ReadingCard[];
  rules: RuleCard[];
  decisions: DecisionCard[];
  errors: string[];
}

export interface TimelineEntry {
  time: number;
  agent: string;
  kind: string;
  text: string;
  status: string;
  run_id: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function list<T>(value: unknown, keep: (v: Record<string, unknown>) => boolean): T[] {
  return Array.isArray(value) ? (value.filter(v => isObject(v) && keep(v)) as T[]) : [];
}

export function readAgents(value: unknown): AgentCard[] {
  return list<AgentCard>(value, v => typeof v.name === 'string').map(a => ({
    ...a,
    readings: list<ReadingCard>(a.readings, r => typeof r.sensor === 'string'),
    rules: list<RuleCard>(a.rules, r => typeof r.name === 'string'),
    decisions: list<DecisionCard>(a.decisions, d => typeof d.rule === 'string').map(d => ({
      ...d,
      reasons: Array.isArray(d.reasons) ? d.reasons.map(String) : [],
      actions: list<ActionCard>(d.actions, x => typeof x.actuator === 'string')
    })),
    errors: Array.isArray(a.errors) ? a.errors.map(String) : []
  }));
}

export function readTimeline(value: unknown): TimelineEntry[] {
  return list<TimelineEntry>(value, v => typeof v.time === 'number' && typeof v.agent === 'string');
}

/** A clock time, "14:03:27", in the browser's time zone. */
export function clock(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '–';
  }
  const d = new Date(seconds * 1000);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** "12 s ago", "3 min ago", from the kernel's `now`. */
export function ago(seconds: number | null | undefined, now: number): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || !now) {
    return '';
  }
  const delta = Math.max(0, now - seconds);
  if (delta < 60) {
    return `${Math.round(delta)} s ago`;
  }
  if (delta < 3600) {
    return `${Math.round(delta / 60)} min ago`;
  }
  return `${Math.round(delta / 3600)} h ago`;
}

function section(doc: Document, title: string, className: string): HTMLElement {
  const box = el(doc, 'div', `sf-agent-section ${className}`);
  box.append(el(doc, 'div', 'sf-agent-section-title', title));
  return box;
}

function renderDecision(doc: Document, decision: DecisionCard, now: number): HTMLElement {
  const item = el(doc, 'li', `sf-agent-decision sf-agent-status-${decision.status}`);
  const head = el(doc, 'div', 'sf-agent-decision-head');
  head.append(
    el(doc, 'span', 'sf-agent-badge', decision.status),
    el(doc, 'span', 'sf-agent-rule', decision.rule),
    el(doc, 'span', 'sf-agent-when', `${clock(decision.time)} · ${ago(decision.time, now)}`)
  );
  item.append(head);
  const reasons = el(doc, 'ul', 'sf-agent-reasons');
  for (const reason of decision.reasons) {
    reasons.append(el(doc, 'li', 'sf-agent-reason', reason));
  }
  item.append(reasons);
  const actions = el(doc, 'div', 'sf-agent-actions');
  for (const action of decision.actions) {
    const tries = action.attempts > 1 ? ` (${action.attempts} attempts)` : '';
    actions.append(el(doc, 'span', `sf-agent-action sf-agent-status-${action.status}`, `${action.actuator}: ${action.status}${tries}`));
  }
  item.append(actions);
  if (decision.error) {
    item.append(el(doc, 'pre', 'sf-agent-error', decision.error));
  }
  if (decision.run_id) {
    item.append(el(doc, 'div', 'sf-agent-run', `MLflow run ${decision.run_id}`));
  }
  return item;
}

/**
 * One agent's card. `buttons` is appended to its header (the widget makes them: they send messages).
 */
export function renderAgent(doc: Document, agent: AgentCard, now: number, buttons: HTMLElement[]): HTMLElement {
  const card = el(doc, 'div', `sf-agent sf-agent-state-${agent.state}`);
  card.dataset.agent = agent.name;
  const head = el(doc, 'div', 'sf-agent-head');
  head.append(
    el(doc, 'span', 'sf-agent-name', agent.name),
    el(doc, 'span', 'sf-agent-kind', agent.kind),
    el(doc, 'span', 'sf-agent-state', agent.state),
    el(
      doc,
      'span',
      'sf-agent-meta',
      `every ${agent.interval} s · ${agent.ticks} tick${agent.ticks === 1 ? '' : 's'}` +
        (agent.last_tick ? ` · last ${ago(agent.last_tick, now)}` : '')
    ),
    ...buttons
  );
  card.append(head);

  const readings = section(doc, 'Readings', 'sf-agent-readings');
  const table = el(doc, 'ul', 'sf-agent-list');
  for (const reading of agent.readings) {
    const row = el(doc, 'li', reading.changed ? 'sf-agent-reading sf-agent-new' : 'sf-agent-reading');
    row.append(el(doc, 'span', 'sf-agent-sensor', reading.sensor), el(doc, 'span', 'sf-agent-summary', reading.summary));
    table.append(row);
  }
  if (!agent.readings.length) {
    table.append(el(doc, 'li', 'sf-agent-empty', 'no reading yet'));
  }
  readings.append(table);

  const rules = section(doc, 'Rules', 'sf-agent-rules');
  const ruleList = el(doc, 'ul', 'sf-agent-list');
  for (const rule of agent.rules) {
    const fired = rule.fired ? `fired ${rule.fired}× (last ${clock(rule.fired_at)})` : 'not fired';
    const cooling = rule.cooling > 0 ? ` · cooling ${Math.round(rule.cooling)} s` : '';
    const row = el(doc, 'li', 'sf-agent-rule-row');
    row.append(
      el(doc, 'span', 'sf-agent-rule', rule.name),
      el(doc, 'span', 'sf-agent-then', `→ ${rule.then.join(', ')}`),
      el(doc, 'span', 'sf-agent-fired', `${fired}${cooling}`)
    );
    if (rule.description) {
      row.title = rule.description;
    }
    ruleList.append(row);
  }
  rules.append(ruleList);

  const decisions = section(doc, 'Decisions', 'sf-agent-decisions');
  const decisionList = el(doc, 'ul', 'sf-agent-list');
  for (const decision of agent.decisions) {
    decisionList.append(renderDecision(doc, decision, now));
  }
  if (!agent.decisions.length) {
    decisionList.append(el(doc, 'li', 'sf-agent-empty', 'no decision yet'));
  }
  decisions.append(decisionList);

  const body = el(doc, 'div', 'sf-agent-body');
  body.append(readings, rules, decisions);
  card.append(body);
  if (agent.errors.length) {
    card.append(el(doc, 'pre', 'sf-agent-error', agent.errors[agent.errors.length - 1]));
  }
  return card;
}

const MARK: Record<string, string> = { decision: 'decision', reading: 'reading', error: 'error', held: 'held', retry: 'retry' };

/**
 * The timeline: a row per agent, time left to right (from the oldest entry to `now`); a dot per decision
 * (coloured by its outcome), a tick per new reading, a cross per error. Each mark's title is its text.
 */
export function renderTimeline(doc: Document, entries: TimelineEntry[], agents: string[], now: number): SVGSVGElement {
  const width = 640;
  const rowHeight = 22;
  const left = 110;
  const svg = doc.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'sf-agent-timeline-svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${Math.max(1, agents.length) * rowHeight + 18}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'Timeline of the agents');
  const shown = entries.filter(e => MARK[e.kind]);
  const start = shown.length ? Math.min(...shown.map(e => e.time)) : now - 60;
  const end = Math.max(now, start + 1);
  const x = (t: number): number => left + ((t - start) / (end - start)) * (width - left - 10);
  agents.forEach((name, row) => {
    const y = row * rowHeight + 12;
    const label = doc.createElementNS(SVG, 'text');
    label.setAttribute('x', '4');
    label.setAttribute('y', String(y + 4));
    label.setAttribute('class', 'sf-agent-timeline-label');
    label.textContent = name;
    const line = doc.createElementNS(SVG, 'line');
    line.setAttribute('x1', String(left));
    line.setAttribute('x2', String(width - 10));
    line.setAttribute('y1', String(y));
    line.setAttribute('y2', String(y));
    line.setAttribute('class', 'sf-agent-timeline-axis');
    svg.append(label, line);
  });
  for (const entry of shown) {
    const row = agents.indexOf(entry.agent);
    if (row < 0) {
      continue;
    }
    const y = row * rowHeight + 12;
    const cx = x(entry.time);
    let mark: SVGElement;
    if (entry.kind === 'decision' && entry.status !== 'acting') {
      mark = doc.createElementNS(SVG, 'circle');
      mark.setAttribute('cx', String(cx));
      mark.setAttribute('cy', String(y));
      mark.setAttribute('r', '5');
    } else if (entry.kind === 'error') {
      mark = doc.createElementNS(SVG, 'path');
      mark.setAttribute('d', `M${cx - 4},${y - 4}L${cx + 4},${y + 4}M${cx - 4},${y + 4}L${cx + 4},${y - 4}`);
    } else {
      mark = doc.createElementNS(SVG, 'line');
      mark.setAttribute('x1', String(cx));
      mark.setAttribute('x2', String(cx));
      mark.setAttribute('y1', String(y - 6));
      mark.setAttribute('y2', String(y + 6));
    }
    mark.setAttribute('class', `sf-agent-mark sf-agent-mark-${entry.kind} sf-agent-status-${entry.status || 'none'}`);
    const title = doc.createElementNS(SVG, 'title');
    title.textContent = `${clock(entry.time)} ${entry.agent}: ${entry.text}`;
    mark.append(title);
    svg.append(mark);
  }
  const axis = doc.createElementNS(SVG, 'text');
  axis.setAttribute('x', String(width - 10));
  axis.setAttribute('y', String(agents.length * rowHeight + 14));
  axis.setAttribute('text-anchor', 'end');
  axis.setAttribute('class', 'sf-agent-timeline-label');
  axis.textContent = `${clock(start)} – ${clock(end)}`;
  svg.append(axis);
  return svg;
}

/** The latest timeline entries as text lines, newest first. */
export function renderEvents(doc: Document, entries: TimelineEntry[], limit = 12): HTMLElement {
  const box = el(doc, 'ol', 'sf-agent-events');
  for (const entry of entries.slice(-limit).reverse()) {
    const row = el(doc, 'li', `sf-agent-event sf-agent-mark-${entry.kind} sf-agent-status-${entry.status || 'none'}`);
    row.append(
      el(doc, 'span', 'sf-agent-when', clock(entry.time)),
      el(doc, 'span', 'sf-agent-name', entry.agent),
      el(doc, 'span', 'sf-agent-event-kind', entry.kind),
      el(doc, 'span', 'sf-agent-event-text', entry.text)
    );
    box.append(row);
  }
  return box;
}
