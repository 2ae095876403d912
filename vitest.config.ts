import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^keyward$/, replacement: here('./src/index.ts') },
      { find: /^keyward\/express$/, replacement: here('./adapters/express.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/log-hygiene.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
