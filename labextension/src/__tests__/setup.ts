/**
 * Test setup, for every test file. jsdom has no DragEvent, which @lumino/dragdrop (pulled in by
 * @jupyter-widgets/base) subclasses when it loads.
 */
import { vi } from 'vitest';

// version.ts reads ../package.json with the bundler's `require`, relative to lib/: tests read it directly.
vi.mock('../version', async () => {
  const pkg = await import('../../../package.json');
  return { MODULE_NAME: pkg.name, MODULE_VERSION: pkg.version };
});

const g = globalThis as { DragEvent?: unknown; MouseEvent?: typeof MouseEvent };
if (g.MouseEvent !== undefined && g.DragEvent === undefined) {
  g.DragEvent = class DragEvent extends g.MouseEvent {};
}
