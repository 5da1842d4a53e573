/**
 * The legend of state colours (issue 19: a coloured graph with no key): every node state with its swatch, drawn
 * under the graph's toolbar; the document editor draws the same legend (editor/panel.tsx). Colours from
 * states.json through STATE_COLOURS.
 */
import { el } from '../dom';
import { STATE_COLOURS } from './dot';
import { STATES } from './spec';

export function renderLegend(doc: Document): HTMLElement {
  const legend = el(doc, 'div', 'sf-legend');
  legend.setAttribute('aria-label', 'state colours');
  for (const state of STATES) {
    const item = el(doc, 'span', `sf-legend-item sf-legend-${state}`);
    const swatch = el(doc, 'span', 'sf-legend-swatch');
    swatch.style.background = STATE_COLOURS[state];
    item.append(swatch, doc.createTextNode(state));
    legend.append(item);
  }
  // Not a state: a checker step that succeeded and found drift keeps its colour and gets this outline.
  const drift = el(doc, 'span', 'sf-legend-note sf-legend-drift');
  drift.append(el(doc, 'span', 'sf-legend-outline'), doc.createTextNode('drift found'));
  legend.append(drift);
  return legend;
}
