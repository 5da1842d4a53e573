/**
 * Playwright configuration of the notebook latency benchmark (`make bench-ui`).
 *
 * It reuses ui-tests/: its node_modules (run from there with NODE_PATH pointing at them, see the Makefile), its
 * Chromium settings and its JupyterLab server (`jlpm start`, serving a scratch copy of notebooks/ and examples/),
 * on a port of its own so that a server kept running for the specs is never measured.
 */
import * as path from 'path';

import { defineConfig } from '@playwright/test';

import uiConfig from '../../ui-tests/playwright.config';

const port = process.env.SCANFLOW_BENCH_PORT ?? '8897';
const uiTests = path.resolve(__dirname, '../../ui-tests');
const server = uiConfig.webServer;
if (!server || Array.isArray(server)) {
  throw new Error('ui-tests/playwright.config.ts should start one JupyterLab server');
}

export default defineConfig({
  ...uiConfig,
  testDir: __dirname,
  testMatch: 'latency.spec.ts',
  outputDir: path.join(uiTests, 'test-results', 'notebook-latency'),
  timeout: 600_000,
  reporter: [['list']],
  use: {
    ...uiConfig.use,
    baseURL: `http://127.0.0.1:${port}`,
    screenshot: 'off',
    trace: 'off'
  },
  webServer: {
    ...server,
    cwd: uiTests,
    url: `http://127.0.0.1:${port}/lab`,
    env: { SCANFLOW_UI_PORT: port },
    reuseExistingServer: false
  }
});
