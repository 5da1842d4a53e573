/**
 * DOM helpers shared by the drawing modules (drift, labeling, agents). No widget machinery, so the
 * drawing modules stay testable with jsdom alone.
 */

/** An element of `doc` with a class and, when given, a text (set as text, never HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(
  doc: Document,
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = doc.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}
