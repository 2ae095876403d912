import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import express5 from 'express';
import express4 from 'express4';
import fastify5, { type FastifyError } from 'fastify';
import fastify4 from 'fastify4';
import Koa3, { type Middleware } from 'koa';
import Koa2 from 'koa2';
import type { ApiKeyAuth, RouteOptions } from 'keyward';
import { expressApiKeyAuth } from 'keyward/express';
import { fastifyApiKeyAuth, fastifyApiKeyAuthHook } from 'keyward/fastify';
import { koaApiKeyAuth } from 'keyward/koa';

/** A running test app: its base URL, what its error handler saw, and how to stop it. */
export interface RunningApp {
  url: string;
  /** Errors that reached the framework's own error handling (with forwardErrors). */
  forwarded: unknown[];
  close(): Promise<void>;
}

/**
 * One framework under test. Every app serves the same routes:
 * - `GET /v1/whoami`: any live key; 200 `{ apiKey }`.
 * - `POST /v1/sms`: needs key type `sms_api`; 202 `{ apiKey }`.
 * - `GET /v1/admin`: needs key type `admin_api`; 200 `{ apiKey }`.
 * - `GET /healthz`: no key; 200.
 * With `forwardErrors`, refusals reach the app's error handler, which answers
 * `err.status` with `{ forwarded: code }` and copies `err.headers`.
 */
export interface AdapterUnderTest {
  name: string;
  start(auth: ApiKeyAuth, options?: StartOptions): Promise<RunningApp>;
}

/**
 * `forwardErrors` for the routes; `handlerCopiesHeaders: false` makes the app's error handler
 * a catch-all that sets only a status and a body (copying `err.headers` is the default).
 */
export interface StartOptions extends Pick<RouteOptions, 'forwardErrors'> {
  handlerCopiesHeaders?: boolean;
}

type ExpressLike = typeof express5;

function expressAdapter(name: string, express: ExpressLike): AdapterUnderTest {
  return {
    name,
    async start(auth, { handlerCopiesHeaders = true, ...options } = {}) {
      const forwarded: unknown[] = [];
      const copied = (headers: Record<string, string> | undefined) => (handlerCopiesHeaders ? (headers ?? {}) : {});
      const app = express();
      const route = (keyType?: string) => expressApiKeyAuth(auth, { ...options, ...(keyType ? { keyType } : {}) });
      app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
      app.get('/v1/whoami', route(), (req, res) => { res.json({ apiKey: req.apiKey }); });
      app.post('/v1/sms', route('sms_api'), (req, res) => { res.status(202).json({ apiKey: req.apiKey }); });
      app.get('/v1/admin', route('admin_api'), (req, res) => { res.json({ apiKey: req.apiKey }); });
      app.use((error: { status?: number; code?: string; headers?: Record<string, string> }, _req: express5.Request, res: express5.Response, _next: express5.NextFunction) => {
        forwarded.push(error);
        res.status(error.status ?? 500).set(copied(error.headers)).json({ forwarded: error.code ?? 'unknown' });
      });
      return listen(app.listen(0, '127.0.0.1'), forwarded);
    },
  };
}

/** Resolves once the server listens, with its URL and a close that also drops keep-alives. */
/**
 * An app's own Koa error middleware that answers any thrown error with 500 and its `code` and
 * `message` as JSON, so a test can read which error a middleware threw.
 */
export const koaErrorAsJson: Middleware = async (ctx, next) => {
  try {
    await next();
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    ctx.status = 500;
    ctx.body = { code, message };
  }
};

export function listen(server: Server, forwarded: unknown[]): Promise<RunningApp> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        forwarded,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** The error a forwarding app's handler sees: an ApiKeyAuthError, or anything else thrown. */
interface ForwardedError {
  status?: number;
  code?: string;
  headers?: Record<string, string>;
}

type KoaLike = typeof Koa3;

/** Dispatches one method and path to a chain of Koa middleware (no router dependency). */
function koaRoute(method: string, path: string, ...chain: Middleware[]): Middleware {
  return (ctx, next) => {
    if (ctx.method !== method || ctx.path !== path) return next();
    const run = (index: number): Promise<unknown> =>
      index < chain.length ? Promise.resolve(chain[index]!(ctx, () => run(index + 1))) : next();
    return run(0);
  };
}

function koaAdapter(name: string, Koa: KoaLike): AdapterUnderTest {
  return {
    name,
    async start(auth, { handlerCopiesHeaders = true, ...options } = {}) {
      const forwarded: unknown[] = [];
      const copied = (headers: Record<string, string> | undefined) => (handlerCopiesHeaders ? (headers ?? {}) : {});
      const app = new Koa();
      const guard = (keyType?: string) => koaApiKeyAuth(auth, { ...options, ...(keyType ? { keyType } : {}) });
      // The common try/catch error middleware of Koa apps, upstream of everything.
      app.use(async (ctx, next) => {
        try {
          await next();
        } catch (caught) {
          const error = caught as ForwardedError;
          forwarded.push(error);
          ctx.status = error.status ?? 500;
          ctx.set(copied(error.headers));
          ctx.body = { forwarded: error.code ?? 'unknown' };
        }
      });
      app.use(koaRoute('GET', '/healthz', (ctx) => { ctx.body = { status: 'ok' }; }));
      app.use(koaRoute('GET', '/v1/whoami', guard(), (ctx) => { ctx.body = { apiKey: ctx.state.apiKey }; }));
      app.use(koaRoute('POST', '/v1/sms', guard('sms_api'), (ctx) => { ctx.status = 202; ctx.body = { apiKey: ctx.state.apiKey }; }));
      app.use(koaRoute('GET', '/v1/admin', guard('admin_api'), (ctx) => { ctx.body = { apiKey: ctx.state.apiKey }; }));
      return listen(createServer(app.callback()).listen(0, '127.0.0.1'), forwarded);
    },
  };
}

type FastifyLike = typeof fastify5;

/**
 * The same routes on Fastify, mounted all three ways: `/v1/whoami` and `/v1/admin` each in a
 * context with the plugin (so `/healthz` outside them stays open), `/v1/sms` with the route hook.
 */
function fastifyAdapter(name: string, fastify: FastifyLike): AdapterUnderTest {
  return {
    name,
    async start(auth, { handlerCopiesHeaders = true, ...options } = {}) {
      const forwarded: unknown[] = [];
      const copied = (headers: Record<string, string> | undefined) => (handlerCopiesHeaders ? (headers ?? {}) : {});
      const app = fastify();
      app.setErrorHandler((error: FastifyError & ForwardedError, _request, reply) => {
        forwarded.push(error);
        return reply.code(error.status ?? 500).headers(copied(error.headers)).send({ forwarded: error.code ?? 'unknown' });
      });
      app.get('/healthz', async () => ({ status: 'ok' }));
      app.register(async (v1) => {
        await v1.register(fastifyApiKeyAuth, { auth, ...options });
        v1.get('/v1/whoami', async (request) => ({ apiKey: request.apiKey }));
      });
      app.post(
        '/v1/sms',
        { onRequest: fastifyApiKeyAuthHook(auth, { ...options, keyType: 'sms_api' }) },
        async (request, reply) => reply.code(202).send({ apiKey: request.apiKey }),
      );
      app.register(async (admin) => {
        await admin.register(fastifyApiKeyAuth, { auth, ...options, keyType: 'admin_api' });
        admin.get('/v1/admin', async (request) => ({ apiKey: request.apiKey }));
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as AddressInfo;
      return {
        url: `http://127.0.0.1:${port}`,
        forwarded,
        close: async () => {
          app.server.closeAllConnections();
          await app.close();
        },
      };
    },
  };
}

export const express5Adapter = expressAdapter('express 5', express5);
export const express4Adapter = expressAdapter('express 4', express4 as unknown as ExpressLike);
export const koa3Adapter = koaAdapter('koa 3', Koa3);
export const koa2Adapter = koaAdapter('koa 2', Koa2);
export const fastify5Adapter = fastifyAdapter('fastify 5', fastify5);
export const fastify4Adapter = fastifyAdapter('fastify 4', fastify4 as unknown as FastifyLike);

/** Every adapter the conformance suites run against. */
export const ADAPTERS: readonly AdapterUnderTest[] = [
  express5Adapter,
  express4Adapter,
  koa3Adapter,
  koa2Adapter,
  fastify5Adapter,
  fastify4Adapter,
];
