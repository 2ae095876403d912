import type { Server } from 'node:http';
import type { Http2Server } from 'node:http2';
import express from 'express';
import type { RequestHandler } from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import type { onRequestAsyncHookHandler } from 'fastify';
import Koa, { type Middleware } from 'koa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { expressBasicAuth, type ExpressAuthMiddleware } from '../adapters/express.js';
import { fastifyBasicAuth } from '../adapters/fastify-basic-auth.js';
import { koaBasicAuth } from '../adapters/koa-basic-auth.js';
import { send, sendRaw, type ClientResponse } from './helpers/http-client.js';
import { listen } from './http/apps.js';

/** A password of exactly 1,024 bytes of UTF-8, the longest setWebhook stores. */
const LONGEST_PASSWORD = `${'p\u00e4'.repeat(341)}x`;

/** Receiver routes and the credentials each one is configured with (public-cases.md). */
const ROUTES = {
  '/hooks/in': { username: 'hook-relay', password: 'p4ss:w0rd:x' },
  '/hooks/longest': { username: 'hook-relay', password: LONGEST_PASSWORD },
  '/hooks/pw1': { username: 'hook-relay', password: 'pw1' },
  '/hooks/utf8': { username: 'hook-relay', password: 'p\u00e4ssw\u00f6rd' },
  '/hooks/forwarded': { username: 'hook-relay', password: 'p4ss:w0rd:x', forwardErrors: true },
  '/hooks/throttled': { username: 'hook-relay', password: 'p4ss:w0rd:x', throttle: { maxFailuresPerClient: 3 } },
  '/hooks/throttled-forwarded': { username: 'hook-relay', password: 'p4ss:w0rd:x', forwardErrors: true, throttle: { maxFailuresPerClient: 3 } },
  '/hooks/unthrottled': { username: 'hook-relay', password: 'p4ss:w0rd:x', throttle: false },
} as const;
type RoutePath = keyof typeof ROUTES;

const CHALLENGE = 'Basic realm="webhooks", charset="UTF-8"';

interface Running {
  url: string;
  /** How many times a protected handler ran. */
  handled: () => number;
  close: () => Promise<void>;
}

/**
 * Posts a delivery receipt, with the Authorization header exactly as given (or none), from the
 * loopback address `from.localAddress` and with `from.forwardedFor` as X-Forwarded-For, if given.
 */
function post(
  app: Running,
  path: string,
  authorization?: string,
  from: { localAddress?: string; forwardedFor?: string } = {},
): Promise<ClientResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  if (from.forwardedFor !== undefined) headers['x-forwarded-for'] = from.forwardedFor;
  return send(app.url, path, { method: 'POST', headers, body: '{"event":"delivered"}', localAddress: from.localAddress });
}

async function running(server: Server, handled: () => number): Promise<Running> {
  const app = await listen(server, []);
  return { url: app.url, close: app.close, handled };
}

function startExpress(framework: typeof express): Promise<Running> {
  let handled = 0;
  const app = framework();
  // Requests from loopback are a proxy's: X-Forwarded-For names the client (req.ip).
  app.set('trust proxy', 'loopback');
  for (const [path, options] of Object.entries(ROUTES)) {
    app.post(path, expressBasicAuth(options), framework.json(), (req, res) => {
      handled++;
      res.json({ received: true, event: req.body.event });
    });
  }
  // A catch-all error handler: sets status and body only, keeps no headers itself.
  app.use((error: any, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(error.status ?? 500).json({ app_error: error.code ?? 'unknown' });
  });
  return running(app.listen(0, '127.0.0.1'), () => handled);
}

function startKoa(): Promise<Running> {
  let handled = 0;
  // Requests from loopback are a proxy's: X-Forwarded-For names the client (ctx.ip).
  const app = new Koa({ proxy: true, maxIpsCount: 1 });
  // The common catch-all of Koa apps (C20): sets status and body only, keeps no headers itself.
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error: any) {
      ctx.status = error.status || 500;
      ctx.body = { app_error: error.code ?? 'unknown' };
    }
  });
  const guards = new Map<string, Middleware>(
    Object.entries(ROUTES).map(([path, options]) => [path, koaBasicAuth(options)]),
  );
  app.use(async (ctx, next) => {
    const guard = guards.get(ctx.path);
    if (!guard || ctx.method !== 'POST') return next();
    await guard(ctx, async () => {
      handled++;
      let raw = '';
      for await (const chunk of ctx.req) raw += chunk;
      ctx.body = { received: true, event: JSON.parse(raw).event };
    });
  });
  return running(app.listen(0, '127.0.0.1'), () => handled);
}

async function startFastify(): Promise<Running> {
  let handled = 0;
  // Requests from 127.0.0.1 are a proxy's: X-Forwarded-For names the client (request.ip).
  const app = Fastify({ trustProxy: '127.0.0.1' });
  // A catch-all error handler: sets status and body only, keeps no headers itself.
  app.setErrorHandler((error: any, _request, reply) => reply.code(error.statusCode ?? 500).send({ app_error: error.code ?? 'unknown' }));
  for (const [path, options] of Object.entries(ROUTES)) {
    app.post(path, { onRequest: fastifyBasicAuth(options) }, async (req) => {
      handled++;
      return { received: true, event: (req.body as { event: string }).event };
    });
  }
  await app.ready();
  const server = app.server.listen(0, '127.0.0.1');
  const result = await running(server, () => handled);
  return { ...result, close: () => app.close() };
}

const FRAMEWORKS: [string, () => Promise<Running>][] = [
  ['Express 5', () => startExpress(express)],
  ['Express 4', () => startExpress(express4 as unknown as typeof express)],
  ['Koa', startKoa],
  ['Fastify', startFastify],
];

/** [what, route, Authorization header (undefined = none), expected status, expected code]. */
const CASES: [string, RoutePath, string | undefined, number, string?][] = [
  ['C21 a: a password with colons', '/hooks/in', 'Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==', 200],
  ['C21 b: no colon at all', '/hooks/in', 'Basic aG9vay1yZWxheQ==', 401, 'ERR_BASIC_AUTH_INVALID'],
  ['C22 a: first character dropped', '/hooks/in', 'Basic G9vay1yZWxheTpwNHNzOncwcmQ6eA==', 401, 'ERR_BASIC_AUTH_INVALID'],
  ['C22 b: not base64', '/hooks/in', 'Basic !!!', 401, 'ERR_BASIC_AUTH_INVALID'],
  ['C22 c: sent without encoding', '/hooks/in', 'Basic hook-relay:p4ss', 401, 'ERR_BASIC_AUTH_INVALID'],
  ['C22 d: nothing after the scheme', '/hooks/in', 'Basic', 401, 'ERR_BASIC_AUTH_INVALID'],
  ['C22 e: valid but unpadded', '/hooks/pw1', 'Basic aG9vay1yZWxheTpwdzE', 200],
  ['C22 e: the same, padded', '/hooks/pw1', 'Basic aG9vay1yZWxheTpwdzE=', 200],
  ['the same with unused bits set in the last character', '/hooks/pw1', 'Basic aG9vay1yZWxheTpwdzF=', 401, 'ERR_BASIC_AUTH_INVALID'],
  ['the same unpadded, with unused bits set', '/hooks/pw1', 'Basic aG9vay1yZWxheTpwdzF', 401, 'ERR_BASIC_AUTH_INVALID'],
  ['C23 a: UTF-8 credentials', '/hooks/utf8', 'Basic aG9vay1yZWxheTpww6Rzc3fDtnJk', 200],
  ['C23 b: latin1 bytes', '/hooks/utf8', 'Basic aG9vay1yZWxheTpw5HNzd/ZyZA==', 401, 'ERR_BASIC_AUTH_INVALID'],
  ['C23 c: invalid UTF-8', '/hooks/utf8', 'Basic aG9vay1yZWxheTr//g==', 401, 'ERR_BASIC_AUTH_INVALID'],
  ['a missing header', '/hooks/in', undefined, 401, 'ERR_BASIC_AUTH_MISSING'],
  ['a wrong user', '/hooks/in', `Basic ${btoa('hook-relax:p4ss:w0rd:x')}`, 401, 'ERR_BASIC_AUTH_INVALID'],
  ['a wrong password', '/hooks/in', `Basic ${btoa('hook-relay:p4ss:w0rd:y')}`, 401, 'ERR_BASIC_AUTH_INVALID'],
  ['a password cut at its first colon', '/hooks/in', `Basic ${btoa('hook-relay:p4ss')}`, 401, 'ERR_BASIC_AUTH_INVALID'],
  ['the scheme in lower case', '/hooks/in', 'basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==', 200],
  ['a 1,024-byte password', '/hooks/longest', `Basic ${Buffer.from(`hook-relay:${LONGEST_PASSWORD}`).toString('base64')}`, 200],
  ['the 1,024-byte password less its last byte', '/hooks/longest', `Basic ${Buffer.from(`hook-relay:${LONGEST_PASSWORD.slice(0, -1)}`).toString('base64')}`, 401, 'ERR_BASIC_AUTH_INVALID'],
  ['a Bearer header instead', '/hooks/in', 'Bearer aG9vay1yZWxheTpwNHNzOncwcmQ6eA==', 401, 'ERR_BASIC_AUTH_INVALID'],
];

describe.each(FRAMEWORKS)('Basic-auth receiver on %s', (_name, start) => {
  let app: Running;

  beforeAll(async () => {
    app = await start();
  });

  afterAll(async () => {
    await app.close();
  });

  it.each(CASES)('%s → %i', async (_what, path, authorization, status, code) => {
    const before = app.handled();

    const answer = await post(app, path, authorization);

    expect(answer.status).toBe(status);
    if (status === 200) {
      expect(JSON.parse(answer.body)).toEqual({ received: true, event: 'delivered' });
      expect(app.handled()).toBe(before + 1);
      return;
    }
    expect(app.handled()).toBe(before);
    expect(answer.headers['www-authenticate']).toBe(CHALLENGE);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(answer.body)).toEqual({
      error: {
        code,
        message:
          code === 'ERR_BASIC_AUTH_MISSING'
            ? 'Credentials are required. Send them as "Authorization: Basic <base64 of user:password>".'
            : 'The credentials are invalid.',
      },
    });
  });

  it('refuses two different Authorization headers, which Node would cut to the first, and takes the same one twice', async () => {
    const good = 'Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==';
    const postTwice = (second: string) => {
      const { host } = new URL(app.url);
      const body = '{"event":"delivered"}';
      const request =
        `POST /hooks/in HTTP/1.1\r\nHost: ${host}\r\nAuthorization: ${good}\r\nAuthorization: ${second}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
      return sendRaw(app.url, Buffer.from(request));
    };
    const before = app.handled();

    expect((await postTwice(`Basic ${btoa('hook-relay:wrong')}`)).status).toBe(401);
    // The same credentials, unpadded: another text, so refused as well.
    expect((await postTwice(good.replace(/=+$/, ''))).status).toBe(401);
    expect(app.handled()).toBe(before);
    expect((await postTwice(good)).status).toBe(200);
  });

  it('refuses a request with more than 1,000 header lines, where Node may have cut a second Authorization off', async () => {
    const { host } = new URL(app.url);
    const body = '{"event":"delivered"}';
    // Host, Authorization, Content-Type, Content-Length and Connection, then filler up to `lines`.
    const postWithLines = (lines: number) => {
      const filler = Array.from({ length: lines - 5 }, (_, i) => `x-filler-${i}: 1\r\n`).join('');
      const request =
        `POST /hooks/in HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n${filler}\r\n${body}`;
      return sendRaw(app.url, Buffer.from(request));
    };
    const before = app.handled();

    const refused = await postWithLines(1_001);

    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe(CHALLENGE);
    expect(JSON.parse(refused.body)).toEqual({ error: { code: 'ERR_BASIC_AUTH_INVALID', message: 'The credentials are invalid.' } });
    expect(app.handled()).toBe(before);
    expect((await postWithLines(1_000)).status).toBe(200);
    expect((await postWithLines(999)).status).toBe(200);
    expect(app.handled()).toBe(before + 2);
  });

  it('with forwardErrors, hands the 401 to the app\'s error handling with the challenge kept', async () => {
    const answer = await post(app, '/hooks/forwarded', `Basic ${btoa('hook-relay:wrong')}`);

    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe(CHALLENGE);
    expect(answer.body).toContain('ERR_BASIC_AUTH_INVALID');
  });

  it('with forwardErrors, still lets good credentials through', async () => {
    const answer = await post(app, '/hooks/forwarded', 'Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==');

    expect(answer.status).toBe(200);
  });

  it('never echoes the presented credentials', async () => {
    const answer = await post(app, '/hooks/in', `Basic ${btoa('hook-relay:zz-guess-42')}`);

    expect(answer.body).not.toContain('zz-guess-42');
    expect(JSON.stringify(answer.headers)).not.toContain('zz-guess-42');
  });
});

describe.each(FRAMEWORKS)('Basic-auth receiver failure throttle on %s', (_name, start) => {
  const GOOD = 'Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==';
  const wrong = (n: number) => `Basic ${btoa(`hook-relay:guess-${n}`)}`;
  const TOO_MANY_BODY = '{"error":{"code":"ERR_TOO_MANY_ATTEMPTS","message":"Too many failed attempts. Retry later."}}';
  let app: Running;

  /** Sends `times` wrong passwords from one client, each answered 401. */
  async function fail(path: RoutePath, times: number, from: { localAddress?: string; forwardedFor?: string }) {
    for (let n = 0; n < times; n++) expect((await post(app, path, wrong(n), from)).status).toBe(401);
  }

  beforeAll(async () => {
    app = await start();
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => {
    // Only Date, which the throttle reads: each window then stays open for the whole test.
    vi.useFakeTimers({ toFake: ['Date'] });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  // Each test sends from loopback addresses of its own: the app, and so its counters, are shared.
  it('answers 429 with Retry-After and the exact body after the limit, even to the right password', async () => {
    const from = { localAddress: '127.0.0.2' };
    await fail('/hooks/throttled', 3, from);
    const before = app.handled();

    const answer = await post(app, '/hooks/throttled', GOOD, from);

    expect(answer.status).toBe(429);
    expect(answer.headers['retry-after']).toBe('900');
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.headers['www-authenticate']).toBeUndefined();
    expect(answer.body).toBe(TOO_MANY_BODY);
    expect(app.handled()).toBe(before);
  });

  it('still lets another address through', async () => {
    await fail('/hooks/throttled', 3, { localAddress: '127.0.0.3' });

    expect((await post(app, '/hooks/throttled', GOOD, { localAddress: '127.0.0.4' })).status).toBe(200);
    expect((await post(app, '/hooks/throttled', GOOD, { localAddress: '127.0.0.3' })).status).toBe(429);
  });

  it('lets the right password through before the limit; the success does not reset the count', async () => {
    const from = { localAddress: '127.0.0.5' };
    await fail('/hooks/throttled', 2, from);

    expect((await post(app, '/hooks/throttled', GOOD, from)).status).toBe(200);
    await fail('/hooks/throttled', 1, from);
    expect((await post(app, '/hooks/throttled', GOOD, from)).status).toBe(429);
  });

  it('does not count requests without credentials', async () => {
    const from = { localAddress: '127.0.0.6' };
    for (let n = 0; n < 5; n++) expect((await post(app, '/hooks/throttled', undefined, from)).status).toBe(401);

    expect((await post(app, '/hooks/throttled', GOOD, from)).status).toBe(200);
  });

  it('counts each client its framework names, following the app\'s trust-proxy setting', async () => {
    // All from 127.0.0.1, the trusted proxy: only X-Forwarded-For tells the clients apart.
    await fail('/hooks/throttled', 3, { forwardedFor: '203.0.113.7' });

    expect((await post(app, '/hooks/throttled', GOOD, { forwardedFor: '203.0.113.7' })).status).toBe(429);
    expect((await post(app, '/hooks/throttled', GOOD, { forwardedFor: '203.0.113.8' })).status).toBe(200);
  });

  it('with forwardErrors, hands the 429 to the app\'s error handling with Retry-After kept', async () => {
    const from = { localAddress: '127.0.0.7' };
    await fail('/hooks/throttled-forwarded', 3, from);

    const answer = await post(app, '/hooks/throttled-forwarded', GOOD, from);

    expect(answer.status).toBe(429);
    expect(answer.headers['retry-after']).toBe('900');
    expect(JSON.parse(answer.body)).toEqual({ app_error: 'ERR_TOO_MANY_ATTEMPTS' });
  });

  it('with throttle: false, answers every wrong password with 401 and the right one with 200', async () => {
    const from = { localAddress: '127.0.0.8' };
    await fail('/hooks/unthrottled', 25, from);

    expect((await post(app, '/hooks/unthrottled', GOOD, from)).status).toBe(200);
  });
});

describe('C20: Koa receiver behind a catch-all error middleware', () => {
  it('answers 401 with the Basic challenge and no 500, with and without forwarding', async () => {
    const app = await startKoa();
    try {
      const missing = await post(app, '/hooks/in');
      const wrong = await post(app, '/hooks/in', `Basic ${btoa('hook-relay:nope')}`);
      const forwarded = await post(app, '/hooks/forwarded');

      for (const answer of [missing, wrong, forwarded]) {
        expect(answer.status).toBe(401);
        expect(answer.headers['www-authenticate']).toBe(CHALLENGE);
      }
      // Forwarded errors reach the app's own middleware, which shapes the body.
      expect(JSON.parse(forwarded.body)).toEqual({ app_error: 'ERR_BASIC_AUTH_MISSING' });
    } finally {
      await app.close();
    }
  });

  it('keeps status and challenge through Koa\'s default error handler when forwarding', async () => {
    const app = new Koa();
    const guard = koaBasicAuth({ username: 'hook-relay', password: 'p4ss:w0rd:x', forwardErrors: true });
    app.use((ctx, next) => guard(ctx, async () => {
      ctx.body = 'ok';
    }));
    // Koa logs thrown errors with status >= 500 only; a 401 stays quiet.
    const server = await running(app.listen(0, '127.0.0.1'), () => 0);
    try {
      const answer = await post(server, '/hooks/in', 'Basic !!!');

      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBe(CHALLENGE);
      expect(answer.body).toBe('The credentials are invalid.');
    } finally {
      await server.close();
    }
  });
});

describe('fastifyBasicAuth in a hook phase that runs after the handler', () => {
  const hookAuth = () => fastifyBasicAuth({ username: 'hook-relay', password: 'pw-for-phases' });
  const valid = `Basic ${Buffer.from('hook-relay:pw-for-phases').toString('base64')}`;

  it.each(['onSend', 'preSerialization'] as const)(
    'answers 500 ERR_OPTIONS_INVALID as %s, never the handler\'s answer, with or without credentials',
    async (phase) => {
      const app = Fastify();
      app.post('/hooks/in', { [phase]: hookAuth() as never }, async () => ({ secret: 'handler output' }));
      try {
        for (const headers of [{}, { authorization: valid }]) {
          const answer = await app.inject({ method: 'POST', url: '/hooks/in', headers, payload: {} });
          expect(answer.statusCode).toBe(500);
          expect(answer.json()).toMatchObject({ code: 'ERR_OPTIONS_INVALID' });
          expect(answer.body).not.toContain('handler output');
        }
      } finally {
        await app.close();
      }
    },
  );

  it('logs ERR_OPTIONS_INVALID at error when mounted as onResponse, where the answer has already gone', async () => {
    const logged: { level: number; err?: { code?: string } }[] = [];
    const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => void logged.push(JSON.parse(line)) } } });
    app.post('/hooks/in', { onResponse: hookAuth() as never }, async () => ({ sent: 'before the hook ran' }));
    try {
      await app.inject({ method: 'POST', url: '/hooks/in', payload: {} });
      expect(logged.filter((line) => line.level === 50 && line.err?.code === 'ERR_OPTIONS_INVALID')).toHaveLength(1);
    } finally {
      await app.close();
    }
  });

  it('works as preParsing, which runs before the body is read', async () => {
    const app = Fastify();
    app.post('/hooks/in', { preParsing: hookAuth() as never }, async (request) => ({ received: request.body }));
    try {
      const refused = await app.inject({ method: 'POST', url: '/hooks/in', payload: { event: 'x' } });
      const accepted = await app.inject({ method: 'POST', url: '/hooks/in', headers: { authorization: valid }, payload: { event: 'x' } });
      expect([refused.statusCode, accepted.statusCode, accepted.json()]).toEqual([401, 200, { received: { event: 'x' } }]);
    } finally {
      await app.close();
    }
  });
});

describe('receiver middleware: setup', () => {
  it('returns each framework\'s own middleware type', () => {
    // Express's RequestHandler in all but the route's own types, which it leaves to the path.
    expectTypeOf(expressBasicAuth).returns.toEqualTypeOf<ExpressAuthMiddleware>();
    expectTypeOf(expressBasicAuth).returns.toExtend<RequestHandler>();
    expectTypeOf(koaBasicAuth).returns.toEqualTypeOf<Middleware>();
    // Fastify's is an async onRequest hook, of an HTTP/1 instance or of one made with http2: true.
    expectTypeOf(fastifyBasicAuth).returns.toExtend<onRequestAsyncHookHandler>();
    expectTypeOf(fastifyBasicAuth).returns.toExtend<onRequestAsyncHookHandler<Http2Server>>();
  });

  it.each([
    ['expressBasicAuth', () => expressBasicAuth({ username: 'a:b', password: 'p' })],
    ['koaBasicAuth', () => koaBasicAuth({ username: 'u', password: '' })],
    ['fastifyBasicAuth', () => fastifyBasicAuth({ username: 'u', password: 'p', realm: 'a"b' })],
  ])('%s refuses bad options at setup with ERR_OPTIONS_INVALID', (name, build) => {
    expect(build).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS_INVALID' }));
    if (name !== 'fastifyBasicAuth') expect(build).toThrow(new RegExp(name));
  });

  describe.each([
    ['expressBasicAuth', expressBasicAuth],
    ['koaBasicAuth', koaBasicAuth],
    ['fastifyBasicAuth', fastifyBasicAuth],
  ] as const)('%s', (name, build) => {
    it.each([
      ['a throttle that is not an object', { username: 'u', password: 'p', throttle: true as never }, /"throttle" must be an object or false/],
      ['a throttle limit of zero', { username: 'u', password: 'p', throttle: { maxFailuresPerClient: 0 } }, /"throttle.maxFailuresPerClient" must be an integer from 1 to 1000000/],
      ['a throttle window under a second', { username: 'u', password: 'p', throttle: { windowMs: 500 } }, /"throttle.windowMs" must be an integer from 1000 to 86400000/],
      ['a misspelt throttle limit', { username: 'u', password: 'p', throttle: { windowMS: 60_000 } as never }, /unknown option in "throttle" \(its name is not repeated, as it could be a secret\)\. Did you mean "windowMs"\?/],
      ['a 3,100-character password (no header under the cap could carry it)', { username: 'u', password: 'x'.repeat(3100) }, /"password" must be at most 1024 bytes/],
      ['a password ending in a line break', { username: 'u', password: 'SECRET\n' }, /"password" must not contain control characters/],
      ['a password with a tab', { username: 'u', password: 'SEC\tRET' }, /"password" must not contain control characters/],
      ['a username with a right-to-left override', { username: 'u\u202ev', password: 'p' }, /"username"/],
      ['a username with a line separator', { username: 'u\u2028v', password: 'p' }, /"username"/],
    ])('refuses %s at setup with ERR_OPTIONS_INVALID, naming itself', (_what, options, message) => {
      expect(() => build(options)).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS_INVALID' }));
      expect(() => build(options)).toThrow(message);
      expect(() => build(options)).toThrow(new RegExp(`^${name}: `));
    });
  });
});
