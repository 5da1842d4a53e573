/**
 * The experiment picker of the run browser: a button that names the experiments shown ("Experiment: digits (12
 * runs)"), opening a list of every experiment with its run count, a search box and a tick on each one shown. It
 * replaced a two-row native listbox in which a person saw two names and had to know about Ctrl-click (issue 19).
 * Names are text nodes (never HTML).
 */
import { el } from '../dom';

export interface Experiment {
  id: string;
  name: string;
  runs: number | null;
}

/** "digits (12 runs)", "digits" when the count is unknown. */
export function experimentLabel(e: Experiment): string {
  if (e.runs === null || e.runs === undefined) {
    return e.name;
  }
  return `${e.name} (${e.runs} ${e.runs === 1 ? 'run' : 'runs'})`;
}

/** What the closed picker says: the one experiment shown, two names, or how many. */
export function pickerSummary(experiments: Experiment[], chosen: string[]): string {
  const shown = experiments.filter(e => chosen.includes(e.id));
  if (!shown.length) {
    return 'Experiment: none chosen';
  }
  if (shown.length === 1) {
    return `Experiment: ${experimentLabel(shown[0])}`;
  }
  if (shown.length === 2) {
    return `Experiments: ${shown[0].name}, ${shown[1].name}`;
  }
  return `Experiments: ${shown.length} of ${experiments.length}`;
}

/** Whether `e` matches what was typed in the search box (its name or id, any case). */
export function matches(e: Experiment, typed: string): boolean {
  const t = typed.trim().toLowerCase();
  return !t || e.name.toLowerCase().includes(t) || e.id.toLowerCase() === t;
}

export class ExperimentPicker {
  readonly node: HTMLDetailsElement;
  private summary: HTMLElement;
  private search: HTMLInputElement;
  private list: HTMLElement;
  private experiments: Experiment[] = [];
  private chosen: string[] = [];

  constructor(
    private doc: Document,
    private onChange: (ids: string[]) => void
  ) {
    this.node = el(doc, 'details', 'sf-runs-experiments');
    this.summary = el(doc, 'summary', 'sf-runs-experiments-summary');
    this.summary.title = 'Choose the experiments whose runs are shown';
    const panel = el(doc, 'div', 'sf-runs-experiments-panel');
    this.search = el(doc, 'input', 'sf-runs-experiments-search');
    this.search.type = 'search';
    this.search.placeholder = 'find an experiment…';
    this.search.setAttribute('aria-label', 'Find an experiment');
    this.search.addEventListener('input', () => this.drawList());
    this.list = el(doc, 'div', 'sf-runs-experiments-list');
    this.list.setAttribute('role', 'listbox');
    this.list.setAttribute('aria-multiselectable', 'true');
    panel.append(this.search, this.list);
    this.node.append(this.summary, panel);
  }

  update(experiments: Experiment[], chosen: string[]): void {
    this.experiments = experiments;
    this.chosen = chosen;
    this.summary.textContent = pickerSummary(experiments, chosen);
    this.node.dataset.chosen = String(chosen.length);
    this.drawList();
  }

  private drawList(): void {
    const doc = this.doc;
    const shown = this.experiments.filter(e => matches(e, this.search.value));
    const items: HTMLElement[] = shown.map(e => {
      const on = this.chosen.includes(e.id);
      const label = el(doc, 'label', `sf-runs-experiment${on ? ' sf-chosen' : ''}`);
      label.setAttribute('role', 'option');
      label.setAttribute('aria-selected', String(on));
      label.dataset.id = e.id;
      label.title = `Experiment ${e.name} (id ${e.id})`;
      const box = el(doc, 'input');
      box.type = 'checkbox';
      box.checked = on;
      box.addEventListener('change', () => {
        const rest = this.chosen.filter(id => id !== e.id);
        // In the experiments' order, whatever order they were ticked in.
        const next = box.checked ? this.experiments.map(x => x.id).filter(id => id === e.id || rest.includes(id)) : rest;
        this.onChange(next);
      });
      const only = el(doc, 'button', 'sf-runs-experiment-only', 'only');
      only.type = 'button';
      only.title = `Show only ${e.name}`;
      only.addEventListener('click', event => {
        event.preventDefault();
        this.onChange([e.id]);
      });
      label.append(box, el(doc, 'span', 'sf-runs-experiment-name', e.name));
      if (e.runs !== null && e.runs !== undefined) {
        label.append(el(doc, 'span', 'sf-runs-experiment-count', `${e.runs} ${e.runs === 1 ? 'run' : 'runs'}`));
      }
      label.append(only);
      return label;
    });
    if (!items.length) {
      items.push(
        el(doc, 'p', 'sf-runs-note', this.experiments.length ? 'No experiment has that name.' : 'This store has no experiments.')
      );
    }
    this.list.replaceChildren(...items);
  }
}
