// Unit tests of the TypeScript side (`jlpm test`): node by default, jsdom where a
// test file asks for it with `// @vitest-environment jsdom`. Offline and quick.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['labextension/src/**/__tests__/**/*.test.ts', 'tests/ts/**/*.test.ts'],
    environment: 'node',
    setupFiles: ['labextension/src/__tests__/setup.ts'],
    testTimeout: 20000,
    // Stylesheets imported with `?raw` arrive as their text (tests load them into jsdom); others stay empty.
    css: { include: [/labextension\/style\/.*\.css/] }
  }
});
