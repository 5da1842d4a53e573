/**
 * The deploy panel: build, start, run, stop and clean up an application on a backend, with a progress
 * bar, the state of each image and step, and the steps' logs as they come. The buttons send
 * `{action}` to the kernel; the kernel does the work and updates the traits.
 * Python side: `scanflow_jupyter/notebook/widgets/deploy.py`. Everything from the user (names, log
 * lines, errors) is set as text, never as HTML.
 */
import { DOMWidgetModel, DOMWidgetView, ISerializers } from '@jupyter-widgets/base';
import type { ObjectHash } from 'backbone';

import { MODULE_NAME, MODULE_VERSION } from '../version';

export const DEPLOY_ACTIONS = ['build', 'start', 'run', 'stop', 'cleanup'] as const;
const BUSY = new Set(['building', 'starting', 'running', 'stopping', 'cleaning']);

export interface LogLine {
  node: string;
  stream: string;
  line: string;
}

export class DeployPanelModel extends DOMWidgetModel {
  defaults(): ObjectHash {
    return {
      ...super.defaults(),
      _model_name: DeployPanelModel.model_name,
      _model_module: DeployPanelModel.model_module,
      _model_module_version: DeployPanelModel.model_module_version,
      _view_name: DeployPanelModel.view_name,
      _view_module: DeployPanelModel.view_module,
      _view_module_version: DeployPanelModel.view_module_version,
      app: '',
      backend: 'docker',
      phase: 'idle',
      action: '',
      done: 0,
      total: 0,
      images: {},
      nodes: {},
      logs: [],
      message: '',
      error: '',
      tracker: ''
    };
  }

  static serializers: ISerializers = {
    ...DOMWidgetModel.serializers
  };

  static model_name = 'DeployPanelModel';
  static model_module = MODULE_NAME;
  static model_module_version = MODULE_VERSION;
  static view_name = 'DeployPanelView';
  static view_module = MODULE_NAME;
  static view_module_version = MODULE_VERSION;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = cls;
  node.textContent = text;
  return node;
}

export class DeployPanelView extends DOMWidgetView {
  private title = el('div', 'sf-deploy-title');
  private buttons = el('div', 'sf-deploy-buttons');
  private bar = el('progress', 'sf-deploy-progress');
  private status = el('div', 'sf-deploy-status');
  private error = el('pre', 'sf-deploy-error');
  private items = el('ul', 'sf-deploy-items');
  private log = el('pre', 'sf-deploy-log');
  private follow = true;

  render(): void {
    this.el.classList.add('sf-deploy');
    for (const action of DEPLOY_ACTIONS) {
      const button = el('button', 'sf-deploy-button jp-mod-styled', action);
      button.dataset.action = action;
      button.addEventListener('click', () => this.send({ action }));
      this.buttons.appendChild(button);
    }
    this.log.addEventListener('scroll', () => {
      const { scrollTop, scrollHeight, clientHeight } = this.log;
      this.follow = scrollTop + clientHeight >= scrollHeight - 4;
    });
    this.el.append(this.title, this.buttons, this.bar, this.status, this.error, this.items, this.log);
    this.listenTo(this.model, 'change', this.draw);
    this.draw();
  }

  private draw(): void {
    const get = (name: string): unknown => this.model.get(name);
    const phase = String(get('phase'));
    this.el.dataset.phase = phase;
    this.title.textContent = `${get('app')} on ${get('backend')}`;
    for (const button of Array.from(this.buttons.children) as HTMLButtonElement[]) {
      button.disabled = BUSY.has(phase);
    }
    const done = Number(get('done'));
    const total = Number(get('total'));
    if (total > 0) {
      this.bar.max = total;
      this.bar.value = Math.min(done, total);
    } else {
      this.bar.removeAttribute('value'); // indeterminate while busy, empty otherwise
    }
    this.bar.hidden = !BUSY.has(phase) && total === 0;
    const tracker = String(get('tracker'));
    const message = String(get('message'));
    this.status.textContent = [`${get('action') || 'ready'}: ${phase}`, message, tracker ? `tracker ${tracker}` : '']
      .filter(Boolean)
      .join(' · ');
    const error = String(get('error'));
    this.error.textContent = error;
    this.error.hidden = !error;
    this.drawItems(get('images') as { [node: string]: { image: string; status: string } }, get('nodes') as {
      [node: string]: string;
    });
    this.drawLog(get('logs') as LogLine[]);
  }

  private drawItems(images: { [node: string]: { image: string; status: string } }, nodes: { [node: string]: string }): void {
    const rows: HTMLElement[] = [];
    for (const [node, state] of Object.entries(nodes ?? {})) {
      const row = el('li', `sf-deploy-node sf-state-${state}`, `${node}: ${state}`);
      row.dataset.node = node;
      rows.push(row);
    }
    for (const [node, info] of Object.entries(images ?? {})) {
      if (nodes && node in nodes) {
        continue;
      }
      const row = el('li', `sf-deploy-image sf-image-${info.status}`, `${node}: ${info.image} (${info.status})`);
      row.dataset.node = node;
      rows.push(row);
    }
    this.items.replaceChildren(...rows);
  }

  private drawLog(lines: LogLine[]): void {
    this.log.textContent = (lines ?? []).map(l => `[${l.node}${l.stream === 'stderr' ? ' !' : ''}] ${l.line}`).join('\n');
    this.log.hidden = !lines || lines.length === 0;
    if (this.follow) {
      this.log.scrollTop = this.log.scrollHeight;
    }
  }
}
