/**
 * The DriftReport of a sequence batch in JupyterLab: a SequenceDetector fitted on a clean two-feature series
 * checks a batch with a spike and a level shift; the report draws the verdict, the time plot with the windows
 * above the threshold shaded over the spike and the shift, and the per-step error below.
 * Screenshots at 1440x1000 (the whole page, and the report alone).
 * DOM hooks: labextension/src/widgets/PROTOCOL.md.
 */
import { expect, test } from '@jupyterlab/galata';

import { attachScreenshot, codeCell, openNotebook } from './helpers';

test.use({ viewport: { width: 1440, height: 1000 } });

test('a sequence batch is drawn as a time plot with its anomalous windows shaded', async ({
  page,
  tmpPath
}, testInfo) => {
  test.setTimeout(300_000);
  await openNotebook(page, `${tmpPath}/drift-sequence.ipynb`, [
    [
      'import numpy as np',
      'from scanflow_jupyter.checking import SequenceDetector',
      'from scanflow_jupyter.notebook import DriftReportView',
      't = np.arange(4000)',
      'rng = np.random.default_rng(0)',
      'series = np.c_[np.sin(t / 5), np.cos(t / 7)] + rng.normal(0, 0.05, (4000, 2))',
      'seq = SequenceDetector(window=16, filters=(8, 8), code_size=4, epochs=20, progress=False, seed=0)',
      'seq.fit(series, feature_names=["pressure", "flow"])'
    ].join('\n'),
    [
      'batch = np.c_[np.sin(t[:640] / 5), np.cos(t[:640] / 7)] + rng.normal(0, 0.05, (640, 2))',
      'batch[200:204, 0] += 4.0  # a spike in pressure',
      'batch[450:520, 1] += 1.5  # a level shift in flow',
      'DriftReportView(seq.check(batch, top=3))'
    ].join('\n')
  ]);
  await page.notebook.run();

  const report = codeCell(page, 'a spike in pressure').locator('.sf-drift');
  await expect(report.locator('.sf-drift-verdict')).toHaveClass(/sf-drift-yes/, { timeout: 120_000 });
  const timeline = report.locator('svg.sf-drift-timeline');
  await expect(timeline).toHaveCount(1);
  await expect(timeline.locator('path.sf-drift-series')).toHaveCount(2);
  await expect(timeline.locator('path.sf-drift-error')).toHaveCount(1);
  // The windows over the threshold: one covers the spike (steps 200-203), one lies in the shift (450-519).
  const starts = (await timeline.locator('rect.sf-drift-window-over').evaluateAll(rects =>
    rects.map(r => Number((r as SVGRectElement).dataset.start))
  )) as number[];
  expect(starts.some(s => s <= 203 && s + 16 > 200)).toBe(true);
  expect(starts.some(s => s + 16 > 450 && s < 520)).toBe(true);

  await report.scrollIntoViewIfNeeded();
  await testInfo.attach('drift-sequence-page', { body: await page.screenshot(), contentType: 'image/png' });
  await attachScreenshot(testInfo, 'drift-sequence-report', report);
});
