/**
 * Probe: the browser-test setup works end to end. JupyterLab loads with the scanflow-jupyter extension active,
 * and a notebook cell renders an ipywidgets button, so widget rendering works through the kernel.
 */
import { expect, test } from '@jupyterlab/galata';

// Navigate by hand (below) so the console listener sees the page load, where the extension logs its activation.
test.use({ autoGoto: false });

test('JupyterLab loads scanflow-jupyter and renders an ipywidgets button', async ({ page, tmpPath }, testInfo) => {
  const messages: string[] = [];
  page.on('console', message => messages.push(message.text()));
  await page.goto(`tree/${tmpPath}`);

  expect(messages).toContain('scanflow-jupyter is activated');
  const extension = await page.evaluate(() => {
    const app = (window as any).jupyterapp;
    const plugins: string[] = app.listPlugins().filter((id: string) => id.startsWith('scanflow-jupyter:'));
    return { plugins, activated: plugins.filter(id => app.isPluginActivated(id)) };
  });
  expect(extension.plugins.length).toBeGreaterThan(0);
  expect(extension.activated).toEqual(extension.plugins);

  await page.notebook.createNew('probe.ipynb');
  await page.notebook.setCell(0, 'code', 'import ipywidgets; ipywidgets.Button(description="probe")');
  await page.notebook.run();

  const output = await page.notebook.getCellOutputLocator(0);
  const button = output!.getByRole('button', { name: 'probe' });
  await expect(button).toBeVisible();
  await expect(button).toHaveClass(/widget-button/);

  await testInfo.attach('probe', { body: await page.screenshot(), contentType: 'image/png' });
});
