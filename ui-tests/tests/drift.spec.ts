/**
 * The DriftReport widget in JupyterLab: the checker notebook runs top to bottom, its reports draw the verdict,
 * the score histograms with the threshold and the most anomalous digits beside their error heatmaps; and text
 * from users (sample ids, feature names) is shown as text, never as HTML.
 * DOM hooks: labextension/src/widgets/PROTOCOL.md.
 */
import { expect, test } from '@jupyterlab/galata';

import { attachScreenshot, codeCell, openNotebook } from './helpers';

test.use({ viewport: { width: 1440, height: 1000 } });

test('the checker notebook draws its drift reports', async ({ page }, testInfo) => {
  test.setTimeout(300_000);
  await page.notebook.openByPath('notebooks/checker.ipynb');
  await page.notebook.activate('checker.ipynb');
  await page.notebook.run();

  const clean = codeCell(page, 'rng = np.random.default_rng(1)').locator('.sf-drift');
  await expect(clean.locator('.sf-drift-verdict')).toHaveClass(/sf-drift-no/);
  await expect(clean.locator('.sf-drift-verdict-word')).toHaveText('NO DRIFT');
  await expect(clean.locator('.sf-drift-sample')).toHaveCount(6);

  const drifted = codeCell(page, 'from scanflow_jupyter.notebook import DriftReportView').locator('.sf-drift');
  await expect(drifted.locator('.sf-drift-verdict')).toHaveClass(/sf-drift-yes/);
  await expect(drifted.locator('svg.sf-drift-histogram line.sf-drift-threshold')).toHaveCount(1);
  expect(await drifted.locator('.sf-drift-bar-batch rect').count()).toBeGreaterThan(3);
  expect(await drifted.locator('.sf-drift-bar-reference rect').count()).toBeGreaterThan(3);
  // Each anomalous digit: the 8x8 image and its error heatmap; the most anomalous of this batch are zeros.
  const first = drifted.locator('.sf-drift-sample').first();
  await expect(first.locator('svg.sf-drift-grid')).toHaveCount(2);
  await expect(first.locator('svg.sf-drift-grid').first().locator('rect')).toHaveCount(64);
  await expect(first.locator('.sf-drift-sample-id')).toContainText('digit-0');

  const registered = codeCell(page, '%scanflow check models:/digits-checker/1').locator('.sf-drift');
  await expect(registered.locator('.sf-drift-model')).toHaveText('detector: models:/digits-checker/1');
  await expect(codeCell(page, 'broken = clean.copy()').locator('.jp-OutputArea')).toContainText(
    "UsageError: the batch 'broken' has NaN or infinite values"
  );

  await attachScreenshot(testInfo, 'drift-report-clean', clean);
  await attachScreenshot(testInfo, 'drift-report-drifted', drifted);
});

test('sample ids and feature names are shown as text', async ({ page, tmpPath }) => {
  const evil = '<img src=x onerror="window.sfPwned=1">';
  await openNotebook(page, `${tmpPath}/drift-escape.ipynb`, [
    [
      'import numpy as np',
      'from scanflow_jupyter.checking import AnomalousSample, DriftReport',
      'from scanflow_jupyter.notebook import DriftReportView',
      `evil = ${JSON.stringify(evil)}`,
      'names = [evil, "b", "c", "d"]',
      'top = [AnomalousSample.from_errors(id=evil, index=0, score=2.0, p_value=0.01, over_threshold=True,',
      '                                   errors=np.array([4.0, 1.0, 0.5, 0.1]), feature_names=names)]',
      'report = DriftReport(drift=True, p_value=0.001, alpha=0.05, test="savage", method="permutation",',
      '    n_permutations=999, statistic=3.0, batch_size=3, reference_size=4, score_kind="combined", threshold=1.0,',
      '    false_alarm_rate=0.05, n_over_threshold=1, share_over_threshold=1 / 3, top=top,',
      '    reference_scores=[0.1, 0.2, 0.3, 0.4], batch_scores=[2.0, 0.2, 0.3], sample_shape=[4],',
      '    feature_names=names, notes=[evil])',
      'DriftReportView(report, samples=np.arange(12.0).reshape(3, 4))'
    ].join('\n')
  ]);
  await page.notebook.run();
  const view = page.locator('.sf-drift');
  await expect(view.locator('.sf-drift-sample-id')).toHaveText(evil);
  await expect(view.locator('.sf-drift-feature-name').first()).toHaveText(evil);
  await expect(view.locator('.sf-drift-note')).toHaveText(`note: ${evil}`);
  await expect(view.locator('img')).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { sfPwned?: number }).sfPwned)).toBeUndefined();
});
