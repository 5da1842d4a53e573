/**
 * The composer in a real JupyterLab: an application made with the magics, composed on the canvas (a step added
 * from the toolbar, dependencies drawn by dragging from one handle to another), the edits seen from Python, a
 * change made in Python seen on the canvas, a cycle refused with its message, then save and "Export as Python".
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';

import { attachScreenshot, openNotebook } from './helpers';

const CELLS = [
  '%load_ext scanflow_jupyter',
  '%scanflow new demo --folder demo',
  '%%scanflow step prep --param rows=3\nprint(rows)',
  "%%scanflow step train\nprint('train')",
  'c = %scanflow compose\nc',
  'print([n.name for n in c.app.workflow().nodes], [n.depends_on for n in c.app.workflow().nodes])',
  "from scanflow_jupyter.workflow import Executor\nc.app.workflow().add(Executor(name='late', script='late.py'))",
  'print(sorted(c.positions))'
];
const PRINT = 5;
const FROM_PYTHON = 6;
const POSITIONS = 7;

/** Two animation frames: what the canvas does after a redraw (fit the view) is done. */
async function settle(page: IJupyterLabPageFixture): Promise<void> {
  await page.evaluate(() => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve))));
}

function node(composer: Locator, address: string): Locator {
  return composer.locator(`.react-flow__node[data-id="${address}"]`);
}

/** Drag with the mouse from `source`'s output handle to `target`'s input handle, as a user draws a dependency. */
async function connect(page: IJupyterLabPageFixture, composer: Locator, source: string, target: string): Promise<void> {
  // Running a cell scrolls the notebook: bring the canvas back (the mouse only reaches what is on screen).
  await composer.locator('.sf-composer-canvas').scrollIntoViewIfNeeded();
  await settle(page);
  const from = await node(composer, source).locator('.react-flow__handle.source').boundingBox();
  const to = await node(composer, target).locator('.react-flow__handle.target').boundingBox();
  if (!from || !to) {
    throw new Error(`no handles to connect ${source} to ${target}`);
  }
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 6 });
  await expect(composer.locator('.react-flow__connectionline')).toHaveCount(1); // a connection is being drawn
  await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 6 });
  await page.mouse.up();
}

test('the composer edits the application the notebook holds, and refuses a cycle', async ({ page, tmpPath }, testInfo) => {
  await openNotebook(page, `${tmpPath}/compose.ipynb`, CELLS);
  for (let i = 0; i <= 4; i++) {
    await page.notebook.runCell(i);
  }
  const composer = page.locator('.sf-composer');
  await expect(node(composer, 'prep')).toBeVisible();
  await expect(node(composer, 'train')).toBeVisible();
  await composer.scrollIntoViewIfNeeded();

  // Add a step from the toolbar.
  await composer.locator('input.sf-composer-name').fill('report');
  await composer.locator('button.sf-composer-add').click();
  await expect(node(composer, 'report')).toBeVisible();
  await expect(composer.locator('input.sf-composer-name')).toHaveValue('');

  // Draw two dependencies by dragging between handles: prep -> train -> report.
  await connect(page, composer, 'prep', 'train');
  await expect(composer.locator('.react-flow__edge[data-id="prep->train"]')).toHaveCount(1);
  await connect(page, composer, 'train', 'report');
  await expect(composer.locator('.react-flow__edge[data-id="train->report"]')).toHaveCount(1);

  // Python holds the same application: the edits are there.
  await page.notebook.runCell(PRINT);
  const printed = (await page.notebook.getCellOutputLocator(PRINT))!;
  await expect(printed).toContainText("['prep', 'train', 'report'] [[], ['prep'], ['train']]");

  // Closing the cycle report -> prep is refused with the validation message, and no edge appears.
  await connect(page, composer, 'report', 'prep');
  const error = composer.locator('.sf-composer-error');
  await expect(error).toContainText('cycle');
  await expect(error).toContainText('dependency cycle prep -> report -> train -> prep');
  await expect(composer.locator('.react-flow__edge[data-id="report->prep"]')).toHaveCount(0);
  await attachScreenshot(testInfo, 'composer-refused-cycle', composer);

  // A change made in Python redraws the canvas (after the cell runs).
  await page.notebook.runCell(FROM_PYTHON);
  await expect(node(composer, 'late')).toBeVisible();

  // A node moved by hand stays there (its position is kept in Python); Arrange lays everything out again.
  await composer.locator('.sf-composer-canvas').scrollIntoViewIfNeeded();
  await settle(page);
  const name = node(composer, 'late').locator('.sf-composer-node-name');
  const box = (await name.boundingBox())!;
  await page.mouse.move(box.x + 10, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + 60, box.y + 40, { steps: 8 });
  await page.mouse.up();
  await page.notebook.runCell(POSITIONS);
  await expect((await page.notebook.getCellOutputLocator(POSITIONS))!).toHaveText("['late']");
  await composer.locator('button.sf-composer-arrange').click();
  await page.notebook.runCell(POSITIONS);
  await expect((await page.notebook.getCellOutputLocator(POSITIONS))!).toHaveText('[]');

  // Save writes scanflow.yaml; Export as Python shows code that rebuilds the application.
  await composer.locator('button.sf-composer-save').click();
  await expect(composer.locator('.sf-composer-status')).toContainText('scanflow.yaml');
  await expect(error).toHaveCount(0); // a successful action clears the message
  await composer.locator('button.sf-composer-export').click();
  const code = composer.locator('pre.sf-composer-code');
  await expect(code).toContainText("Executor(name='report', script='steps/report.py', depends_on=['train'])");
  await attachScreenshot(testInfo, 'composer', composer);
  await attachScreenshot(testInfo, 'composer-python', composer.locator('.sf-composer-code-panel'));
});

test('nested workflows: group, edit parameters and delete on the canvas', async ({ page, tmpPath }, testInfo) => {
  await openNotebook(page, `${tmpPath}/nested.ipynb`, [
    "%load_ext scanflow_jupyter\nimport shutil\nshutil.copytree('../examples/tabular', 'tabular')",
    '%scanflow load tabular\nc = %scanflow compose\nc',
    "wf = c.app.workflow()\nprint([n.name for n in wf.nodes], wf.find('prepare/gather').parameters)"
  ]);
  await page.notebook.runCell(0);
  await page.notebook.runCell(1);
  const composer = page.locator('.sf-composer');
  // The nested workflow is a group holding its steps.
  await expect(node(composer, 'modeling')).toHaveClass(/react-flow__node-sfGroup/);
  await expect(node(composer, 'modeling/linear')).toBeVisible();
  await composer.locator('.sf-composer-canvas').scrollIntoViewIfNeeded();

  // Edit a parameter and add one in the inspector of the selected step.
  await node(composer, 'gather').locator('.sf-composer-node-name').click();
  const inspector = composer.locator('.sf-composer-inspector[data-address="gather"]');
  const rows = inspector.locator('.sf-composer-param[data-name="rows"] input.sf-composer-param-value');
  await rows.fill('50');
  await rows.press('Enter');
  await inspector.locator('input.sf-composer-param-new-name').fill('limit');
  await inspector.locator('select.sf-composer-param-new-type').selectOption('float');
  await inspector.locator('input.sf-composer-param-new-value').fill('0.5');
  await inspector.locator('button.sf-composer-param-add').click();
  await expect(inspector.locator('.sf-composer-param[data-name="limit"] input.sf-composer-param-value')).toHaveValue(
    '0.5'
  );
  // A value of the wrong type is refused and the field goes back to the declared value.
  await rows.fill('many');
  await rows.press('Enter');
  await expect(composer.locator('.sf-composer-error')).toContainText("parameter 'rows' expects an int, got 'many'");
  await expect(rows).toHaveValue('50');

  // Group two steps (shift-click adds to the selection) into a nested workflow named in the toolbar.
  await node(composer, 'preprocess').locator('.sf-composer-node-name').click({ modifiers: ['Shift'] });
  await composer.locator('input.sf-composer-name').fill('prepare');
  await composer.locator('button.sf-composer-group').click();
  await expect(node(composer, 'prepare/gather')).toBeVisible();
  await expect(node(composer, 'prepare/preprocess')).toBeVisible();
  await expect(composer.locator('.sf-composer-error')).toHaveCount(0);

  // Delete a step with the keyboard.
  await node(composer, 'evaluate').locator('.sf-composer-node-name').click();
  await page.keyboard.press('Delete');
  await expect(node(composer, 'evaluate')).toHaveCount(0);

  await page.notebook.runCell(2);
  await expect((await page.notebook.getCellOutputLocator(2))!).toContainText(
    "['prepare', 'modeling'] {'rows': Parameter(type='int', default=50, help=''), 'limit': Parameter(type='float', default=0.5, help='')}"
  );
  await attachScreenshot(testInfo, 'composer-nested', composer.locator('.sf-composer-body'));
});
