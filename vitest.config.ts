import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^keyward$/, replacement: here('./src/index.ts') },
      { find: /^keyward\/express$/, replacement: here('./adapters/express.ts') },
      { find: /^keyward\/postgres$/, replacement: here('./src/postgres-store.ts') },
      { find: /^keyward\/store-conformance$/, replacement: here('./src/testing/store-conformance.ts') },
      { find: /^keyward\/koa$/, replacement: here('./adapters/koa.ts') },
      { find: /^keyward\/fastify$/, replacement: here('./adapters/fastify.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/postgres-setup.ts', 'test/setup/reporter-hygiene.ts'],
    setupFiles: ['test/setup/log-hygiene.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
