/**
 * The HTTP frameworks the benchmark drives. Each serves one route, GET /v1/ping answering
 * `{"ok":true}`, in one of three forms:
 * - `bare`: no authentication at all (the ceiling);
 * - `keyward`: behind the framework's keyward adapter;
 * - `naive`: behind a hand-written check that runs hash-wasm's argon2Verify on every request.
 *
 * To add a framework: add an entry to FRAMEWORKS with a `start` that mounts the three forms
 * (see express below); the benchmark picks it up for every HTTP measurement.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { argon2Verify } from 'hash-wasm';
import type { ApiKeyAuth } from 'keyward';

export type RouteForm = 'bare' | 'keyward' | 'naive';

/** What a route form needs: the authenticator, and for `naive` the one stored hash. */
export interface RouteSetup {
  auth: ApiKeyAuth;
  storedHash: string;
}

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

export interface FrameworkBench {
  name: string;
  start(form: RouteForm, setup: RouteSetup): Promise<RunningServer>;
}

const BODY = JSON.stringify({ ok: true });

/**
 * The naive check: the secret is the 32 characters before the 6-character checksum. It
 * skips everything keyward does (format, store, status) and keeps only the Argon2 verify,
 * which is what dominates its cost.
 */
export async function naiveVerify(authorization: string | undefined, storedHash: string): Promise<boolean> {
  const key = authorization?.startsWith('Bearer ') ? authorization.slice(7) : '';
  if (key.length < 38) return false;
  return argon2Verify({ password: key.slice(-38, -6), hash: storedHash });
}

async function listen(server: Server): Promise<RunningServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const express: FrameworkBench = {
  name: 'express',
  async start(form, { auth, storedHash }) {
    const { default: createApp } = await import('express');
    const { expressApiKeyAuth } = await import('keyward/express');
    const app = createApp();
    app.disable('x-powered-by');
    const send = (_req: unknown, res: import('express').Response) => {
      res.type('application/json').send(BODY);
    };
    if (form === 'bare') app.get('/v1/ping', send);
    if (form === 'keyward') app.get('/v1/ping', expressApiKeyAuth(auth), send);
    if (form === 'naive') {
      app.get('/v1/ping', (req, res, next) => {
        naiveVerify(req.headers.authorization, storedHash).then(
          (ok) => (ok ? next() : res.status(401).end()),
          next,
        );
      }, send);
    }
    return listen(createServer(app));
  },
};

const koa: FrameworkBench = {
  name: 'koa',
  async start(form, { auth, storedHash }) {
    const { default: Koa } = await import('koa');
    const { koaApiKeyAuth } = await import('keyward/koa');
    const app = new Koa();
    if (form === 'keyward') app.use(koaApiKeyAuth(auth));
    if (form === 'naive') {
      app.use(async (ctx, next) => {
        if (await naiveVerify(ctx.get('authorization'), storedHash)) return next();
        ctx.status = 401;
      });
    }
    app.use((ctx) => {
      if (ctx.path !== '/v1/ping') return;
      ctx.type = 'application/json';
      ctx.body = BODY;
    });
    return listen(createServer(app.callback()));
  },
};

const fastify: FrameworkBench = {
  name: 'fastify',
  async start(form, { auth, storedHash }) {
    const { default: Fastify } = await import('fastify');
    const { fastifyApiKeyAuthHook } = await import('keyward/fastify');
    const app = Fastify();
    const send = async (_request: unknown, reply: import('fastify').FastifyReply) => {
      reply.type('application/json');
      return BODY;
    };
    if (form === 'bare') app.get('/v1/ping', send);
    if (form === 'keyward') app.get('/v1/ping', { onRequest: fastifyApiKeyAuthHook(auth) }, send);
    if (form === 'naive') {
      const onRequest = async (request: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) => {
        if (!(await naiveVerify(request.headers.authorization, storedHash))) await reply.code(401).send();
      };
      app.get('/v1/ping', { onRequest }, send);
    }
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
  },
};

export const FRAMEWORKS: readonly FrameworkBench[] = [express, koa, fastify];
