/**
 * Issue 19's defects, as a person meets them at 1440x1000: the labeling grid on a store that already has labels
 * (keys are the digits, a saved label is not overwritten by one key, "Next batch" is a full batch, cards in words
 * with the model's guess), and the run browser on workflow runs (a filter that matches step runs only, the tree box
 * keeping the typed filter, two workflow runs compared). DOM hooks: labextension/src/widgets/PROTOCOL.md.
 */
import { expect, test } from '@jupyterlab/galata';

import { attachScreenshot, codeCell, node, openNotebook } from './helpers';

test.use({ viewport: { width: 1440, height: 1000 } });

const LABELING = [
  'import tempfile',
  'from pathlib import Path',
  'from sklearn.datasets import load_digits',
  'from sklearn.linear_model import LogisticRegression',
  'from scanflow_jupyter.active import LabelingSession',
  'from scanflow_jupyter.notebook import LabelingWidget',
  'x, y = load_digits(return_X_y=True)',
  'pool, truth = x[:600] / 16, y[:600]',
  'store = Path(tempfile.mkdtemp()) / "labels.db"',
  'session = LabelingSession(pool, LogisticRegression(max_iter=500), classes=range(10), name="d", store=store,',
  '                          holdout=(x[1200:] / 16, y[1200:]), batch_size=10)',
  'while session.progress()["labeled"] < 30:  # labels given through the Python API first',
  '    for s in session.next_batch():',
  '        session.label(s.id, int(truth[s.index]))',
  'session.wait()',
  'grid = LabelingWidget(session, image_shape=(8, 8))',
  'grid'
].join('\n');

test('labeling: digit keys, a saved label kept, a full next batch, cards in words', async ({ page, tmpPath }, testInfo) => {
  test.setTimeout(240_000);
  await openNotebook(page, `${tmpPath}/labels.ipynb`, [LABELING]);
  await page.notebook.run();
  const grid = codeCell(page, 'LabelingWidget').locator('.sf-label');
  const cards = grid.locator('.sf-label-card');
  await expect(cards).toHaveCount(10, { timeout: 120_000 });
  // The labels given in Python are counted; the buttons are the digits themselves.
  await expect(grid.locator('.sf-label-progress-text')).toContainText('30 labeled of 600');
  await expect(grid.locator('button.sf-label-class')).toHaveText(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  // Cards: the id as a sample id, why in words, the model's guess.
  await expect(cards.first().locator('.sf-label-id')).toHaveText(/^sample \d+$/);
  await expect(cards.first().locator('.sf-label-guess')).toHaveText(/^model's guess: \d \(\d+%\)$/);
  await expect(cards.first().locator('.sf-label-why')).not.toContainText('margin 0.');

  // 0 labels "0".
  await cards.first().click();
  await page.keyboard.press('0');
  await expect(cards.first()).toHaveAttribute('data-state', 'saved');
  await expect(cards.first().locator('.sf-label-badge')).toHaveText('0 ✓');
  await expect(grid.locator('.sf-label-progress-text')).toContainText('31 labeled of 600');

  // Back on the saved card, one key does not overwrite it: the grid asks for the same key again.
  await cards.first().click();
  await page.keyboard.press('2');
  await expect(grid.locator('.sf-label-notice')).toContainText('is already labeled "0": press 2 again');
  await expect(cards.first().locator('.sf-label-badge')).toHaveText('0 ✓');
  await attachScreenshot(testInfo, 'labeling-saved-label-kept', grid);
  await page.keyboard.press('2');
  await expect(cards.first().locator('.sf-label-badge')).toHaveText('2 ✓');
  await expect(grid.locator('.sf-label-progress-text')).toContainText('31 labeled of 600');

  // "Next batch" with nine cards still open: a full batch of ten, the nine among them (it gave 2 cards once).
  const ids = async (): Promise<string[]> =>
    cards.evaluateAll(found => found.map(card => (card as HTMLElement).dataset.id ?? ''));
  const open = (await ids()).slice(1);
  await grid.locator('button.sf-label-next').click();
  await expect(grid.locator('.sf-label-card[data-state="saved"]')).toHaveCount(0); // the new batch is drawn
  await expect(cards).toHaveCount(10);
  expect((await ids()).filter(id => open.includes(id))).toHaveLength(9);
  await expect(grid.locator('.sf-label-progress-text')).toContainText('31 labeled of 600 · 10 queued');
  await attachScreenshot(testInfo, 'labeling-grid-1440', grid);
});

const RUNS = [
  'import tempfile',
  'from pathlib import Path',
  'from mlflow.entities import Metric, Param',
  'from mlflow.tracking import MlflowClient',
  'from scanflow_jupyter.notebook import RunBrowser',
  'folder = Path(tempfile.mkdtemp())',
  'uri = f"sqlite:///{folder / \'mlflow.db\'}"',
  'client = MlflowClient(uri)',
  'exp = client.create_experiment("digits", artifact_location=(folder / "artifacts").as_uri())',
  'for i in range(3):',
  '    tags = {"scanflow.kind": "run", "scanflow.workflow": "pipeline"}',
  '    parent = client.create_run(exp, run_name=f"pipeline 20261202-032241-{i:04x}", tags=tags,',
  '                               start_time=1_764_645_761_000 + i * 60_000).info.run_id',
  '    for step, acc in (("prepare", None), ("train", 0.7 + i / 10)):',
  '        kid = client.create_run(exp, run_name=step, start_time=1_764_645_761_000 + i * 60_000 + 1000,',
  '                                tags={"mlflow.parentRunId": parent, "scanflow.kind": "step"}).info.run_id',
  '        if acc is not None:',
  '            client.log_batch(kid, metrics=[Metric("train_accuracy", acc, 0, 0)],',
  '                             params=[Param("max_iter", str(8 + 2 * i))])',
  '        client.set_terminated(kid, "FINISHED")',
  '    client.set_terminated(parent, "FINISHED")',
  'b = RunBrowser(uri, experiments=["digits"], columns=["attributes.start_time", "attributes.duration",',
  '               "params.max_iter", "metrics.train_accuracy"])',
  'b'
].join('\n');

test('run browser: step runs that match, the typed filter kept, workflow runs compared', async ({ page, tmpPath }, testInfo) => {
  test.setTimeout(240_000);
  await openNotebook(page, `${tmpPath}/runs.ipynb`, [RUNS]);
  await page.notebook.run();
  const browser = page.locator('.sf-runs');
  const rows = browser.locator('.sf-runs-row');
  await expect(rows).toHaveCount(3, { timeout: 120_000 });
  // Names differ at their end: no two rows read the same.
  const names = await browser.locator('.sf-runs-open').allTextContents();
  expect(new Set(names).size).toBe(3);
  await expect(browser.locator('.sf-runs-group')).toHaveText(['Params', 'Metrics']);

  // A filter only step runs match, in the tree: they show under their parents.
  const filter = browser.locator('.sf-runs-filter');
  await filter.fill('metrics.train_accuracy > 0.75');
  await filter.press('Enter');
  await expect(browser.locator('.sf-runs-message')).toContainText('2 child runs shown under their parents');
  await expect(rows).toHaveCount(4);
  await expect(browser.locator('.sf-runs-row[data-depth="1"] .sf-runs-open')).toHaveText(['train', 'train']);
  await attachScreenshot(testInfo, 'run-browser-matching-steps', browser);

  // A filter typed, then the tree box: the filter is kept (and applied).
  await filter.fill('metrics.train_accuracy > 0.85');
  await browser.locator('.sf-runs-tree input').uncheck();
  await expect(filter).toHaveValue('metrics.train_accuracy > 0.85');
  await expect(rows).toHaveCount(1);
  await browser.locator('.sf-runs-tree input').check();
  await expect(filter).toHaveValue('metrics.train_accuracy > 0.85');
  await filter.fill('');
  await filter.press('Enter');
  await expect(rows).toHaveCount(3);

  // Two workflow runs compared: why there is nothing, and their step runs to compare instead.
  for (const i of [0, 1]) {
    await rows.nth(i).locator('.sf-runs-select').check();
  }
  await browser.locator('.sf-runs-compare').click();
  const note = browser.locator('.sf-runs-empty-note');
  await expect(note).toContainText('they are workflow runs');
  await attachScreenshot(testInfo, 'run-browser-compare-workflow-runs', browser);
  await note.locator('.sf-runs-compare-steps').click();
  await expect(browser.locator('.sf-runs-compare-params tr[data-key="max_iter"]')).toBeVisible();
  await attachScreenshot(testInfo, 'run-browser-compare-step-runs', browser);
});

const CHECKER = [
  'import tempfile, textwrap',
  'from pathlib import Path',
  'import scanflow_jupyter as sf',
  'from scanflow_jupyter.notebook import GraphView',
  'folder = Path(tempfile.mkdtemp()) / "checked"',
  'folder.mkdir()',
  '(folder / "gather.py").write_text("print(\'gathered 200 samples\')\\n")',
  '(folder / "check.py").write_text(textwrap.dedent("""',
  '    print("DRIFT: p = 0.0004 (tail test, alpha 0.05, 200 samples against 300 held-out reference samples)")',
  '    print("61 of 200 samples (30.5%) score above the threshold 0.2113 (10% expected without drift)")',
  '"""))',
  '(folder / "scanflow.yaml").write_text(textwrap.dedent("""',
  '    scanflow: 1',
  '    name: checked',
  '    workflows:',
  '    - name: main',
  '      nodes:',
  '      - {name: gather, script: gather.py}',
  '      - {name: check, script: check.py, depends_on: [gather]}',
  '"""))',
  'app = sf.load(folder)',
  'view = GraphView(app)',
  'result = sf.run(app, tracking=False)',
  'view'
].join('\n');

test('graph: a checker step that found drift says so in its details', async ({ page, tmpPath }, testInfo) => {
  test.setTimeout(240_000);
  await openNotebook(page, `${tmpPath}/checked.ipynb`, [CHECKER]);
  await page.notebook.run();
  const graph = codeCell(page, 'GraphView(app)').locator('.sf-graph');
  await expect(node(graph, 'check')).toHaveAttribute('data-state', 'succeeded', { timeout: 120_000 });
  // Unselected first: the dashed drift outline is what a person sees on the canvas (the selection outline once
  // hid it), and it stays dashed once the step is selected.
  const outline = node(graph, 'check').locator(':scope > path, :scope > polygon').first();
  await expect(node(graph, 'check')).toHaveClass(/sf-graph-drift/);
  await expect(node(graph, 'check')).not.toHaveClass(/sf-selected/);
  await expect(outline).toHaveCSS('stroke-dasharray', /^5(px)?,? 2(px)?$/);
  await attachScreenshot(testInfo, 'graph-checker-drift-unselected', graph);
  await node(graph, 'check').click();
  await expect(node(graph, 'check')).toHaveClass(/sf-selected/);
  await expect(outline).toHaveCSS('stroke-dasharray', /^5(px)?,? 2(px)?$/);
  const details = graph.locator('.sf-graph-details');
  await expect(details.locator('.sf-graph-details-state')).toHaveText('succeeded · drift found');
  await expect(details.locator('.sf-graph-verdict-drift')).toContainText('DRIFT: p = 0.0004');
  // On the canvas too: its state's colour, and the dashed outline the legend keys as "drift found".
  await expect(node(graph, 'check')).toHaveClass(/sf-graph-drift/);
  await expect(node(graph, 'gather')).not.toHaveClass(/sf-graph-drift/);
  await expect(graph.locator('.sf-legend-drift')).toHaveText('drift found');
  await attachScreenshot(testInfo, 'graph-checker-drift-details', graph);
});

const BROWSE = [
  'import tempfile',
  'from pathlib import Path',
  'from mlflow.entities import Metric, Param',
  'from mlflow.tracking import MlflowClient',
  'from scanflow_jupyter.notebook import RunBrowser',
  'folder = Path(tempfile.mkdtemp())',
  'uri = f"sqlite:///{folder / \'mlflow.db\'}"',
  'client = MlflowClient(uri)',
  'for name in ["baseline", "digits-tuning", "digits-final", "tabular", "tabular-cv", "sweeps"]:',
  '    client.create_experiment(name, artifact_location=(folder / name).as_uri())',
  'exp = client.get_experiment_by_name("digits-tuning").experiment_id',
  'for i, (it, model) in enumerate([("8", "tree"), ("10", "linear"), ("9", "tree"), ("12", "linear")]):',
  '    run = client.create_run(exp, run_name=f"tune-{i}", start_time=1_764_645_761_000 + i * 1000).info.run_id',
  '    loss = [Metric("loss", 1 / (1 + s), 0, s) for s in range(10)]  # the same curve in every run',
  '    client.log_batch(run, params=[Param("max_iter", it), Param("model", model)],',
  '                     metrics=[Metric("accuracy", 0.8 + int(it) / 100, 0, 0), *loss])',
  '    client.set_terminated(run, "FINISHED")',
  'b = RunBrowser(uri, experiments=["digits-tuning"], tree=False,',
  '               columns=["params.max_iter", "params.model", "metrics.accuracy"])',
  'b'
].join('\n');

test('run browser: an experiment picker, params sorted as numbers, charts a person can read', async ({ page, tmpPath }, testInfo) => {
  test.setTimeout(240_000);
  await openNotebook(page, `${tmpPath}/browse.ipynb`, [BROWSE]);
  await page.notebook.run();
  const browser = page.locator('.sf-runs');
  const rows = browser.locator('.sf-runs-row');
  await expect(rows).toHaveCount(4, { timeout: 120_000 });

  // The experiments: the one shown named on the picker; opened, every experiment listed, the shown one ticked.
  const picker = browser.locator('.sf-runs-experiments');
  await expect(picker.locator('summary')).toHaveText('Experiment: digits-tuning (4 runs)');
  await picker.locator('summary').click();
  await expect(picker.locator('.sf-runs-experiment')).toHaveCount(7); // six made here and Default
  await expect(picker.locator('.sf-runs-experiment.sf-chosen')).toHaveText(/digits-tuning/);
  await attachScreenshot(testInfo, 'run-browser-experiment-picker', browser);
  await picker.locator('.sf-runs-experiments-search').fill('tab');
  await expect(picker.locator('.sf-runs-experiment-name')).toHaveText(['tabular', 'tabular-cv']);
  await picker.locator('.sf-runs-experiment', { hasText: 'tabular-cv' }).locator('.sf-runs-experiment-only').click();
  await expect(picker.locator('summary')).toHaveText('Experiment: tabular-cv (0 runs)');
  await expect(browser.locator('.sf-runs-message')).toHaveText('No runs in these experiments yet.');
  await picker.locator('.sf-runs-experiments-search').fill('');
  await picker.locator('.sf-runs-experiment', { hasText: 'digits-tuning' }).locator('.sf-runs-experiment-only').click();
  await expect(rows).toHaveCount(4);
  await picker.locator('summary').click(); // closed

  // A numeric param sorts as numbers: 8, 9, 10, 12 (MLflow's text order put 10 and 12 first).
  await browser.locator('.sf-runs-th[data-column="params.max_iter"]').click();
  await expect(browser.locator('.sf-runs-th[data-column="params.max_iter"]')).toHaveAttribute('data-sort', 'desc');
  await expect(rows.locator('.sf-runs-cell[data-column="params.max_iter"]')).toHaveText(['12', '10', '9', '8']);
  await browser.locator('.sf-runs-th[data-column="params.max_iter"]').click();
  await expect(rows.locator('.sf-runs-cell[data-column="params.max_iter"]')).toHaveText(['8', '9', '10', '12']);
  await attachScreenshot(testInfo, 'run-browser-numeric-sort', browser);

  // Compare the four: accuracy (one step) as bars, four equal loss curves told apart, param axes.
  for (let i = 0; i < 4; i++) {
    await rows.nth(i).locator('.sf-runs-select').check();
  }
  await browser.locator('.sf-runs-compare').click();
  const compare = browser.locator('.sf-runs-compare-view');
  const accuracy = compare.locator('svg.sf-runs-chart[data-metric="accuracy"]');
  await expect(accuracy).toHaveAttribute('data-kind', 'bars');
  await expect(accuracy.locator('rect.sf-runs-bar')).toHaveCount(4);
  const loss = compare.locator('svg.sf-runs-chart[data-metric="loss"]');
  await expect(loss.locator('.sf-runs-chart-same')).toHaveText('4 runs have the same history (drawn over each other)');
  const parallel = compare.locator('svg.sf-runs-parallel');
  await expect(parallel.locator('.sf-runs-axis-label')).toHaveText(['params.max_iter', 'params.model', 'metrics.accuracy']);
  await expect(parallel.locator('.sf-runs-category')).toHaveText(['linear', 'tree']);
  await compare.locator('h4', { hasText: 'Charts' }).scrollIntoViewIfNeeded();
  await attachScreenshot(testInfo, 'run-browser-compare-charts', browser);
});

const TRACKED = [
  'import tempfile, textwrap',
  'from pathlib import Path',
  'import scanflow_jupyter as sf',
  'from scanflow_jupyter.notebook import GraphView',
  'folder = Path(tempfile.mkdtemp()) / "tracked"',
  'folder.mkdir()',
  '(folder / "train.py").write_text(textwrap.dedent("""',
  '    import mlflow',
  '    with mlflow.start_run():',
  '        mlflow.log_metric("train_accuracy", 0.953333)',
  '        mlflow.log_metric("n_train", 1257)',
  '"""))',
  '(folder / "scanflow.yaml").write_text(textwrap.dedent("""',
  '    scanflow: 1',
  '    name: tracked',
  '    workflows:',
  '    - name: main',
  '      nodes:',
  '      - {name: train, script: train.py}',
  '"""))',
  'app = sf.load(folder)',
  'view = GraphView(app)',
  'result = sf.run(app)',
  'view'
].join('\n');

test("graph: a step's details show its metrics, and its MLflow run id opens the run", async ({ page, tmpPath }, testInfo) => {
  test.setTimeout(240_000);
  await openNotebook(page, `${tmpPath}/tracked.ipynb`, [TRACKED]);
  await page.notebook.run();
  const graph = codeCell(page, 'GraphView(app)').locator('.sf-graph');
  await expect(node(graph, 'train')).toHaveAttribute('data-state', 'succeeded', { timeout: 120_000 });
  await node(graph, 'train').click();
  const details = graph.locator('.sf-graph-details');
  await expect(details.locator('table.sf-graph-metrics tbody tr')).toHaveCount(2);
  await expect(details.locator('tr[data-metric="train_accuracy"] .sf-graph-metric-value')).toHaveText('0.9533');
  await expect(details.locator('tr[data-metric="n_train"] .sf-graph-metric-value')).toHaveText('1257');
  // A SQLite store: the run id is a link that opens the run in the run browser.
  const runId = details.locator('button.sf-graph-mlflow-open');
  await expect(runId).toHaveText(/^[0-9a-f]{32}$/);
  await attachScreenshot(testInfo, 'graph-details-metrics-and-run-link', graph);
  const id = (await runId.textContent()) ?? '';
  await runId.click();
  const opened = page.locator('.jp-ConsolePanel .sf-runs-run-view');
  await expect(opened.locator('.sf-runs-run-name')).toHaveText('train', { timeout: 120_000 });
  await expect(page.locator('.jp-ConsolePanel .sf-runs')).toHaveAttribute('data-mode', 'run');
  await expect(page.getByRole('tab', { name: `Run ${id.slice(0, 8)}` })).toBeVisible();
  await attachScreenshot(testInfo, 'graph-run-opened-in-run-browser', page.locator('.jp-ConsolePanel').first());
});
