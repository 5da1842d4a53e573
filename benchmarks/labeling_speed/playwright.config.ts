/**
 * Playwright configuration of the labeling key-press benchmark (`make bench-ui`): the same Chromium and
 * JupyterLab server as ui-tests/, on a port of its own (see ../notebook_latency/playwright.config.ts).
 */
import * as path from 'path';

import { defineConfig } from '@playwright/test';

import uiConfig from '../../ui-tests/playwright.config';

const port = process.env.SCANFLOW_BENCH_PORT ?? '8896';
const uiTests = path.resolve(__dirname, '../../ui-tests');
const server = uiConfig.webServer;
if (!server || Array.isArray(server)) {
  throw new Error('ui-tests/playwright.config.ts should start one JupyterLab server');
}

export default defineConfig({
  ...uiConfig,
  testDir: __dirname,
  testMatch: 'keypress.spec.ts',
  outputDir: path.join(uiTests, 'test-results', 'labeling-speed'),
  timeout: 600_000,
  reporter: [['list']],
  use: { ...uiConfig.use, baseURL: `http://127.0.0.1:${port}`, screenshot: 'off', trace: 'off' },
  webServer: {
    ...server,
    cwd: uiTests,
    url: `http://127.0.0.1:${port}/lab`,
    env: { SCANFLOW_UI_PORT: port },
    reuseExistingServer: false
  }
});
