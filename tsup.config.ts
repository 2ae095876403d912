import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    express: 'adapters/express.ts',
    postgres: 'src/postgres-store.ts',
    'store-conformance': 'src/testing/store-conformance.ts',
    koa: 'adapters/koa.ts',
    fastify: 'adapters/fastify.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // Adapters import the core through the package's own name, so the core is loaded once and
  // `instanceof ApiKeyAuthError` holds across entry points. Frameworks stay the app's own.
  external: ['keyward', 'express', 'koa', 'fastify', 'fastify-plugin', 'pg'],
});
