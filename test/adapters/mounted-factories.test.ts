/**
 * A factory mounted itself instead of what it returns (`{ onRequest: fastifyBasicAuth }`,
 * `app.use(koaBasicAuth)`) is called by the framework with a request on every request. The
 * error each request then fails with must say what to do, not list the request's fields as
 * unknown options.
 */
import express from 'express';
import fastify from 'fastify';
import Koa, { type Middleware } from 'koa';
import { describe, expect, it } from 'vitest';
import { expressApiKeyAuth, expressBasicAuth } from 'keyward/express';
import { fastifyApiKeyAuthHook, fastifyBasicAuth } from 'keyward/fastify';
import { koaApiKeyAuth, koaBasicAuth } from 'keyward/koa';
import { send } from '../helpers/http-client.js';
import { koaErrorAsJson, listen } from '../http/apps.js';

const MESSAGES = {
  expressApiKeyAuth: 'expressApiKeyAuth was called with a request, so it was passed to the framework uncalled: call expressApiKeyAuth(auth) when setting up the route and pass the middleware it returns.',
  expressBasicAuth: 'expressBasicAuth was called with a request, so it was passed to the framework uncalled: call expressBasicAuth({ username, password }) when setting up the route and pass the middleware it returns.',
  koaApiKeyAuth: 'koaApiKeyAuth was called with a request, so it was passed to the framework uncalled: call koaApiKeyAuth(auth) when setting up the route and pass the middleware it returns.',
  koaBasicAuth: 'koaBasicAuth was called with a request, so it was passed to the framework uncalled: call koaBasicAuth({ username, password }) when setting up the route and pass the middleware it returns.',
  fastifyApiKeyAuthHook: 'fastifyApiKeyAuthHook was called with a request, so it was passed to the framework uncalled: call fastifyApiKeyAuthHook(auth) when setting up the route and pass the hook it returns.',
  fastifyBasicAuth: 'fastifyBasicAuth was called with a request, so it was passed to the framework uncalled: call fastifyBasicAuth({ username, password }) when setting up the route and pass the hook it returns.',
};

describe('a factory passed to the framework uncalled', () => {
  it.each([
    ['fastifyBasicAuth', fastifyBasicAuth],
    ['fastifyApiKeyAuthHook', fastifyApiKeyAuthHook],
  ] as const)("as Fastify's onRequest, %s fails each request with 500 saying to call it and pass the hook", async (name, factory) => {
    const app = fastify();
    app.post('/hooks/in', { onRequest: factory as never }, async () => 'received');
    try {
      const answer = await app.inject({ method: 'POST', url: '/hooks/in' });

      expect(answer.statusCode).toBe(500);
      expect(answer.json()).toMatchObject({ code: 'ERR_OPTIONS_INVALID', message: MESSAGES[name] });
    } finally {
      await app.close();
    }
  });

  it.each([
    ['expressBasicAuth', expressBasicAuth],
    ['expressApiKeyAuth', expressApiKeyAuth],
  ] as const)('as Express middleware, %s hands each request an ERR_OPTIONS_INVALID saying to call it', async (name, factory) => {
    const app = express();
    app.post('/hooks/in', factory as never, (_req, res) => { res.send('received'); });
    app.use((error: { code?: string; message?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ code: error.code, message: error.message });
    });
    const server = await listen(app.listen(0, '127.0.0.1'), []);
    try {
      const answer = await send(server.url, '/hooks/in', { method: 'POST' });

      expect(answer.status).toBe(500);
      expect(JSON.parse(answer.body)).toEqual({ code: 'ERR_OPTIONS_INVALID', message: MESSAGES[name] });
    } finally {
      await server.close();
    }
  });

  it.each([
    ['koaBasicAuth', koaBasicAuth],
    ['koaApiKeyAuth', koaApiKeyAuth],
  ] as const)('as Koa middleware, %s throws an ERR_OPTIONS_INVALID on each request saying to call it', async (name, factory) => {
    const app = new Koa();
    app.use(koaErrorAsJson);
    app.use(factory as unknown as Middleware);
    const server = await listen(app.listen(0, '127.0.0.1'), []);
    try {
      const answer = await send(server.url, '/hooks/in', { method: 'POST' });

      expect(answer.status).toBe(500);
      expect(JSON.parse(answer.body)).toEqual({ code: 'ERR_OPTIONS_INVALID', message: MESSAGES[name] });
    } finally {
      await server.close();
    }
  });
});
