import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import fastify5, { type FastifyInstance, type FastifyRequest } from 'fastify';
import fastify4 from 'fastify4';
import { ApiKeyAuthError, createApiKeyAuth, createKeyManager, defaultErrorBody, type ApiKeyAuth, type ApiKeyContext } from 'keyward';
import { fastifyApiKeyAuth, fastifyApiKeyAuthHook, fastifyBasicAuth } from 'keyward/fastify';
import { TEST_ARGON2 } from '../fixtures/argon2-vectors.js';
import { InstrumentedStore } from '../helpers/stores.js';
import { bearer } from '../helpers/keys.js';

const INVALID_BODY = '{"error":{"code":"ERR_API_KEY_INVALID","message":"The API key is invalid."}}';

describe('fastifyApiKeyAuth options', () => {
  const auth = createApiKeyAuth({ store: new InstrumentedStore() });
  afterAll(() => auth.close());

  const registerWith = async (options: unknown) => {
    const app = fastify5();
    app.register(fastifyApiKeyAuth, options as never);
    try {
      await app.ready();
    } finally {
      await app.close();
    }
  };

  it('refuses a registration without the authenticator at ready() with ERR_OPTIONS_INVALID naming the auth option', async () => {
    await expect(registerWith({ keyType: 'sms_api' })).rejects.toMatchObject({
      code: 'ERR_OPTIONS_INVALID',
      message: 'fastifyApiKeyAuth needs the "auth" option, the authenticator from createApiKeyAuth(): app.register(fastifyApiKeyAuth, { auth }).',
    });
  });

  it('refuses a misspelt option with a did-you-mean', async () => {
    await expect(registerWith({ auth, forwardError: true })).rejects.toMatchObject({
      code: 'ERR_OPTIONS_INVALID',
      message: 'fastifyApiKeyAuth: unknown option "forwardError". Did you mean "forwardErrors"?',
    });
  });

  it('refuses the authenticator given in place of the options, saying to pass { auth }', async () => {
    await expect(registerWith(auth)).rejects.toMatchObject({
      code: 'ERR_OPTIONS_INVALID',
      message: 'fastifyApiKeyAuth takes options, not the authenticator itself: app.register(fastifyApiKeyAuth, { auth }).',
    });
  });

  it('refuses a prefix, which a context-sharing plugin would silently ignore', async () => {
    await expect(registerWith({ auth, prefix: '/v1' })).rejects.toMatchObject({
      code: 'ERR_OPTIONS_INVALID',
      message: expect.stringContaining('"prefix" has no effect'),
    });
  });

  it.each([
    ['fastify 5', fastify5],
    ['fastify 4', fastify4 as unknown as typeof fastify5],
  ])('on %s, rejects ready() with ERR_OPTIONS_INVALID, not a crash, when the route hook is registered as a plugin', async (_name, fastify) => {
    const app = fastify();
    app.register(fastifyApiKeyAuthHook(auth) as never);
    try {
      await expect(app.ready()).rejects.toMatchObject({
        code: 'ERR_OPTIONS_INVALID',
        message:
          "fastifyApiKeyAuthHook: the hook was registered as a plugin; pass it as a route's onRequest option ({ onRequest: fastifyApiKeyAuthHook(auth) }), or register the plugin instead: app.register(fastifyApiKeyAuth, { auth }).",
      });
    } finally {
      await app.close();
    }
  });

  it.each([
    ['fastify 5', fastify5],
    ['fastify 4', fastify4 as unknown as typeof fastify5],
  ])('on %s, rejects ready() with ERR_OPTIONS_INVALID, not a crash, when a hook factory is registered uncalled as a plugin', async (_name, fastify) => {
    const messages = {
      fastifyApiKeyAuthHook:
        "fastifyApiKeyAuthHook was registered as a plugin, but it makes a hook: pass fastifyApiKeyAuthHook(auth) as a route's onRequest option, or register the plugin instead: app.register(fastifyApiKeyAuth, { auth }).",
      fastifyBasicAuth:
        "fastifyBasicAuth was registered as a plugin, but it makes a hook: pass fastifyBasicAuth({ username, password }) as a route's onRequest option.",
    };
    for (const [factory, message] of [[fastifyApiKeyAuthHook, messages.fastifyApiKeyAuthHook], [fastifyBasicAuth, messages.fastifyBasicAuth]] as const) {
      const app = fastify();
      app.register(factory as never);
      try {
        await expect(app.ready()).rejects.toMatchObject({ code: 'ERR_OPTIONS_INVALID', message });
      } finally {
        await app.close();
      }
    }
  });

  it('refuses bad route hook options when the hook is made', () => {
    expect(() => fastifyApiKeyAuthHook(auth, { keyType: '' })).toThrow(ApiKeyAuthError);
    expect(() => fastifyApiKeyAuthHook({} as ApiKeyAuth)).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS_INVALID' }));
  });

  it('is named keyward and declares the Fastify majors it supports', () => {
    const meta = (fastifyApiKeyAuth as unknown as Record<symbol, { name: string; fastify: string }>)[Symbol.for('plugin-meta')];
    expect(meta).toMatchObject({ name: 'keyward', fastify: '4.x || 5.x' });
  });

  it('types request.apiKey as the key context', () => {
    expectTypeOf<FastifyRequest['apiKey']>().toEqualTypeOf<ApiKeyContext | undefined>();
  });
});

describe.each([
  ['fastify 5', fastify5],
  ['fastify 4', fastify4 as unknown as typeof fastify5],
])('fastifyApiKeyAuth on %s', (_name, fastify) => {
  const store = new InstrumentedStore();
  const keys: Record<string, string> = {};
  let auth: ApiKeyAuth;

  beforeAll(async () => {
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    auth = createApiKeyAuth({ store, storeTimeoutMs: 200 });
    keys.allowed = (await manager.issue({ accountId: 'acct_a', environment: 'sandbox' })).key;
  });
  afterAll(() => auth.close());

  /** An app whose JSON parser counts its calls, with the plugin on POST /v1/sms. */
  async function countingApp(extra?: (app: FastifyInstance) => void) {
    const counts = { parses: 0, handled: 0 };
    const app = fastify();
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      counts.parses++;
      try {
        done(null, JSON.parse(body as string));
      } catch (error) {
        (error as { statusCode?: number }).statusCode = 400;
        done(error as Error, undefined);
      }
    });
    extra?.(app);
    app.register(async (v1) => {
      await v1.register(fastifyApiKeyAuth, { auth });
      v1.post('/v1/sms', async (request) => {
        counts.handled++;
        return { account: request.apiKey?.accountId, body: request.body };
      });
    });
    await app.ready();
    return { app, counts };
  }

  const post = (app: FastifyInstance, headers: Record<string, string>, payload: string) =>
    app.inject({ method: 'POST', url: '/v1/sms', headers: { 'content-type': 'application/json', ...headers }, payload });

  it('refuses before the body is parsed: an invalid JSON body with a bad key gets 401, not 400', async () => {
    const { app, counts } = await countingApp();
    try {
      const refused = await post(app, bearer('sk_test_forged'), '{not json');
      expect(refused.statusCode).toBe(401);
      expect(refused.body).toBe(INVALID_BODY);
      expect(counts).toEqual({ parses: 0, handled: 0 });

      const missing = await post(app, {}, '{"to":"+15550100"}');
      expect(missing.statusCode).toBe(401);
      expect(counts.parses).toBe(0);

      // The same parser does run, once, for an authenticated request.
      const badBody = await post(app, bearer(keys.allowed!), '{not json');
      expect(badBody.statusCode).toBe(400);
      const accepted = await post(app, bearer(keys.allowed!), '{"to":"+15550100"}');
      expect(accepted.statusCode).toBe(200);
      expect(accepted.json()).toEqual({ account: 'acct_a', body: { to: '+15550100' } });
      expect(counts).toEqual({ parses: 2, handled: 1 });
    } finally {
      await app.close();
    }
  });

  it.each(['onRequest', 'preParsing', 'preValidation', 'preHandler'] as const)(
    'works as a route %s hook with a store that answers later: 401 without a key, 200 with the body parsed with one',
    async (hook) => {
      const app = fastify();
      app.post('/v1/sms', { [hook]: fastifyApiKeyAuthHook(auth) }, async (request) => ({ account: request.apiKey?.accountId, body: request.body }));
      try {
        const missing = await post(app, {}, '{"to":"+15550100"}');
        expect(missing.statusCode).toBe(401);
        const refused = await post(app, bearer('sk_test_forged'), '{"to":"+15550100"}');
        expect([refused.statusCode, refused.body]).toEqual([401, INVALID_BODY]);
        const accepted = await post(app, bearer(keys.allowed!), '{"to":"+15550100"}');
        expect([accepted.statusCode, accepted.json()]).toEqual([200, { account: 'acct_a', body: { to: '+15550100' } }]);
      } finally {
        await app.close();
      }
    },
  );

  it.each(['preSerialization', 'onSend'] as const)(
    'answers 500 ERR_OPTIONS_INVALID, never the handler\'s answer, when mounted as %s, which runs after the handler',
    async (hook) => {
      const app = fastify();
      app.post('/v1/sms', { [hook]: fastifyApiKeyAuthHook(auth) as never }, async () => ({ secret: 'handler output' }));
      try {
        for (const headers of [{}, bearer(keys.allowed!)]) {
          const answer = await post(app, headers, '{}');
          expect(answer.statusCode).toBe(500);
          expect(answer.json()).toMatchObject({ code: 'ERR_OPTIONS_INVALID' });
          expect(answer.body).not.toContain('handler output');
        }
      } finally {
        await app.close();
      }
    },
  );

  it('logs ERR_OPTIONS_INVALID at error on every request when mounted as onResponse, where the answer has already gone', async () => {
    const logged: { level: number; err?: { code?: string; message?: string } }[] = [];
    const stream = { write: (line: string) => void logged.push(JSON.parse(line)) };
    const app = fastify({ logger: { level: 'error', stream } });
    app.post('/v1/sms', { onResponse: fastifyApiKeyAuthHook(auth) as never }, async () => ({ sent: 'before the hook ran' }));
    try {
      for (const headers of [{}, bearer(keys.allowed!)]) await post(app, headers, '{}');
      const misplaced = logged.filter((line) => line.level === 50 && line.err?.code === 'ERR_OPTIONS_INVALID');
      expect(misplaced).toHaveLength(2);
      expect(misplaced[0]!.err!.message).toBe(
        'fastifyApiKeyAuthHook: the hook ran after the route handler (preSerialization, onSend or onResponse); authenticate in onRequest, preParsing, preValidation or preHandler.',
      );
    } finally {
      await app.close();
    }
  });

  it('never reaches the parser or the handler when an async onSend hook delays the refusal', async () => {
    const { app, counts } = await countingApp((root) => {
      root.addHook('onSend', async (_request, _reply, payload) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return payload;
      });
    });
    try {
      const refused = await post(app, bearer('sk_test_forged'), '{"to":"+15550100"}');
      expect(refused.statusCode).toBe(401);
      expect(refused.body).toBe(INVALID_BODY);
      expect(counts).toEqual({ parses: 0, handled: 0 });
    } finally {
      await app.close();
    }
  });

  it("sends the core's bytes even when the app has its own reply serializer", async () => {
    const app = fastify();
    const wrap = (payload: unknown) => JSON.stringify({ wrapped: payload });
    app.setReplySerializer(wrap);
    // A per-reply serializer also applies to string payloads; the adapter must not pass one.
    app.addHook('onRequest', async (_request, reply) => { reply.serializer(wrap); });
    app.get('/v1/x', { onRequest: fastifyApiKeyAuthHook(auth) }, async () => ({ ok: true }));
    try {
      const refused = await app.inject({ method: 'GET', url: '/v1/x', headers: bearer('sk_test_forged') });
      expect(refused.statusCode).toBe(401);
      expect(refused.body).toBe(INVALID_BODY);
      expect(refused.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(refused.headers['content-length']).toBe(String(INVALID_BODY.length));
    } finally {
      await app.close();
    }
  });

  it("sends the Basic receiver's bytes even when the app has its own reply serializer", async () => {
    const app = fastify();
    const wrap = (payload: unknown) => JSON.stringify({ wrapped: payload });
    app.addHook('onRequest', async (_request, reply) => { reply.serializer(wrap); });
    app.post('/hooks/in', { onRequest: fastifyBasicAuth({ username: 'hook-relay', password: 'correct-horse-battery' }) }, async () => ({ ok: true }));
    try {
      const refused = await app.inject({ method: 'POST', url: '/hooks/in' });
      expect(refused.statusCode).toBe(401);
      expect(JSON.parse(refused.body)).toEqual({ error: { code: 'ERR_BASIC_AUTH_MISSING', message: expect.any(String) } });
      expect(refused.headers['content-length']).toBe(String(refused.body.length));
    } finally {
      await app.close();
    }
  });

  it('guards only the context it is registered in, and that context’s children', async () => {
    const app = fastify();
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.register(async (open) => {
      open.get('/public', async () => ({ public: true }));
    });
    app.register(async (v1) => {
      await v1.register(fastifyApiKeyAuth, { auth });
      v1.get('/v1/whoami', async (request) => ({ apiKey: request.apiKey }));
      v1.register(async (child) => {
        child.get('/v1/child', async (request) => ({ account: request.apiKey?.accountId }));
      });
    });
    try {
      expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/public' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/v1/whoami' })).statusCode).toBe(401);
      expect((await app.inject({ url: '/v1/child' })).statusCode).toBe(401);
      const child = await app.inject({ url: '/v1/child', headers: bearer(keys.allowed!) });
      expect(child.json()).toEqual({ account: 'acct_a' });
    } finally {
      await app.close();
    }
  });

  it('can be registered in a context and again in its child without a decorator clash', async () => {
    const app = fastify();
    await app.register(fastifyApiKeyAuth, { auth });
    app.register(async (admin) => {
      await admin.register(fastifyApiKeyAuth, { auth, keyType: 'admin_api' });
      admin.get('/v1/admin', async () => ({ ok: true }));
    });
    try {
      await app.ready();
      const wrongType = await app.inject({ url: '/v1/admin', headers: bearer(keys.allowed!) });
      expect(wrongType.statusCode).toBe(403);
      expect(wrongType.json().error.code).toBe('ERR_API_KEY_WRONG_TYPE');
    } finally {
      await app.close();
    }
  });

  it("with forwardErrors, Fastify's default error handler keeps the status and the challenge", async () => {
    const app = fastify();
    app.get('/v1/x', { onRequest: fastifyApiKeyAuthHook(auth, { forwardErrors: true }) }, async () => ({ ok: true }));
    try {
      const missing = await app.inject({ url: '/v1/x' });
      expect(missing.statusCode).toBe(401);
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="api"');
      expect(missing.json()).toMatchObject({ statusCode: 401, code: 'ERR_API_KEY_MISSING' });

      store.failure = new Error('ECONNRESET');
      const failed = await app.inject({ url: '/v1/x', headers: bearer(keys.allowed!) });
      expect(failed.statusCode).toBe(503);
      expect(failed.headers['retry-after']).toBe('1');
    } finally {
      store.failure = undefined;
      await app.close();
    }
  });

  it("with forwardErrors, Fastify's default error handler sends a fault's own code and message, and the README's handler sends ERR_INTERNAL", async () => {
    const withDefault = fastify();
    const withHandler = fastify();
    // The README's handler, as it stands.
    withHandler.setErrorHandler((error, request, reply) => {
      if (!(error instanceof ApiKeyAuthError)) throw error; // your own handling, or Fastify's default
      if (!error.expose) request.log.error(error);
      return reply.code(error.status).header('cache-control', 'no-store').send(defaultErrorBody(error));
    });
    for (const app of [withDefault, withHandler]) {
      app.get('/v1/x', { onRequest: fastifyApiKeyAuthHook(auth, { forwardErrors: true }) }, async () => ({ ok: true }));
      app.get('/v1/boom', async () => {
        throw Object.assign(new Error('upstream down'), { statusCode: 502 });
      });
    }
    store.override = (row) => row && { ...row, key_hash: 'not a PHC string' };
    try {
      const leaked = await withDefault.inject({ url: '/v1/x', headers: bearer(keys.allowed!) });
      expect([leaked.statusCode, leaked.json()]).toEqual([
        500,
        { statusCode: 500, code: 'ERR_STORED_HASH_INVALID', error: 'Internal Server Error', message: 'stored hash unparseable' },
      ]);

      const hidden = await withHandler.inject({ url: '/v1/x', headers: bearer(keys.allowed!) });
      expect([hidden.statusCode, hidden.body]).toEqual([500, '{"error":{"code":"ERR_INTERNAL","message":"Internal server error."}}']);
      const missing = await withHandler.inject({ url: '/v1/x' });
      expect([missing.statusCode, missing.headers['www-authenticate'], missing.headers['cache-control'], missing.json().error.code]).toEqual([
        401,
        'Bearer realm="api"',
        'no-store',
        'ERR_API_KEY_MISSING',
      ]);
      const appError = await withHandler.inject({ url: '/v1/boom' });
      expect([appError.statusCode, appError.json()]).toEqual([502, { statusCode: 502, error: 'Bad Gateway', message: 'upstream down' }]);
    } finally {
      store.override = undefined;
      await Promise.all([withDefault.close(), withHandler.close()]);
    }
  });
});
