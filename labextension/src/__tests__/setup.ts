/**
 * Test setup. jsdom has no DragEvent, which @lumino/dragdrop (pulled in by
 * @jupyter-widgets/base) subclasses when it loads.
 */
const g = globalThis as { DragEvent?: unknown; MouseEvent?: typeof MouseEvent };
if (g.MouseEvent !== undefined && g.DragEvent === undefined) {
  g.DragEvent = class DragEvent extends g.MouseEvent {};
}
