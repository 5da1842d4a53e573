/**
 * The RunBrowser in JupyterLab on a real MLflow SQLite store: filter, sort, page, select two runs, open the
 * comparison, open a run and preview its artifacts; names holding HTML are shown as text.
 * DOM hooks: labextension/src/widgets/PROTOCOL.md ("RunBrowser").
 */
import { expect, test } from '@jupyterlab/galata';

import { attachScreenshot, openNotebook } from './helpers';

const EVIL = '<img src=x onerror="window.sfPwned=1">';

const SETUP = [
  'import tempfile',
  'from pathlib import Path',
  'from mlflow.entities import Metric, Param',
  'from mlflow.tracking import MlflowClient',
  'from scanflow_jupyter.notebook import RunBrowser',
  'folder = Path(tempfile.mkdtemp())',
  'uri = f"sqlite:///{folder / \'mlflow.db\'}"',
  'client = MlflowClient(uri)',
  'exp = client.create_experiment("galata", artifact_location=(folder / "artifacts").as_uri())',
  'ids = []',
  'for i in range(40):',
  '    run = client.create_run(exp, run_name=f"run-{i:02d}", start_time=1_700_000_000_000 + i * 1000)',
  '    client.log_batch(run.info.run_id, params=[Param("model", "a" if i % 2 else "b"), Param("depth", str(i % 5))],',
  '                     metrics=[Metric("acc", i / 100, 0, 0), *[Metric("loss", 1 / (1 + s + i), 0, s) for s in range(20)]])',
  '    client.set_terminated(run.info.run_id, "FINISHED")',
  '    ids.append(run.info.run_id)',
  'client.log_text(ids[39], "name,score\\n<b>x</b>,1\\ny,2\\n", "table.csv")',
  'client.log_text(ids[39], "just text", "notes.txt")',
  `client.log_text(ids[39], "<h1>not rendered</h1>", ${JSON.stringify(EVIL + '.html')})`,
  `client.set_tag(ids[39], "note", ${JSON.stringify(EVIL)})`,
  'b = RunBrowser(uri, experiments=["galata"], page_size=10, columns=["params.model", "params.depth", "metrics.acc"])',
  'b'
].join('\n');

test('filter, sort, page, compare two runs and preview an artifact', async ({ page, tmpPath }, testInfo) => {
  test.setTimeout(240_000);
  await openNotebook(page, `${tmpPath}/runs.ipynb`, [SETUP]);
  await page.notebook.run();
  const browser = page.locator('.sf-runs');
  const rows = browser.locator('.sf-runs-row');
  await expect(rows).toHaveCount(10, { timeout: 120_000 });
  await expect(browser.locator('.sf-runs-message')).toHaveText('1-10 of 40');

  // Filter: MLflow syntax plus OR; a bad filter is named and the table stays.
  const filter = browser.locator('.sf-runs-filter');
  await filter.fill('metrics.acc >');
  await filter.press('Enter');
  await expect(browser.locator('.sf-runs-error-text')).toContainText("Invalid filter 'metrics.acc >'");
  await expect(rows).toHaveCount(10);
  await filter.fill("metrics.acc >= 0.3 OR params.depth = '0'");
  await filter.press('Enter');
  await expect(browser.locator('.sf-runs-message')).toHaveText('1-10 of 16'); // 10 with acc >= 0.3, 6 more with depth 0
  await expect(browser.locator('.sf-runs-error')).toBeHidden();

  // Sort by accuracy, highest first.
  await browser.locator('.sf-runs-th[data-column="metrics.acc"]').click();
  await expect(browser.locator('.sf-runs-th[data-column="metrics.acc"]')).toHaveAttribute('data-sort', 'desc');
  await expect(rows.first().locator('.sf-runs-open')).toHaveText('run-39');

  // Page on the server side.
  await browser.locator('.sf-runs-next').click();
  await expect(browser.locator('.sf-runs-page')).toHaveText('page 2');
  await expect(browser.locator('.sf-runs-message')).toHaveText('11-16 of 16');
  await expect(rows.first().locator('.sf-runs-open')).toHaveText('run-25');
  await browser.locator('.sf-runs-prev').click();
  await expect(rows.first().locator('.sf-runs-open')).toHaveText('run-39');

  // Select two runs and compare them.
  await browser.locator('[data-run-id] .sf-runs-select').nth(0).check();
  await browser.locator('[data-run-id] .sf-runs-select').nth(1).check();
  await expect(browser.locator('.sf-runs-compare')).toHaveText('Compare (2)');
  await browser.locator('.sf-runs-compare').click();
  const compare = browser.locator('.sf-runs-compare-view');
  await expect(compare).toBeVisible();
  await expect(compare.locator('.sf-runs-compare-params tr.sf-differs[data-key="model"]')).toHaveCount(1);
  await expect(compare.locator('svg.sf-runs-chart[data-metric="loss"] polyline')).toHaveCount(2);
  await attachScreenshot(testInfo, 'run-browser-compare', browser);

  // Open a run from the comparison and preview its artifacts.
  await compare.locator('.sf-runs-legend-item', { hasText: 'run-39' }).click();
  const run = browser.locator('.sf-runs-run-view');
  await expect(run).toBeVisible();
  await expect(run.locator('.sf-runs-run-name')).toHaveText('run-39');
  await run.locator('.sf-runs-artifact[data-path="table.csv"]').click();
  await expect(run.locator('.sf-runs-preview-csv td').first()).toHaveText('<b>x</b>');
  await run.locator(`.sf-runs-artifact[data-path=${JSON.stringify(EVIL + '.html')}]`).click();
  await expect(run.locator('.sf-runs-preview-text')).toHaveText('<h1>not rendered</h1>');
  await expect(run.locator('.sf-runs-run-tags tr[data-key="note"] td')).toHaveText(EVIL);
  await expect(browser.locator('img')).toHaveCount(0);
  await expect(browser.locator('h1')).toHaveCount(0);
  expect(await page.evaluate(() => (window as unknown as { sfPwned?: number }).sfPwned)).toBeUndefined();
  await attachScreenshot(testInfo, 'run-browser-run', browser);

  await run.locator('.sf-runs-back').click();
  await expect(browser.locator('.sf-runs-table-panel')).toBeVisible();
});
