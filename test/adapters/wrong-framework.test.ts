/**
 * An adapter export mounted on another framework (`fastifyApiKeyAuthHook(auth)` on Express,
 * `expressApiKeyAuth(auth)` on Koa, `koaBasicAuth(…)` as a Fastify hook) must fail every request
 * through that framework's error path with an ERR_OPTIONS_INVALID naming the export to use
 * there: never let a request through, never crash the process. The apps run in this process,
 * so an unhandled rejection or an uncaught exception would show in the listeners below.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express5 from 'express';
import express4 from 'express4';
import fastify5 from 'fastify';
import fastify4 from 'fastify4';
import Koa3, { type Middleware } from 'koa';
import Koa2 from 'koa2';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, type ApiKeyAuth } from 'keyward';
import { expressApiKeyAuth, expressBasicAuth } from 'keyward/express';
import { fastifyApiKeyAuth, fastifyApiKeyAuthHook, fastifyBasicAuth } from 'keyward/fastify';
import { koaApiKeyAuth, koaBasicAuth } from 'keyward/koa';
import { TEST_ARGON2 } from '../fixtures/argon2-vectors.js';
import { send } from '../helpers/http-client.js';
import { bearer } from '../helpers/keys.js';
import { SUITE_PASSWORDS } from '../helpers/output-guard.js';
import { InstrumentedStore } from '../helpers/stores.js';
import { koaErrorAsJson, listen } from '../http/apps.js';

const BASIC = { username: 'hook-relay', password: SUITE_PASSWORDS[0]! };
const BASIC_HEADER = { authorization: `Basic ${Buffer.from(`${BASIC.username}:${BASIC.password}`).toString('base64')}` };

type Framework = 'Express' | 'Koa' | 'Fastify';
type ExportName =
  | 'expressApiKeyAuth'
  | 'expressBasicAuth'
  | 'koaApiKeyAuth'
  | 'koaBasicAuth'
  | 'fastifyApiKeyAuthHook'
  | 'fastifyBasicAuth'
  | 'fastifyApiKeyAuth';

/** The error message each export gives on each framework it does not belong to. */
const MESSAGES: Record<ExportName, Partial<Record<Framework, string>>> = {
  expressApiKeyAuth: {
    Koa: 'expressApiKeyAuth makes Express middleware, but Koa called it: on Koa, use koaApiKeyAuth(auth) from keyward/koa.',
    Fastify:
      "expressApiKeyAuth makes Express middleware, but Fastify called it: on Fastify, use fastifyApiKeyAuthHook(auth) from keyward/fastify as the route's onRequest, or register the fastifyApiKeyAuth plugin.",
  },
  expressBasicAuth: {
    Koa: 'expressBasicAuth makes Express middleware, but Koa called it: on Koa, use koaBasicAuth({ username, password }) from keyward/koa.',
    Fastify:
      "expressBasicAuth makes Express middleware, but Fastify called it: on Fastify, use fastifyBasicAuth({ username, password }) from keyward/fastify as the route's onRequest.",
  },
  koaApiKeyAuth: {
    Express: 'koaApiKeyAuth makes Koa middleware, but Express called it: on Express, use expressApiKeyAuth(auth) from keyward/express.',
    Fastify:
      "koaApiKeyAuth makes Koa middleware, but Fastify called it: on Fastify, use fastifyApiKeyAuthHook(auth) from keyward/fastify as the route's onRequest, or register the fastifyApiKeyAuth plugin.",
  },
  koaBasicAuth: {
    Express: 'koaBasicAuth makes Koa middleware, but Express called it: on Express, use expressBasicAuth({ username, password }) from keyward/express.',
    Fastify:
      "koaBasicAuth makes Koa middleware, but Fastify called it: on Fastify, use fastifyBasicAuth({ username, password }) from keyward/fastify as the route's onRequest.",
  },
  fastifyApiKeyAuthHook: {
    Express: 'fastifyApiKeyAuthHook makes a Fastify hook, but Express called it: on Express, use expressApiKeyAuth(auth) from keyward/express.',
    Koa: 'fastifyApiKeyAuthHook makes a Fastify hook, but Koa called it: on Koa, use koaApiKeyAuth(auth) from keyward/koa.',
  },
  fastifyBasicAuth: {
    Express: 'fastifyBasicAuth makes a Fastify hook, but Express called it: on Express, use expressBasicAuth({ username, password }) from keyward/express.',
    Koa: 'fastifyBasicAuth makes a Fastify hook, but Koa called it: on Koa, use koaBasicAuth({ username, password }) from keyward/koa.',
  },
  fastifyApiKeyAuth: {
    Express: 'fastifyApiKeyAuth is a Fastify plugin, but Express called it: on Express, use expressApiKeyAuth(auth) from keyward/express.',
    Koa: 'fastifyApiKeyAuth is a Fastify plugin, but Koa called it: on Koa, use koaApiKeyAuth(auth) from keyward/koa.',
  },
};

/** A running app with one guarded route, `GET /r`, whose handler counts its runs. */
interface GuardedApp {
  url: string;
  handled: () => number;
  close: () => Promise<void>;
}

type Mount = (guard: unknown) => Promise<GuardedApp>;

function onExpress(express: typeof express5): Mount {
  return async (guard) => {
    let handled = 0;
    const app = express();
    app.get('/r', guard as express5.RequestHandler, (_req, res) => {
      handled++;
      res.send('handled');
    });
    app.use((error: { code?: string; message?: string }, _req: express5.Request, res: express5.Response, _next: express5.NextFunction) => {
      res.status(500).json({ code: error.code, message: error.message });
    });
    const running = await listen(app.listen(0, '127.0.0.1'), []);
    return { url: running.url, handled: () => handled, close: running.close };
  };
}

function onKoa(Koa: typeof Koa3): Mount {
  return async (guard) => {
    let handled = 0;
    const app = new Koa();
    app.use(koaErrorAsJson);
    app.use(guard as Middleware);
    app.use((ctx) => {
      handled++;
      ctx.body = 'handled';
    });
    const running = await listen(createServer(app.callback()).listen(0, '127.0.0.1'), []);
    return { url: running.url, handled: () => handled, close: running.close };
  };
}

/** As a route's onRequest hook; Fastify's default error handler shows code and message. */
function onFastify(fastify: typeof fastify5): Mount {
  return async (guard) => {
    let handled = 0;
    const app = fastify();
    app.get('/r', { onRequest: guard as never }, async () => {
      handled++;
      return 'handled';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, handled: () => handled, close: () => app.close() };
  };
}

const FRAMEWORKS: readonly [string, Framework, Mount][] = [
  ['Express 4', 'Express', onExpress(express4 as unknown as typeof express5)],
  ['Express 5', 'Express', onExpress(express5)],
  ['Koa 2', 'Koa', onKoa(Koa2 as unknown as typeof Koa3)],
  ['Koa 3', 'Koa', onKoa(Koa3)],
  ['Fastify 4', 'Fastify', onFastify(fastify4 as unknown as typeof fastify5)],
  ['Fastify 5', 'Fastify', onFastify(fastify5)],
];

// Unhandled rejections and uncaught exceptions in this process while the apps run.
const processErrors: unknown[] = [];
const record = (error: unknown) => void processErrors.push(error);

describe('an adapter export mounted on another framework', () => {
  const store = new InstrumentedStore();
  let auth: ApiKeyAuth;
  let key: string;

  beforeAll(async () => {
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    auth = createApiKeyAuth({ store });
    ({ key } = await manager.issue({ accountId: 'acct_w', environment: 'sandbox' }));
    process.on('unhandledRejection', record);
    process.on('uncaughtException', record);
  });
  afterAll(async () => {
    process.off('unhandledRejection', record);
    process.off('uncaughtException', record);
    await auth.close();
  });
  beforeEach(() => {
    processErrors.length = 0;
  });
  afterEach(() => {
    expect(processErrors).toEqual([]);
  });

  /** Each export as the app would mount it, with the credentials it would let through. */
  const exports: Record<ExportName, () => { guard: unknown; credentials: Record<string, string> }> = {
    expressApiKeyAuth: () => ({ guard: expressApiKeyAuth(auth), credentials: bearer(key) }),
    expressBasicAuth: () => ({ guard: expressBasicAuth(BASIC), credentials: BASIC_HEADER }),
    koaApiKeyAuth: () => ({ guard: koaApiKeyAuth(auth), credentials: bearer(key) }),
    koaBasicAuth: () => ({ guard: koaBasicAuth(BASIC), credentials: BASIC_HEADER }),
    fastifyApiKeyAuthHook: () => ({ guard: fastifyApiKeyAuthHook(auth), credentials: bearer(key) }),
    fastifyBasicAuth: () => ({ guard: fastifyBasicAuth(BASIC), credentials: BASIC_HEADER }),
    // The plugin itself, used as middleware.
    fastifyApiKeyAuth: () => ({ guard: fastifyApiKeyAuth, credentials: bearer(key) }),
  };

  const cases = FRAMEWORKS.flatMap(([label, framework, mount]) =>
    (Object.keys(MESSAGES) as ExportName[])
      .filter((name) => MESSAGES[name][framework] !== undefined)
      .map((name) => [name, label, mount, MESSAGES[name][framework]!] as const),
  );

  it.each(cases)(
    '%s on %s fails a request without and one with valid credentials with 500 ERR_OPTIONS_INVALID naming the export to use, and the handler never runs',
    async (name, _label, mount, message) => {
      const { guard, credentials } = exports[name]();
      const app = await mount(guard);
      try {
        const bare = await send(app.url, '/r');
        // The second request is answered too: the process is still serving.
        const withCredentials = await send(app.url, '/r', { headers: credentials });

        for (const answer of [bare, withCredentials]) {
          expect(answer.status).toBe(500);
          expect(JSON.parse(answer.body)).toMatchObject({ code: 'ERR_OPTIONS_INVALID', message });
        }
        expect(app.handled()).toBe(0);
      } finally {
        await app.close();
      }
    },
  );

  it.each(Object.keys(MESSAGES) as ExportName[])(
    '%s as a plain node:http listener answers 500 with the JSON error body and no-store, warns once naming the export, and the process goes on serving',
    async (name) => {
      const { guard, credentials } = exports[name]();
      const warnings: Error[] = [];
      const onWarning = (warning: Error) => void warnings.push(warning);
      process.on('warning', onWarning);
      const running = await listen(createServer(guard as never).listen(0, '127.0.0.1'), []);
      try {
        const answers = [await send(running.url, '/r'), await send(running.url, '/r', { headers: credentials })];
        // Warnings are emitted on the next tick.
        await new Promise((resolve) => setImmediate(resolve));

        for (const answer of answers) {
          expect([answer.status, answer.headers['content-type'], answer.headers['cache-control'], answer.body]).toEqual([
            500,
            'application/json; charset=utf-8',
            'no-store',
            '{"error":{"code":"ERR_INTERNAL","message":"Internal server error."}}',
          ]);
        }
        expect(warnings.map((warning) => [(warning as { code?: string }).code, warning.message])).toEqual([
          ['KEYWARD_WRONG_FRAMEWORK', expect.stringMatching(new RegExp(`^${name} (makes|is) .*, but it was called with something other than `))],
        ]);
      } finally {
        process.off('warning', onWarning);
        await running.close();
      }
    },
  );

  it.each(['koaBasicAuth', 'fastifyBasicAuth', 'fastifyApiKeyAuth', 'expressApiKeyAuth'] as const)(
    '%s as a second plain node:http listener, after one that answered, leaves that answer alone and ends nothing',
    async (name) => {
      const { guard } = exports[name]();
      const server = createServer((_req, res) => res.end('first'));
      server.on('request', guard as never);
      const running = await listen(server.listen(0, '127.0.0.1'), []);
      try {
        const answer = await send(running.url, '/r');
        await new Promise((resolve) => setImmediate(resolve));

        expect([answer.status, answer.body]).toEqual([200, 'first']);
      } finally {
        await running.close();
      }
    },
  );

  it.each([
    ['Fastify 4', fastify4 as unknown as typeof fastify5],
    ['Fastify 5', fastify5],
  ])("on %s, the plugin as a route's onRequest or an instance's onRequest hook fails each request with 500 saying to register it or use the hook", async (_label, fastify) => {
    const app = fastify();
    let handled = 0;
    app.get('/route', { onRequest: fastifyApiKeyAuth as never }, async () => ++handled);
    app.register(async (scoped) => {
      scoped.addHook('onRequest', fastifyApiKeyAuth as never);
      scoped.get('/scoped', async () => ++handled);
    });
    try {
      for (const url of ['/route', '/scoped']) {
        for (const headers of [{}, bearer(key)]) {
          const answer = await app.inject({ url, headers });

          expect(answer.statusCode).toBe(500);
          expect(answer.json()).toMatchObject({
            code: 'ERR_OPTIONS_INVALID',
            message:
              "fastifyApiKeyAuth is a plugin, not a hook: register it with app.register(fastifyApiKeyAuth, { auth }), or pass fastifyApiKeyAuthHook(auth) as a route's onRequest.",
          });
        }
      }
      expect(handled).toBe(0);
    } finally {
      await app.close();
    }
  });

  it.each([
    ['Fastify 4', fastify4 as unknown as typeof fastify5],
    ['Fastify 5', fastify5],
  ])('on %s, the Basic-auth hook registered as a plugin makes ready() reject with ERR_OPTIONS_INVALID saying to pass it as onRequest', async (_label, fastify) => {
    const app = fastify();
    app.register(fastifyBasicAuth(BASIC) as never);
    try {
      await expect(app.ready()).rejects.toMatchObject({
        code: 'ERR_OPTIONS_INVALID',
        message: "fastifyBasicAuth makes a Fastify hook, but it was called with something other than a Fastify request: pass it as a Fastify route's onRequest.",
      });
    } finally {
      await app.close();
    }
  });

  it.each([
    ['Fastify 4', fastify4 as unknown as typeof fastify5],
    ['Fastify 5', fastify5],
  ])('on %s, Express middleware registered as a plugin makes ready() reject with ERR_OPTIONS_INVALID, and the process goes on', async (_label, fastify) => {
    for (const [name, middleware] of [
      ['expressApiKeyAuth', expressApiKeyAuth(auth)],
      ['expressBasicAuth', expressBasicAuth(BASIC)],
    ] as const) {
      const app = fastify();
      app.register(middleware as never);
      try {
        await expect(app.ready()).rejects.toMatchObject({
          code: 'ERR_OPTIONS_INVALID',
          message: expect.stringMatching(new RegExp(`^${name} makes Express middleware, but Fastify called it: on Fastify, use `)),
        });
      } finally {
        await app.close();
      }
    }
  });
});
