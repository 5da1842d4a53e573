/**
 * DOM helpers shared by the drawing modules (graph details, runs, drift, labeling, agents). No widget
 * machinery, so the drawing modules stay testable with jsdom alone.
 */

/** An element of `doc` with a class (none when empty) and, when given, a text (set as text, never HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(
  doc: Document,
  tag: K,
  className = '',
  text?: string
): HTMLElementTagNameMap[K] {
  const node = doc.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}
