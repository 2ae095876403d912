/**
 * A Fastify hook mounted after the route handler, where Fastify's logger (off by default) is
 * the only place its error goes: the operator still hears of it, once, as a process warning.
 * A file of its own, as the warning is emitted once per process (per module instance here).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fastify from 'fastify';
import { createApiKeyAuth, MemoryKeyStore, type ApiKeyAuth } from 'keyward';
import { fastifyApiKeyAuthHook, fastifyBasicAuth } from 'keyward/fastify';

const MESSAGE = ': the hook ran after the route handler (preSerialization, onSend or onResponse); authenticate in onRequest, preParsing, preValidation or preHandler.';

describe('a Fastify hook mounted as onResponse, with Fastify logging nothing', () => {
  let auth: ApiKeyAuth;
  beforeAll(() => {
    auth = createApiKeyAuth({ store: new MemoryKeyStore(), argon2Pool: false });
  });
  afterAll(() => auth.close());

  it('emits one KEYWARD_MISPLACED_HOOK process warning per export, however many requests it gets', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning);
    process.on('warning', onWarning);
    const app = fastify();
    app.get('/key', { onResponse: fastifyApiKeyAuthHook(auth) as never }, async () => ({ open: true }));
    app.get('/basic', { onResponse: fastifyBasicAuth({ username: 'relay', password: 'a-long-password' }) as never }, async () => ({ open: true }));
    try {
      for (const url of ['/key', '/key', '/basic', '/basic']) await app.inject({ method: 'GET', url });
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((warning) => [(warning as { code?: string }).code, warning.message])).toEqual([
        ['KEYWARD_MISPLACED_HOOK', `fastifyApiKeyAuthHook${MESSAGE}`],
        ['KEYWARD_MISPLACED_HOOK', `fastifyBasicAuth${MESSAGE}`],
      ]);
    } finally {
      process.off('warning', onWarning);
      await app.close();
    }
  });
});
