/**
 * The GraphView in JupyterLab, as a user sees it: the quickstart runs top to bottom with its graphs; a step turns
 * running, then succeeded, live; nested workflows collapse and expand; clicking a step shows its details; and
 * text from users (step, workflow and application names, parameters, errors, logs) is shown as text, never as HTML.
 * DOM hooks: labextension/src/widgets/PROTOCOL.md.
 */
import { expect, test } from '@jupyterlab/galata';

import { attachScreenshot, cluster, clusterLabel, codeCell, node, openNotebook, steps } from './helpers';

const TABULAR_STEPS = ['gather', 'preprocess', 'modeling/linear', 'modeling/forest', 'evaluate'];

test('the quickstart runs top to bottom, with a live graph per run', async ({ page }, testInfo) => {
  await page.notebook.openByPath('notebooks/quickstart.ipynb');
  await page.notebook.activate('quickstart.ipynb');
  await page.notebook.run();

  // `g = %scanflow plot`: the five steps of examples/tabular, the nested `modeling` workflow as the one cluster.
  const plot = codeCell(page, 'g = %scanflow plot').locator('.sf-graph');
  await expect(plot.locator('.sf-graph-title')).toHaveText('tabular / pipeline');
  await expect(steps(plot)).toHaveCount(TABULAR_STEPS.length);
  for (const address of TABULAR_STEPS) {
    await expect(node(plot, address)).toHaveCount(1);
  }
  await expect(plot.locator('g.cluster')).toHaveCount(1);
  await expect(cluster(plot, 'modeling')).toHaveCount(1);
  // It followed every run of the workflow below it; the last one re-ran the forest and reused the rest.
  await expect(node(plot, 'modeling/forest')).toHaveAttribute('data-state', 'succeeded');
  await expect(node(plot, 'gather')).toHaveAttribute('data-state', 'cached');

  // Each `%scanflow run` shows its own run: the first runs everything, the second reuses everything.
  const first = codeCell(page, 'result = %scanflow run').locator('.sf-graph');
  await expect(first.locator('.sf-graph-status')).toHaveAttribute('data-status', 'succeeded');
  await expect(steps(first).and(page.locator('[data-state="succeeded"]'))).toHaveCount(TABULAR_STEPS.length);
  const again = codeCell(page, 'again = %scanflow run').locator('.sf-graph');
  await expect(steps(again).and(page.locator('[data-state="cached"]'))).toHaveCount(TABULAR_STEPS.length);
  const changed = codeCell(page, 'changed = %scanflow run').locator('.sf-graph');
  await expect(node(changed, 'modeling/forest')).toHaveAttribute('data-state', 'succeeded');
  await expect(node(changed, 'modeling/linear')).toHaveAttribute('data-state', 'cached');

  // The chart of step durations and accuracies, read back from MLflow.
  await expect(codeCell(page, 'import matplotlib').locator('.jp-OutputArea img')).toHaveCount(1);

  // The application written in cells ran, and the deliberate mistake is one clear message.
  const hello = codeCell(page, 'hello = %scanflow run').locator('.sf-graph');
  await expect(hello.locator('.sf-graph-title')).toHaveText('hello / main');
  await expect(node(hello, 'make-data')).toHaveAttribute('data-state', 'succeeded');
  await expect(node(hello, 'fit')).toHaveAttribute('data-state', 'succeeded');
  await expect(codeCell(page, '%scanflow run nightly').locator('.jp-OutputArea')).toContainText(
    "UsageError: 1 problem in application 'hello'"
  );
  await expect(codeCell(page, '%scanflow run nightly').locator('.jp-OutputArea')).toContainText(
    "no workflow named 'nightly'; choose one of: main"
  );

  for (const [name, graph] of Object.entries({ plot, first, again, changed, hello })) {
    await attachScreenshot(testInfo, `quickstart-${name}`, graph);
  }
});

test('a step turns running, then succeeded, while the graph watches', async ({ page, tmpPath }, testInfo) => {
  await openNotebook(page, `${tmpPath}/live.ipynb`, [
    '%load_ext scanflow_jupyter\nimport tempfile\n%scanflow new live --folder {tempfile.mkdtemp()}/live',
    '%%scanflow step warm-up\nprint("warming up")',
    // Long enough to be seen running whatever the machine's load.
    '%%scanflow step nap --after warm-up --param seconds=2.0\nimport time\ntime.sleep(seconds)\nprint(f"slept {seconds} s")',
    'g = %scanflow plot\ng',
    'print(repr(g.selected), dict(g.states))'
  ]);
  await page.notebook.run();

  const graph = page.locator('.sf-graph');
  await expect(steps(graph)).toHaveCount(2);
  await expect(node(graph, 'nap')).toHaveAttribute('data-state', 'pending');
  await expect(graph.locator('button.sf-graph-cancel')).toBeDisabled();

  await graph.locator('button.sf-graph-run').click();
  await expect(node(graph, 'nap')).toHaveAttribute('data-state', 'running', { timeout: 60_000 });
  await expect(graph.locator('.sf-graph-status')).toHaveAttribute('data-status', 'running');
  await expect(graph.locator('button.sf-graph-run')).toBeDisabled();
  await expect(graph.locator('button.sf-graph-cancel')).toBeEnabled();
  await expect(node(graph, 'warm-up')).toHaveAttribute('data-state', 'succeeded');
  await attachScreenshot(testInfo, 'live-running', graph);

  await expect(node(graph, 'nap')).toHaveAttribute('data-state', 'succeeded', { timeout: 60_000 });
  await expect(graph.locator('.sf-graph-status')).toHaveAttribute('data-status', 'succeeded');
  await expect(graph.locator('.sf-graph-message')).toContainText('succeeded');
  await expect(graph.locator('button.sf-graph-run')).toBeEnabled();

  // Click the step: its details, all from the run that just ended.
  await node(graph, 'nap').click();
  await expect(node(graph, 'nap')).toHaveClass(/sf-selected/);
  const details = graph.locator('.sf-graph-details');
  await expect(details).not.toHaveClass(/sf-empty/);
  await expect(details.locator('.sf-graph-details-address')).toHaveText('nap');
  await expect(details.locator('.sf-graph-details-state')).toHaveAttribute('data-state', 'succeeded');
  await expect(details.locator('.sf-graph-duration')).toContainText(/[2-9](\.\d+)? ?s/);
  await expect(details.locator('table.sf-graph-params')).toContainText('seconds');
  await expect(details.locator('pre.sf-graph-log')).toContainText('slept 2.0 s');
  await expect(details.locator('.sf-graph-mlflow')).toContainText(/[0-9a-f]{32}/);
  await attachScreenshot(testInfo, 'live-details', graph);

  // The selection went back to Python.
  await page.notebook.runCell(4);
  await expect(codeCell(page, 'print(repr(g.selected)').locator('.jp-OutputArea')).toContainText(
    "'nap' {'warm-up': 'succeeded', 'nap': 'succeeded'}"
  );

  await details.locator('button.sf-graph-details-close').click();
  await expect(details).toHaveClass(/sf-empty/);
  await expect(node(graph, 'nap')).not.toHaveClass(/sf-selected/);
});

test('nested workflows three levels deep collapse and expand', async ({ page, tmpPath }, testInfo) => {
  await openNotebook(page, `${tmpPath}/nested.ipynb`, [
    `from scanflow_jupyter import Application, Executor, Workflow
from scanflow_jupyter.notebook import GraphView

def step(name, *after):
    return Executor(name=name, script=f"steps/{name}.py", depends_on=list(after))

app = Application(name="nested", workflows=[Workflow(name="main", nodes=[
    step("prepare"),
    Workflow(name="outer", depends_on=["prepare"], nodes=[
        step("split"),
        Workflow(name="middle", depends_on=["split"], nodes=[
            step("tune"),
            Workflow(name="inner", depends_on=["tune"], nodes=[step("fit-a"), step("fit-b")]),
        ]),
    ]),
    step("report", "outer"),
])])
view = GraphView(app)
view`,
    'print("collapsed:", view.collapsed)'
  ]);
  await page.notebook.run();

  const graph = page.locator('.sf-graph');
  const collapsedOutput = codeCell(page, 'print("collapsed:"').locator('.jp-OutputArea');
  await expect(steps(graph)).toHaveCount(6);
  await expect(graph.locator('g.cluster')).toHaveCount(3);
  for (const address of ['outer', 'outer/middle', 'outer/middle/inner']) {
    await expect(cluster(graph, address)).toHaveCount(1);
  }
  await expect(node(graph, 'outer/middle/inner/fit-a')).toHaveCount(1);
  await attachScreenshot(testInfo, 'nested-expanded', graph);

  // The innermost workflow (third level) folds into one box, and Python hears of it.
  await clusterLabel(graph, 'outer/middle/inner').click();
  const inner = node(graph, 'outer/middle/inner');
  await expect(inner).toHaveAttribute('data-collapsed', 'true');
  await expect(cluster(graph, 'outer/middle/inner')).toHaveCount(0);
  await expect(node(graph, 'outer/middle/inner/fit-a')).toHaveCount(0);
  await expect(steps(graph)).toHaveCount(4);
  await page.notebook.runCell(1);
  await expect(collapsedOutput).toContainText("collapsed: ['outer/middle/inner']");
  await attachScreenshot(testInfo, 'nested-inner-collapsed', graph);

  // The outermost one hides everything inside it, whatever their own state.
  await clusterLabel(graph, 'outer').click();
  await expect(node(graph, 'outer')).toHaveAttribute('data-collapsed', 'true');
  await expect(graph.locator('g.cluster')).toHaveCount(0);
  await expect(steps(graph)).toHaveCount(2);
  await attachScreenshot(testInfo, 'nested-outer-collapsed', graph);

  // Expanding it shows the inner one as it was left: still collapsed.
  await node(graph, 'outer').click();
  await expect(cluster(graph, 'outer')).toHaveCount(1);
  await expect(cluster(graph, 'outer/middle')).toHaveCount(1);
  await expect(node(graph, 'outer/middle/inner')).toHaveAttribute('data-collapsed', 'true');

  // From the keyboard too: Enter on the collapsed box opens it.
  await node(graph, 'outer/middle/inner').focus();
  await page.keyboard.press('Enter');
  await expect(graph.locator('g.cluster')).toHaveCount(3);
  await expect(steps(graph)).toHaveCount(6);
  await page.notebook.runCell(1);
  await expect(collapsedOutput).toContainText('collapsed: []');

  // Clicking a step deep inside selects it.
  await node(graph, 'outer/middle/inner/fit-b').click();
  await expect(graph.locator('.sf-graph-details-address')).toHaveText('outer/middle/inner/fit-b');
  await expect(graph.locator('.sf-graph-details-state')).toHaveAttribute('data-state', 'pending');
});

test('names, parameters, errors and logs are shown as text, never as HTML', async ({ page, tmpPath }, testInfo) => {
  const dialogs: string[] = [];
  page.on('dialog', dialog => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  const step = '<img src=x onerror=alert(1)>';
  await openNotebook(page, `${tmpPath}/text.ipynb`, [
    // Built in Python and never validated, as a careless or hostile definition could be.
    `from scanflow_jupyter import Application, Executor, Workflow
from scanflow_jupyter.notebook import GraphView

name = ${JSON.stringify(step)}
app = Application(name="<b>bold-app</b>", workflows=[Workflow(name="main", nodes=[
    Executor(name=name, script="a.py", parameters={"note": "<script>alert(2)</script>"}),
    Workflow(name="<svg onload=alert(3)>", depends_on=[name], nodes=[Executor(name="inner", script="b.py")]),
])])
view = GraphView(app)
view.info = {**view.info, name: {**view.info[name], "error": "<img src=y onerror=alert(4)>", "log_tail": "<b>not bold</b>"}}
view.selected = name
view`
  ]);
  await page.notebook.run();

  const graph = page.locator('.sf-graph');
  await expect(steps(graph)).toHaveCount(2);
  await expect(graph.locator('svg').getByText(step, { exact: true })).toBeVisible();
  await expect(graph.locator('.sf-graph-title')).toHaveText('<b>bold-app</b> / main');
  await expect(graph.locator('text.sf-graph-cluster-label')).toHaveText('<svg onload=alert(3)>');
  const details = graph.locator('.sf-graph-details');
  await expect(details.locator('.sf-graph-details-address')).toHaveText(step);
  await expect(details.locator('table.sf-graph-params')).toContainText('<script>alert(2)</script>');
  await expect(details.locator('pre.sf-graph-error')).toHaveText('<img src=y onerror=alert(4)>');
  await expect(details.locator('pre.sf-graph-log')).toHaveText('<b>not bold</b>');

  // Nothing was parsed as markup, and nothing ran.
  for (const selector of ['img', 'script', 'b', 'foreignObject', 'svg svg', '[onerror]', '[onload]']) {
    await expect(graph.locator(selector), selector).toHaveCount(0);
  }
  await attachScreenshot(testInfo, 'text-not-html', graph);
  expect(dialogs).toEqual([]);
});
