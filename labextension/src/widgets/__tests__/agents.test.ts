// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';

import { ago, clock, readAgents } from '../../agents/render';
import { AgentPanelModel, AgentPanelView } from '../agents';
import { MockComm, modelOptions, query } from './harness';

const NOW = 1_800_000_000;

function checker(state: string, extra: { [key: string]: unknown } = {}): { [key: string]: unknown } {
  return {
    name: 'checker',
    kind: 'checker',
    state,
    interval: 1,
    ticks: 12,
    last_tick: NOW - 2,
    experiment: 'digits-agents',
    readings: [{ sensor: 'batch', summary: 'work/incoming/batch-001.npz: DRIFT, p = 0.0005', changed: true, time: NOW - 2 }],
    rules: [{ name: 'drift', then: ['queue', 'notify'], fired: 1, fired_at: NOW - 30, cooling: 0, cooldown: 0, description: '' }],
    decisions: [
      {
        time: NOW - 30,
        rule: 'drift',
        status: 'done',
        reasons: ['batch work/incoming/batch-001.npz drifted: p = 0.0005 <= alpha 0.05'],
        actions: [
          { actuator: 'queue', status: 'done', attempts: 2, error: '' },
          { actuator: 'notify', status: 'done', attempts: 1, error: '' }
        ],
        run_id: 'abc123',
        error: ''
      }
    ],
    errors: [],
    ...extra
  };
}

function makeView(state: { [key: string]: unknown }): { view: AgentPanelView; model: AgentPanelModel; comm: MockComm } {
  const comm = new MockComm();
  const model = new AgentPanelModel({ now: NOW, ...state }, modelOptions('agents-1', comm));
  const view = new AgentPanelView({ model } as never);
  view.render();
  document.body.replaceChildren(view.el);
  return { view, model, comm };
}

describe('AgentPanelView', () => {
  it('shows each agent: state, readings, rules and decisions with their reasons', () => {
    const { view } = makeView({ agents: [checker('running')] });
    expect(query(view.el, '.sf-agents-count').textContent).toBe('1 agent, 1 running');
    const card = query(view.el, '.sf-agent[data-agent="checker"]');
    expect(card.classList.contains('sf-agent-state-running')).toBe(true);
    expect(query(card, '.sf-agent-meta').textContent).toBe('every 1 s · 12 ticks · last 2 s ago');
    expect(query(card, '.sf-agent-reading.sf-agent-new').textContent).toContain('DRIFT, p = 0.0005');
    expect(query(card, '.sf-agent-rule-row').textContent).toContain('→ queue, notify');
    expect(query(card, '.sf-agent-reason').textContent).toBe('batch work/incoming/batch-001.npz drifted: p = 0.0005 <= alpha 0.05');
    expect(Array.from(card.querySelectorAll('.sf-agent-action')).map(a => a.textContent)).toEqual([
      'queue: done (2 attempts)',
      'notify: done'
    ]);
    expect(query(card, '.sf-agent-run').textContent).toBe('MLflow run abc123');
  });

  it('sends start, stop and tick for the agent whose button is clicked; buttons follow the state', () => {
    const { view, model, comm } = makeView({ agents: [checker('stopped')] });
    const button = (action: string): HTMLButtonElement => query<HTMLButtonElement>(view.el, `button[data-action="${action}"]`);
    expect([button('start').disabled, button('stop').disabled, button('tick').disabled]).toEqual([false, true, false]);
    button('start').click();
    button('tick').click();
    model.set({ agents: [checker('acting')] });
    expect([button('start').disabled, button('stop').disabled, button('tick').disabled]).toEqual([true, false, true]);
    button('stop').click();
    query<HTMLButtonElement>(view.el, '.sf-agent-refresh').click();
    expect(comm.custom()).toEqual([
      { event: 'start', agent: 'checker' },
      { event: 'tick', agent: 'checker' },
      { event: 'stop', agent: 'checker' },
      { event: 'refresh' }
    ]);
  });

  it('draws the timeline: a dot per decision, a cross per error, each titled with its text', () => {
    const timeline = [
      { time: NOW - 40, agent: 'checker', kind: 'started', text: 'started', status: '', run_id: '' },
      { time: NOW - 31, agent: 'checker', kind: 'reading', text: 'batch: DRIFT', status: '', run_id: '' },
      { time: NOW - 30, agent: 'checker', kind: 'decision', text: 'drift: queued', status: 'done', run_id: 'abc123' },
      { time: NOW - 10, agent: 'planner', kind: 'error', text: 'sensor failed', status: 'failed', run_id: '' },
      { time: NOW - 5, agent: 'planner', kind: 'decision', text: 'promote: v2', status: 'failed', run_id: 'def' }
    ];
    const planner = { ...checker('running'), name: 'planner', kind: 'planner', decisions: [], errors: ['sensor failed'] };
    const { view } = makeView({ agents: [checker('running'), planner], timeline });
    const svg = query(view.el, 'svg.sf-agent-timeline-svg');
    expect(svg.querySelectorAll('circle').length).toBe(2);
    expect(svg.querySelector('circle.sf-agent-status-failed title')?.textContent).toMatch(/planner: promote: v2$/);
    expect(svg.querySelectorAll('path.sf-agent-mark-error').length).toBe(1);
    expect(Array.from(svg.querySelectorAll('.sf-agent-timeline-label')).map(t => t.textContent).slice(0, 2)).toEqual([
      'checker',
      'planner'
    ]);
    const events = Array.from(view.el.querySelectorAll('.sf-agent-event-text')).map(e => e.textContent);
    expect(events[0]).toBe('promote: v2'); // newest first
    expect(query(view.el, '.sf-agent[data-agent="planner"] > .sf-agent-error').textContent).toBe('sensor failed');
  });

  it('sets text from the kernel as text, never HTML', () => {
    const evil = '<img src=x onerror="alert(1)">';
    const agent = checker('running', { name: evil, errors: [evil] });
    const { view, model } = makeView({ agents: [agent], timeline: [{ time: NOW, agent: evil, kind: 'error', text: evil, status: 'failed', run_id: '' }] });
    model.set({ error: evil });
    expect(view.el.querySelector('img')).toBeNull();
    expect(query(view.el, '.sf-agent-name').textContent).toBe(evil);
    expect(query<HTMLElement>(view.el, '.sf-agents-error').hidden).toBe(false);
  });

  it('reads only well-formed cards and formats times', () => {
    expect(readAgents([{ name: 'a', readings: 'x', decisions: [{ rule: 'r', reasons: [1] }] }, 3, null])).toEqual([
      { name: 'a', readings: [], rules: [], decisions: [{ rule: 'r', reasons: ['1'], actions: [] }], errors: [] }
    ]);
    expect(ago(NOW - 125, NOW)).toBe('2 min ago');
    expect(clock(null)).toBe('–');
  });
});
