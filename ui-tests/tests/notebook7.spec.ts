/**
 * The widgets in Jupyter Notebook 7 (the `notebook` package, served by the same server as JupyterLab at
 * /notebooks/PATH): the labextension loads there too, a `%scanflow run` graph draws and colours its steps, its Run
 * button talks to the kernel, and the composer draws its canvas.
 *
 * Notebook 7 is not JupyterLab, so Galata's `page` (which waits for JupyterLab's shell) is not used: a plain
 * Playwright page opens the notebook and runs it from Notebook 7's own menu.
 */
import { expect, test } from '@jupyterlab/galata';
import type { APIRequestContext } from '@playwright/test';

import { attachScreenshot, node, notebookOf, steps } from './helpers';

const CELLS = [
  '%load_ext scanflow_jupyter\n%config ScanflowMagics.tracking = False\nimport tempfile\n' +
    '%scanflow new nb7 --folder {tempfile.mkdtemp()}/nb7',
  '%%scanflow step prep\nprint("prep")',
  '%%scanflow step train --after prep\nprint("train")',
  'result = %scanflow run\nprint("first run", result.status)',
  'c = %scanflow compose\nc'
];

async function writeNotebook(request: APIRequestContext, path: string, cells: string[]): Promise<void> {
  const response = await request.put(`api/contents/${path}`, {
    data: { type: 'notebook', format: 'json', content: notebookOf(cells) }
  });
  expect(response.ok(), `could not write ${path}: ${response.status()}`).toBeTruthy();
}

test('the graph and the composer work in Jupyter Notebook 7', async ({ context, request, tmpPath }, testInfo) => {
  const path = `${tmpPath}/nb7.ipynb`;
  await writeNotebook(request, path, CELLS);

  const page = await context.newPage();
  await page.goto(`notebooks/${path}`);
  // Notebook 7's shell (not JupyterLab's), with the notebook open and its kernel started.
  await expect(page.locator('#main-panel .jp-NotebookPanel')).toBeVisible({ timeout: 60_000 });
  await expect(page.locator('.jp-CodeCell')).toHaveCount(CELLS.length);
  await expect(page.locator('.jp-LabShell')).toHaveCount(0);

  // Run All from the menu. A click that lands before the notebook's kernel session is wired does nothing (every
  // prompt stays "[ ]"), so it is tried again until the first cell is queued ("[*]") or has run ("[1]").
  const firstPrompt = page.locator('.jp-CodeCell .jp-InputPrompt').first();
  await expect(async () => {
    if (!/\[[*\d]+\]/.test((await firstPrompt.textContent()) ?? '')) {
      await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Run$/ }).click();
      await page.locator('.lm-Menu-itemLabel', { hasText: /^Run All Cells$/ }).click();
    }
    await expect(firstPrompt).toHaveText(/\[[*\d]+\]/, { timeout: 10_000 });
  }).toPass({ timeout: 90_000 });

  // The run's graph: both steps drawn, coloured by the run's end.
  const graph = page.locator('.jp-CodeCell').nth(3).locator('.sf-graph');
  await expect(graph.locator('.sf-graph-title')).toHaveText('nb7 / main', { timeout: 120_000 });
  await expect(steps(graph)).toHaveCount(2);
  await expect(node(graph, 'prep')).toHaveAttribute('data-state', 'succeeded', { timeout: 120_000 });
  await expect(node(graph, 'train')).toHaveAttribute('data-state', 'succeeded');
  await expect(graph.locator('.sf-graph-status')).toHaveAttribute('data-status', 'succeeded');

  // The composer's canvas: a node per step, the dependency drawn as an edge.
  const composer = page.locator('.jp-CodeCell').nth(4).locator('.sf-composer');
  await expect(composer.locator('.react-flow__node')).toHaveCount(2, { timeout: 60_000 });
  await expect(composer.locator('.react-flow__node[data-id="train"]')).toBeVisible();
  await expect(composer.locator('.react-flow__edge')).toHaveCount(1);

  // The graph's Run button reaches the kernel: a second run of the same steps, all reused from the cache.
  await graph.locator('button.sf-graph-run').click();
  await expect(node(graph, 'train')).toHaveAttribute('data-state', 'cached', { timeout: 120_000 });
  await expect(graph.locator('.sf-graph-status')).toHaveAttribute('data-status', 'succeeded');

  await attachScreenshot(testInfo, 'notebook7-graph', graph);
  await attachScreenshot(testInfo, 'notebook7-composer', composer);
  await page.close();
});

test('the Scanflow Editor works in Jupyter Notebook 7', async ({ context }, testInfo) => {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1440, height: 1000 });
  // Notebook 7 opens a file at /edit/PATH with its default factory: scanflow.yaml opens in the Scanflow Editor.
  await page.goto('edit/examples/tabular/scanflow.yaml');
  const editor = page.locator('.sf-editor-document');
  await expect(editor).toBeVisible({ timeout: 60_000 });
  await expect(editor.locator('.react-flow__node[data-id="modeling/forest"]')).toBeVisible();
  await expect(page.locator('.jp-LabShell')).toHaveCount(0);
  await page.screenshot({ path: testInfo.outputPath('notebook7-editor.png') });
  // An edit on the canvas marks the document dirty there too, and the toolbar can undo it.
  await editor.locator('.react-flow__node[data-id="gather"]').click();
  const rows = editor.locator('.sf-composer-param[data-name="rows"] .sf-composer-param-value');
  await rows.fill('12');
  await rows.press('Enter');
  await expect(editor.locator('.sf-editor-button.sf-editor-undo')).toBeEnabled();
  await editor.locator('.sf-editor-button.sf-editor-undo').click();
  await expect(rows).toHaveValue('0');
});
