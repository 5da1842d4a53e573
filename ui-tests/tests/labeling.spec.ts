/**
 * The labeling grid in JupyterLab, as a person uses it: label 20 samples with the keyboard, undo one, retrain,
 * watch the learning curve move, reload the page and carry on where they stopped.
 * DOM hooks: labextension/src/widgets/PROTOCOL.md.
 */
import { expect, test } from '@jupyterlab/galata';

import { attachScreenshot, codeCell, openNotebook } from './helpers';

const OPEN = [
  '%load_ext scanflow_jupyter',
  'from sklearn.datasets import load_digits',
  'from sklearn.linear_model import LogisticRegression',
  'x, y = load_digits(return_X_y=True)',
  'pool, xt, yt = x[:600] / 16, x[1200:] / 16, y[1200:]',
  'model = LogisticRegression(max_iter=500)',
  'grid = %scanflow label pool model --classes 0,1,2,3,4,5,6,7,8,9 --name g --holdout xt,yt --image-shape 8x8 --store labels.db',
  'grid'
].join('\n');

test('label 20 samples by keyboard, undo, retrain, reload and carry on', async ({ page, tmpPath }, testInfo) => {
  test.setTimeout(240_000);
  await openNotebook(page, `${tmpPath}/label.ipynb`, [OPEN]);
  await page.notebook.run();
  const grid = codeCell(page, '%load_ext scanflow_jupyter').locator('.sf-label');
  await expect(grid.locator('.sf-label-card')).toHaveCount(10);
  await grid.locator('.sf-label-card').first().click();

  // Two batches of ten: on digits each key is its class (1-9 here); each label is saved (✓) once it is on disk.
  for (let batch = 0; batch < 2; batch++) {
    const firstId = await grid.locator('.sf-label-card').first().getAttribute('data-id');
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press(String((i % 9) + 1));
    }
    // The batch done, the next one replaces it.
    await expect(grid.locator('.sf-label-card').first()).not.toHaveAttribute('data-id', firstId ?? '');
  }
  await expect(grid.locator('.sf-label-progress-text')).toContainText('20 labeled of 600');

  // The model retrained in the background after each batch: the curve has points, the status a version.
  await expect(grid.locator('.sf-label-status')).toContainText('model version');
  await expect(grid.locator('polyline.sf-label-curve-session')).toHaveCount(1);
  const before = await grid.locator('polyline.sf-label-curve-session').getAttribute('points');

  // Undo: the last label is gone, its sample comes back first.
  await grid.locator('.sf-label-card').first().click();
  await page.keyboard.press('z');
  await expect(grid.locator('.sf-label-progress-text')).toContainText('19 labeled of 600');

  // Label the one undone, then retrain by hand: the curve gains a point.
  await grid.locator('.sf-label-card').first().click();
  await page.keyboard.press('3');
  await expect(grid.locator('.sf-label-progress-text')).toContainText('20 labeled of 600');
  await grid.locator('button.sf-label-retrain').click();
  await expect
    .poll(async () => (await grid.locator('polyline.sf-label-curve-session').getAttribute('points')) !== before)
    .toBe(true);
  await attachScreenshot(testInfo, 'labeling-grid', grid);

  // A reload: the notebook comes back; running the cell again resumes the session where it stopped.
  await page.notebook.save();
  // The restored layout shows the notebook, not the Launcher Galata waits for by default.
  await page.reload({ waitForIsReady: false });
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  // The restored layout usually reopens the notebook; opening it again through the file browser raced with the
  // browser's own refresh after the reload (a timed-out wait in Galata's file browser helper).
  if (!(await page.notebook.isOpen('label.ipynb'))) {
    await page.notebook.openByPath(`${tmpPath}/label.ipynb`);
  }
  await page.notebook.activate('label.ipynb');
  await page.notebook.run();
  const again = codeCell(page, '%load_ext scanflow_jupyter').locator('.sf-label');
  await expect(again.locator('.sf-label-progress-text')).toContainText('20 labeled of 600');
  await expect(again.locator('.sf-label-card')).toHaveCount(10);
  await again.locator('.sf-label-card').first().click();
  await page.keyboard.press('5');
  await expect(again.locator('.sf-label-progress-text')).toContainText('21 labeled of 600');
});
