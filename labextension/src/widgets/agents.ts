/**
 * The agent panel widget: a card per agent (state, readings, rules, decisions and their reasons, errors)
 * with Start, Stop and Tick buttons, and a timeline of every agent. The buttons send `{event, agent}` to the
 * kernel; the kernel acts and sends a fresh snapshot (the `agents`, `timeline` and `now` traits).
 * Python side: `scanflow_jupyter/notebook/widgets/agents.py`; contract: PROTOCOL.md.
 */
import { DOMWidgetModel, DOMWidgetView, ISerializers } from '@jupyter-widgets/base';
import type { ObjectHash } from 'backbone';

import { AgentCard, readAgents, readTimeline, renderAgent, renderEvents, renderTimeline } from '../agents/render';
import { el } from '../dom';
import { MODULE_NAME, MODULE_VERSION } from '../version';

const BUSY = new Set(['acting', 'stopping']);

export class AgentPanelModel extends DOMWidgetModel {
  defaults(): ObjectHash {
    return {
      ...super.defaults(),
      _model_name: AgentPanelModel.model_name,
      _model_module: AgentPanelModel.model_module,
      _model_module_version: AgentPanelModel.model_module_version,
      _view_name: AgentPanelModel.view_name,
      _view_module: AgentPanelModel.view_module,
      _view_module_version: AgentPanelModel.view_module_version,
      agents: [],
      timeline: [],
      now: 0,
      error: '',
      revision: 0
    };
  }

  static serializers: ISerializers = {
    ...DOMWidgetModel.serializers
  };

  static model_name = 'AgentPanelModel';
  static model_module = MODULE_NAME;
  static model_module_version = MODULE_VERSION;
  static view_name = 'AgentPanelView';
  static view_module = MODULE_NAME;
  static view_module_version = MODULE_VERSION;
}

export class AgentPanelView extends DOMWidgetView {
  private header!: HTMLDivElement;
  private errorBox!: HTMLPreElement;
  private cards!: HTMLDivElement;
  private timeline!: HTMLDivElement;

  render(): void {
    const doc = this.el.ownerDocument;
    this.el.classList.add('sf-agents');
    this.header = el(doc, 'div', 'sf-agents-header');
    this.errorBox = el(doc, 'pre', 'sf-agent-error sf-agents-error');
    this.errorBox.setAttribute('role', 'alert');
    this.cards = el(doc, 'div', 'sf-agents-cards');
    this.timeline = el(doc, 'div', 'sf-agents-timeline');
    this.el.append(this.header, this.errorBox, this.cards, this.timeline);
    this.listenTo(this.model, 'change:agents change:timeline change:now change:error', this.draw);
    this.draw();
  }

  private button(label: string, action: string, agent: AgentCard, disabled: boolean, title: string): HTMLButtonElement {
    const button = el(this.el.ownerDocument, 'button', `sf-agent-button jp-mod-styled sf-agent-${action}`, label);
    button.type = 'button';
    button.dataset.action = action;
    button.title = title;
    button.disabled = disabled;
    button.addEventListener('click', () => this.send({ event: action, agent: agent.name }));
    return button;
  }

  private draw(): void {
    const doc = this.el.ownerDocument;
    const agents = readAgents(this.model.get('agents'));
    const entries = readTimeline(this.model.get('timeline'));
    const now = Number(this.model.get('now')) || 0;
    const running = agents.filter(a => a.state !== 'stopped').length;
    const refresh = el(doc, 'button', 'sf-agent-button jp-mod-styled sf-agent-refresh', 'Refresh');
    refresh.type = 'button';
    refresh.addEventListener('click', () => this.send({ event: 'refresh' }));
    this.header.replaceChildren(
      el(doc, 'span', 'sf-agents-title', 'Agents'),
      el(doc, 'span', 'sf-agents-count', `${agents.length} agent${agents.length === 1 ? '' : 's'}, ${running} running`),
      refresh
    );
    const error = String(this.model.get('error') ?? '');
    this.errorBox.textContent = error;
    this.errorBox.hidden = !error;

    this.cards.replaceChildren(
      ...agents.map(agent => {
        const stopped = agent.state === 'stopped';
        return renderAgent(doc, agent, now, [
          this.button('Start', 'start', agent, !stopped, 'Run it in the background'),
          this.button('Stop', 'stop', agent, stopped || agent.state === 'stopping', 'Stop it (a workflow it runs is cancelled)'),
          this.button('Tick', 'tick', agent, BUSY.has(agent.state), 'Read its sensors and act now, once')
        ]);
      })
    );
    if (!agents.length) {
      this.cards.append(el(doc, 'div', 'sf-agent-empty', 'No agents yet: build one, or %scanflow agents start'));
    }
    const title = el(doc, 'div', 'sf-agent-section-title', 'Timeline');
    this.timeline.replaceChildren(
      title,
      renderTimeline(
        doc,
        entries,
        agents.map(a => a.name),
        now
      ),
      renderEvents(doc, entries)
    );
  }
}
