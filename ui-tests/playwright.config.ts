/**
 * Playwright configuration of the scanflow-jupyter browser tests.
 *
 * Galata's defaults, plus: Debian's Chromium (`apt-get install chromium`; never a downloaded browser, so no video),
 * a JupyterLab started by `jlpm start` on a fixed loopback port, and timeouts sized for 2-core machines.
 * Run with `jlpm playwright test` here, or `make test-ui` at the repository root.
 */
import { defineConfig } from '@playwright/test';
import baseConfig from '@jupyterlab/galata/lib/playwright-config';

// Not 8888: `make lab` uses that, and `reuseExistingServer` would run the specs against it.
const port = process.env.SCANFLOW_UI_PORT ?? '8899';
const chromium = process.env.SCANFLOW_CHROMIUM ?? '/usr/bin/chromium';
// Screenshots, traces and the report: outside the repository when run by the Python suite (tests/test_ui.py).
const results = process.env.SCANFLOW_UI_RESULTS ?? '.';

export default defineConfig({
  ...baseConfig,
  testDir: './tests',
  outputDir: `${results}/test-results`,
  // One JupyterLab, one kernel at a time: more workers only contend for the two cores.
  workers: 1,
  retries: 0,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  // Never 'on-failure' (Galata's local default): it serves the report and waits, which hangs pytest.
  reporter: [['list'], ['html', { open: 'never', outputFolder: `${results}/playwright-report` }]],
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    launchOptions: {
      executablePath: chromium,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    },
    // Recording video needs Playwright's own ffmpeg download.
    video: 'off',
    screenshot: 'on',
    trace: 'retain-on-failure',
    // No actionTimeout: Galata's page.notebook.run() waits for the kernel to go idle as one action, and a notebook
    // that runs a workflow takes longer than any fixed action limit; the test timeout bounds it.
    navigationTimeout: 60_000
  },
  webServer: {
    command: 'jlpm start',
    url: `http://127.0.0.1:${port}/lab`,
    env: { SCANFLOW_UI_PORT: port },
    timeout: 180_000,
    reuseExistingServer: !process.env.CI,
    // SIGTERM lets Jupyter shut its kernels down and remove the scratch root (SIGKILL, the default, leaks both).
    gracefulShutdown: { signal: 'SIGTERM', timeout: 15_000 }
  }
});
