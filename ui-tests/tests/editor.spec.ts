/**
 * The JupyterLab-native workflow (issue 19): an application created from the launcher, edited in the Scanflow
 * Editor (a step from the palette, a dependency drawn, a parameter and a property set, saved: scanflow.yaml changes
 * on disk), run from the toolbar while the canvas colours each step, a step's logs opened, and the sidebar listing
 * the application and the run with its status while it runs. Screenshots at 1440x1000.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import { attachScreenshot } from './helpers';

test.use({ viewport: { width: 1440, height: 1000 } });

/** A step that waits for `release` to exist (a minute at most): the run stays "running" until the spec says. */
const GATED_STEP = `import os, sys, time
deadline = time.time() + 60
while not os.path.exists("release") and time.time() < deadline:
    time.sleep(0.1)
print("train: released", sys.argv[1:])
`;

function node(editor: Locator, address: string): Locator {
  return editor.locator(`.react-flow__node[data-id="${address}"]`);
}

async function settle(page: IJupyterLabPageFixture): Promise<void> {
  await page.evaluate(() => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve))));
}

async function connect(page: IJupyterLabPageFixture, editor: Locator, source: string, target: string): Promise<void> {
  await settle(page);
  const from = await node(editor, source).locator('.react-flow__handle.source').boundingBox();
  const to = await node(editor, target).locator('.react-flow__handle.target').boundingBox();
  if (!from || !to) {
    throw new Error(`no handles to connect ${source} to ${target}`);
  }
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 6 });
  await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 6 });
  await page.mouse.up();
}

async function readFile(page: IJupyterLabPageFixture, path: string): Promise<string> {
  const response = await page.request.get(`/api/contents/${path}?content=1&type=file&format=text`);
  expect(response.ok()).toBeTruthy();
  return (await response.json()).content as string;
}

test('create, edit, save and run an application in the Scanflow Editor', async ({ page, tmpPath }, testInfo) => {
  const folder = `${tmpPath}/flow`;
  // The launcher card.
  if (!(await page.locator('.jp-Launcher').first().isVisible())) {
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('launcher:create'));
  }
  const card = page.locator('.jp-Launcher:visible .jp-LauncherCard', { hasText: 'Scanflow application' }).first();
  await expect(card).toBeVisible();
  await attachScreenshot(testInfo, 'launcher', page.locator('.jp-Launcher:visible .jp-Launcher-body').first());
  await card.click();
  const dialog = page.locator('.jp-Dialog');
  await dialog.locator('input').fill(folder);
  await dialog.locator('.jp-mod-accept').click();

  // The editor opens on the new application: one step, hello.
  const editor = page.locator('.sf-editor-document');
  await expect(node(editor, 'hello')).toBeVisible();
  await expect(editor.locator('.sf-editor-problems')).toHaveText('valid');

  // The palette says what each kind is, on screen (issue 19: names only, the meaning in a tooltip).
  await expect(editor.locator('.sf-composer-palette-script .sf-composer-palette-hint')).toHaveText(
    'runs a Python script, steps/NAME.py (a stub is written on save)'
  );
  // A step from the palette (named first), then a dependency drawn by dragging: train runs after hello.
  await editor.locator('.sf-composer-name').fill('train');
  await editor.locator('.sf-composer-palette-script').click();
  await expect(node(editor, 'train')).toBeVisible();
  // Not saved yet: steps/train.py does not exist, and the canvas says so on the node.
  await expect(node(editor, 'train').locator('.sf-composer-problem-badge')).toBeVisible();
  await connect(page, editor, 'hello', 'train');
  await expect(editor.locator('.react-flow__edge')).toHaveCount(1);

  // A parameter and a property in the properties panel.
  await node(editor, 'train').click();
  const inspector = editor.locator('.sf-composer-inspector');
  await expect(inspector.locator('.sf-composer-inspector-address')).toHaveText('train');
  // The node's problem in words in the properties panel, not only a badge with a count.
  await expect(inspector.locator('.sf-composer-problem')).toHaveCount(1);
  await expect(inspector.locator('.sf-composer-problem')).toContainText('train.py');
  await inspector.locator('.sf-composer-param-new-name').fill('epochs');
  await inspector.locator('.sf-composer-param-new-type').selectOption('int');
  await inspector.locator('.sf-composer-param-new-value').fill('3');
  await inspector.locator('.sf-composer-param-add').click();
  await expect(inspector.locator('.sf-composer-param[data-name="epochs"]')).toBeVisible();
  const retries = inspector.locator('.sf-composer-property[data-field="retries"] input');
  await retries.fill('2');
  await retries.press('Enter');
  await expect(page.locator('.jp-mod-current.jp-mod-dirty, .lm-TabBar-tab.jp-mod-dirty').first()).toBeVisible();
  await attachScreenshot(testInfo, 'editor-edited', editor);

  // Ctrl-S saves scanflow.yaml; the new step's stub script is written.
  await editor.locator('.sf-composer-canvas').click({ position: { x: 40, y: 40 } });
  await page.keyboard.press('Control+s');
  await expect(page.locator('.lm-TabBar-tab.jp-mod-dirty')).toHaveCount(0);
  await expect.poll(() => readFile(page, `${folder}/scanflow.yaml`)).toContain('epochs: 3');
  const saved = await readFile(page, `${folder}/scanflow.yaml`);
  expect(saved).toContain('retries: 2');
  expect(saved).toMatch(/- name: train[\s\S]*depends_on:\n\s+- hello/);
  await expect.poll(() => page.contents.fileExists(`${folder}/steps/train.py`)).toBeTruthy();
  await expect(node(editor, 'train').locator('.sf-composer-problem-badge')).toHaveCount(0);

  // train waits for a file, so the run is seen running; then Run from the toolbar.
  await page.contents.uploadContent(GATED_STEP, 'text', `${folder}/steps/train.py`);
  await editor.locator('.sf-editor-button.sf-editor-run').click();
  await expect(node(editor, 'hello').locator('.sf-composer-step')).toHaveClass(/sf-composer-state-succeeded/, {
    timeout: 90_000
  });
  await expect(node(editor, 'train').locator('.sf-composer-step')).toHaveClass(/sf-composer-state-running/);
  await expect(editor.locator('.sf-editor-runstrip .sf-badge')).toHaveText('running');
  await attachScreenshot(testInfo, 'editor-running', editor);

  // The sidebar lists the application and its run, running.
  await page.sidebar.openTab('scanflow-sidebar');
  const sidebar = page.locator('#scanflow-sidebar');
  const app = sidebar.locator(`.sf-sidebar-app[data-path="${folder}"]`);
  await expect(app).toBeVisible();
  if ((await app.getAttribute('aria-expanded')) !== 'true') {
    await app.locator('.sf-sidebar-app-head').click();
  }
  await expect(app.locator('.sf-sidebar-runrow').first()).toHaveAttribute('data-status', 'running');
  await attachScreenshot(testInfo, 'sidebar-running', sidebar);

  // Released: the run ends, the canvas and the sidebar say succeeded.
  await page.contents.uploadContent('go', 'text', `${folder}/release`);
  await expect(node(editor, 'train').locator('.sf-composer-step')).toHaveClass(/sf-composer-state-succeeded/, {
    timeout: 90_000
  });
  await expect(editor.locator('.sf-editor-runstrip .sf-badge')).toHaveText('succeeded');
  await expect(app.locator('.sf-sidebar-runrow').first()).toHaveAttribute('data-status', 'succeeded', {
    timeout: 30_000
  });
  await attachScreenshot(testInfo, 'sidebar', sidebar);

  // A step's logs: select it, read its stdout in the inspector.
  await node(editor, 'train').click();
  const steprun = editor.locator('.sf-editor-steprun');
  await expect(steprun.locator('.sf-editor-record-state')).toHaveText('succeeded');
  await expect(steprun.locator('.sf-editor-logs')).toContainText('train: released');
  // Its MLflow run (a SQLite store): a link that opens it in the run browser, as in the graph's details.
  await expect(steprun.locator('.sf-editor-record-MLflow-run button.sf-graph-mlflow-open')).toHaveText(/^[0-9a-f]{32}$/);
  await attachScreenshot(testInfo, 'editor-step-logs', editor);
});
