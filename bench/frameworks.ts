/**
 * The HTTP frameworks the benchmark drives. Each serves one route, GET /v1/ping answering
 * `{"ok":true}`, in one of three forms:
 * - `bare`: no authentication at all (the ceiling);
 * - `keyward`: behind the framework's keyward adapter;
 * - `naive`: behind a hand-written check that runs hash-wasm's argon2Verify on every request;
 * - `floor`: behind a hand-written check that does only what the design cannot skip
 *   on a memo hit: the memo's HMAC of the presented key and one map lookup. No parse, no
 *   store, no status: the least any implementation of that design could add.
 *
 * To add a framework: add an entry to FRAMEWORKS with a `start` that mounts the three forms
 * (see express below); the benchmark picks it up for every HTTP measurement.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { argon2Verify } from 'hash-wasm';
import type { ApiKeyAuth, ApiKeyContext } from 'keyward';
import { ProcessHmacBlake2s } from '../src/hmac-blake2s.js';

export type RouteForm = 'bare' | 'keyward' | 'naive' | 'floor';

/** What a route form needs: the authenticator, for `naive` the one stored hash, for `floor` the key. */
export interface RouteSetup {
  auth: ApiKeyAuth;
  storedHash: string;
  key: string;
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

/**
 * The `floor` check: the memo's HMAC (keyward's own, two BLAKE2s blocks in JavaScript) of the
 * presented bearer token looked up in a map that holds the valid key's. Returns the context
 * a pass attaches, or undefined.
 */
function floorCheck(key: string): (authorization: string | undefined) => ApiKeyContext | undefined {
  const hmac = new ProcessHmacBlake2s();
  const context: ApiKeyContext = { keyId: 'key_bench', accountId: 'acct_bench', keyType: 'sms_api', environment: 'production' };
  const known = new Map([[hmac.digest(key), context]]);
  return (authorization) => (authorization === undefined ? undefined : known.get(hmac.digest(authorization.slice(7))));
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
  async start(form, { auth, storedHash, key }) {
    const { default: createApp } = await import('express');
    const { expressApiKeyAuth } = await import('keyward/express');
    const app = createApp();
    app.disable('x-powered-by');
    const send = (_req: unknown, res: import('express').Response) => {
      res.type('application/json').send(BODY);
    };
    if (form === 'bare') app.get('/v1/ping', send);
    if (form === 'keyward') app.get('/v1/ping', expressApiKeyAuth(auth), send);
    if (form === 'floor') {
      const check = floorCheck(key);
      app.get('/v1/ping', (req, res, next) => {
        const context = check(req.headers.authorization);
        if (context === undefined) return void res.status(401).end();
        req.apiKey = context;
        next();
      }, send);
    }
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
  async start(form, { auth, storedHash, key }) {
    const { default: Koa } = await import('koa');
    const { koaApiKeyAuth } = await import('keyward/koa');
    const app = new Koa();
    if (form === 'keyward') app.use(koaApiKeyAuth(auth));
    if (form === 'floor') {
      const check = floorCheck(key);
      app.use((ctx, next) => {
        const context = check(ctx.req.headers.authorization);
        if (context === undefined) return void (ctx.status = 401);
        ctx.state.apiKey = context;
        return next();
      });
    }
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
  async start(form, { auth, storedHash, key }) {
    const { default: Fastify } = await import('fastify');
    const { fastifyApiKeyAuthHook } = await import('keyward/fastify');
    const app = Fastify();
    const send = async (_request: unknown, reply: import('fastify').FastifyReply) => {
      reply.type('application/json');
      return BODY;
    };
    if (form === 'bare') app.get('/v1/ping', send);
    if (form === 'keyward') app.get('/v1/ping', { onRequest: fastifyApiKeyAuthHook(auth) }, send);
    if (form === 'floor') {
      const check = floorCheck(key);
      app.decorateRequest('apiKey', undefined);
      const onRequest = (request: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply, done: () => void) => {
        const context = check(request.raw.headers.authorization);
        if (context === undefined) return void reply.code(401).send();
        request.apiKey = context;
        done();
      };
      app.get('/v1/ping', { onRequest }, send);
    }
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
