/**
 * The Scanflow sidebar and the editor on the example applications (issue 19): the sidebar lists what the root
 * holds; a workflow opens in the editor (nested workflows drawn as boxes); the text editor beside it and the canvas
 * stay in step both ways (a canvas edit shows in the text, Undo puts it back, a typed mistake shows on the canvas);
 * the run browser opens as a main-area panel. Screenshots at 1440x1000.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import { attachScreenshot } from './helpers';

test.use({ viewport: { width: 1440, height: 1000 } });

function node(editor: Locator, address: string): Locator {
  return editor.locator(`.react-flow__node[data-id="${address}"]`);
}

test('the sidebar opens an example, and the canvas and the text stay in step', async ({ page }, testInfo) => {
  await page.sidebar.openTab('scanflow-sidebar');
  const sidebar = page.locator('#scanflow-sidebar');
  const tabular = sidebar.locator('.sf-sidebar-app[data-path="examples/tabular"]');
  await expect(tabular).toBeVisible();
  await expect(sidebar.locator('.sf-sidebar-app[data-path="examples/digits"]')).toBeVisible();
  await tabular.locator('.sf-sidebar-app-head').click();
  await expect(tabular.locator('.sf-sidebar-workflow[data-workflow="pipeline"]')).toBeVisible();
  await expect(tabular.locator('.sf-sidebar-section-title', { hasText: 'Recent runs' })).toBeVisible();
  // The filter narrows the list.
  await sidebar.locator('.sf-sidebar-filter').fill('digit');
  await expect(tabular).toHaveCount(0);
  await sidebar.locator('.sf-sidebar-filter').fill('');
  await expect(tabular).toBeVisible();

  await tabular.locator('.sf-sidebar-workflow[data-workflow="pipeline"] .sf-sidebar-open').click();
  const editor = page.locator('.sf-editor-document');
  await expect(node(editor, 'modeling')).toBeVisible();
  await expect(node(editor, 'modeling/forest')).toBeVisible();
  await attachScreenshot(testInfo, 'sidebar-and-editor', page.locator('#main'));

  // The text beside the canvas: the same document (gather selected first: the canvas is narrower beside it).
  await node(editor, 'gather').click();
  await editor.locator('.sf-editor-button.sf-editor-text').click();
  const text = page.locator('.jp-FileEditor .cm-content');
  await expect(text).toContainText('name: tabular');
  // A canvas edit shows in the text ...
  const rows = editor.locator('.sf-composer-param[data-name="rows"] .sf-composer-param-value');
  await rows.fill('25');
  await rows.press('Enter');
  await expect(text).toContainText('rows: 25');
  await expect(page.locator('.lm-TabBar-tab.jp-mod-dirty').first()).toBeVisible();
  // ... Undo puts it back in both ...
  await editor.locator('.sf-editor-button.sf-editor-undo').click();
  await expect(text).not.toContainText('rows: 25');
  await expect(editor.locator('.sf-composer-param[data-name="rows"] .sf-composer-param-value')).toHaveValue('0');
  // ... and Redo again.
  await editor.locator('.sf-editor-button.sf-editor-redo').click();
  await expect(text).toContainText('rows: 25');

  // A mistake typed in the text shows on the canvas (which keeps the last valid drawing), and goes when fixed.
  await text.click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('\nbogus: 1');
  const banner = editor.locator('.sf-editor-text-error');
  await expect(banner).toContainText("unknown key 'bogus'");
  await expect(node(editor, 'gather')).toBeVisible();
  await attachScreenshot(testInfo, 'editor-text-error', page.locator('#main'));

  // Revert (File > Reload from disk) throws the edits away: the mistake is gone, rows is 0 again on the canvas.
  await page.evaluate(async () => {
    const app = (window as any).jupyterapp;
    const widget = [...app.shell.widgets('main')].find((w: any) => w.hasClass?.('sf-editor-document'));
    await widget.context.revert();
  });
  await expect(banner).toHaveCount(0);
  await expect(editor.locator('.sf-composer-param[data-name="rows"] .sf-composer-param-value')).toHaveValue('0');
});

test('the run browser opens as a main-area panel', async ({ page, tmpPath }, testInfo) => {
  // An application with a tracked run (through the server's API, as the sidebar's Run does).
  const folder = `${tmpPath}/tracked`;
  const made = await page.request.post('/scanflow/api/new', { data: { path: folder, name: 'tracked' } });
  expect(made.ok()).toBeTruthy();
  const started = await page.request.post('/scanflow/api/start', { data: { path: folder } });
  expect(started.ok()).toBeTruthy();
  await expect
    .poll(async () => (await (await page.request.get(`/scanflow/api/app?path=${folder}`)).json()).runs[0]?.status, {
      timeout: 120_000
    })
    .toBe('succeeded');
  await page.evaluate(
    path => (window as any).jupyterapp.commands.execute('scanflow:open-run-browser', { path, name: 'tracked' }),
    folder
  );
  const panel = page.locator('.jp-ConsolePanel');
  await expect(panel).toBeVisible();
  await expect(panel.locator('.sf-runs')).toBeVisible({ timeout: 120_000 });
  await attachScreenshot(testInfo, 'run-browser-panel', page.locator('#main'));
});
