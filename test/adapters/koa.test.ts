import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import Koa3, { type DefaultState } from 'koa';
import Koa2 from 'koa2';
import { ApiKeyAuthError, createApiKeyAuth, createKeyManager, type ApiKeyAuth, type ApiKeyContext } from 'keyward';
import { koaApiKeyAuth } from 'keyward/koa';
import { TEST_ARGON2 } from '../fixtures/argon2-vectors.js';
import { send } from '../helpers/http-client.js';
import { InstrumentedStore } from '../helpers/stores.js';
import { listen, type RunningApp } from '../http/apps.js';
import { bearer } from '../helpers/keys.js';


describe('koaApiKeyAuth options', () => {
  const auth = createApiKeyAuth({ store: new InstrumentedStore() });
  afterAll(() => auth.close());

  it('refuses a missing authenticator with ERR_OPTIONS_INVALID', () => {
    expect(() => koaApiKeyAuth(undefined as unknown as ApiKeyAuth)).toThrow(
      expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message: expect.stringContaining('koaApiKeyAuth needs the authenticator') }),
    );
  });

  it('refuses a misspelt option with a did-you-mean', () => {
    expect(() => koaApiKeyAuth(auth, { keytype: 'sms_api' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message: 'koaApiKeyAuth: unknown option "keytype". Did you mean "keyType"?' }),
    );
  });

  it('refuses a forwardErrors that is not a boolean', () => {
    expect(() => koaApiKeyAuth(auth, { forwardErrors: 'yes' } as never)).toThrow(ApiKeyAuthError);
  });

  it('types ctx.state.apiKey as the key context', () => {
    expectTypeOf<DefaultState['apiKey']>().toEqualTypeOf<ApiKeyContext | undefined>();
  });
});

describe.each([
  ['koa 3', Koa3],
  ['koa 2', Koa2 as typeof Koa3],
])('koaApiKeyAuth on %s', (_name, Koa) => {
  const store = new InstrumentedStore();
  const keys: Record<string, string> = {};
  let auth: ApiKeyAuth;

  beforeAll(async () => {
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    auth = createApiKeyAuth({ store, storeTimeoutMs: 200 });
    keys.allowed = (await manager.issue({ accountId: 'acct_a', environment: 'sandbox' })).key;
    keys.suspended = (await manager.issue({ accountId: 'acct_s', environment: 'sandbox', status: 'suspended' })).key;
  });
  afterAll(() => auth.close());

  async function start(app: Koa3): Promise<RunningApp> {
    return listen(createServer(app.callback()).listen(0, '127.0.0.1'), []);
  }

  it('keeps the status and challenge behind the common try/catch error middleware (C20)', async () => {
    // The usual Koa error middleware: status from the error, a JSON body, no header copying.
    const caught: unknown[] = [];
    const app = new Koa();
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        caught.push(error);
        ctx.status = (error as { status?: number }).status || 500;
        ctx.body = { error: 'failed' };
      }
    });
    app.use(koaApiKeyAuth(auth));
    app.use((ctx) => { ctx.body = { ok: true }; });
    const running = await start(app);
    try {
      const missing = await send(running.url, '/v1/x');
      expect(missing.status).toBe(401);
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="api"');
      const suspended = await send(running.url, '/v1/x', { headers: bearer(keys.suspended!) });
      expect(suspended.status).toBe(403);
      expect(JSON.parse(suspended.body).error.key_status).toBe('suspended');
      // Answered by the adapter itself: the app's error middleware never had to rewrite it.
      expect(caught).toEqual([]);
    } finally {
      await running.close();
    }
  });

  it("with forwardErrors, throws an error that Koa's default handling answers with its status and headers", async () => {
    const app = new Koa();
    app.silent = true;
    app.use(koaApiKeyAuth(auth, { forwardErrors: true }));
    app.use((ctx) => { ctx.body = { ok: true }; });
    const running = await start(app);
    try {
      const missing = await send(running.url, '/v1/x');
      expect(missing.status).toBe(401);
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="api"');
      expect(missing.body).toBe('An API key is required. Send it as "Authorization: Bearer <key>".');

      const suspended = await send(running.url, '/v1/x', { headers: bearer(keys.suspended!) });
      expect(suspended.status).toBe(403);

      store.failure = new Error('ECONNRESET');
      const failed = await send(running.url, '/v1/x', { headers: bearer(keys.allowed!) });
      expect(failed.status).toBe(503);
      expect(failed.headers['retry-after']).toBe('1');
    } finally {
      store.failure = undefined;
      await running.close();
    }
  });

  it('with forwardErrors, still sends the challenge and Retry-After through a catch-all that sets only status and body', async () => {
    const app = new Koa();
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        ctx.status = (error as { status?: number }).status ?? 500;
        ctx.body = { error: 'refused' };
      }
    });
    app.use(koaApiKeyAuth(auth, { forwardErrors: true }));
    app.use((ctx) => { ctx.body = { ok: true }; });
    const running = await start(app);
    try {
      const missing = await send(running.url, '/v1/x');
      expect([missing.status, missing.headers['www-authenticate'], missing.body]).toEqual([401, 'Bearer realm="api"', '{"error":"refused"}']);
      expect(missing.headers['content-type']).toBe('application/json; charset=utf-8');

      store.failure = new Error('ECONNRESET');
      const failed = await send(running.url, '/v1/x', { headers: bearer(keys.allowed!) });
      expect([failed.status, failed.headers['retry-after']]).toEqual([503, '1']);
    } finally {
      store.failure = undefined;
      await running.close();
    }
  });

  it('lets upstream middleware see the refusal status it answered with', async () => {
    const seen: number[] = [];
    const app = new Koa();
    app.use(async (ctx, next) => {
      await next();
      seen.push(ctx.status);
    });
    app.use(koaApiKeyAuth(auth));
    const running = await start(app);
    try {
      await send(running.url, '/v1/x', { headers: bearer(keys.suspended!) });
      expect(seen).toEqual([403]);
    } finally {
      await running.close();
    }
  });

  it('never runs downstream middleware, such as a body parser, for a refused request', async () => {
    let downstream = 0;
    const app = new Koa();
    app.use(koaApiKeyAuth(auth));
    app.use((ctx) => {
      downstream++;
      ctx.body = { account: ctx.state.apiKey?.accountId };
    });
    const running = await start(app);
    try {
      const refused = await send(running.url, '/v1/x', { method: 'POST', headers: { ...bearer('sk_test_nope'), 'content-type': 'application/json' }, body: '{not json' });
      expect(refused.status).toBe(401);
      expect(downstream).toBe(0);
      const allowed = await send(running.url, '/v1/x', { headers: bearer(keys.allowed!) });
      expect(JSON.parse(allowed.body)).toEqual({ account: 'acct_a' });
      expect(downstream).toBe(1);
    } finally {
      await running.close();
    }
  });
});
