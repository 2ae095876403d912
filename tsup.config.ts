import { copyFile } from 'node:fs/promises';
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
  // src/argon2-pool.ts finds the worker file in its module's folder: `__dirname`, which the
  // shim gives the ESM build (from import.meta.url, which Node escapes).
  shims: true,
  // The Argon2 worker file runs in worker threads as it is, next to the build in both formats.
  onSuccess: () => copyFile('src/argon2-task.mjs', 'dist/argon2-task.mjs'),
  // Adapters import the core through the package's own name, so the core is loaded once and
  // `instanceof ApiKeyAuthError` holds across entry points. Frameworks stay the app's own.
  external: ['keyward', 'express', 'koa', 'fastify', 'fastify-plugin', 'pg'],
});
