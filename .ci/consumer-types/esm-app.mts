// An ES-module app that uses every entry point of keyward the way the README shows, compiled
// by `tsc -p .ci/consumer-types` (part of `npm run lint:package`) with --strict and
// --exactOptionalPropertyTypes against dist/*.d.ts. Each block is the README's code as it
// stands; what the README leaves to the app (handlers, a router, a logger) is declared here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import Fastify, { type RouteHandlerMethod } from 'fastify';
import Koa, { type Middleware } from 'koa';
import pg from 'pg';
import pino from 'pino';
import { describe, it } from 'node:test';
import {
  ApiKeyAuthError,
  createApiKeyAuth,
  createBasicAuthChecker,
  createKeyManager,
  defaultErrorBody,
  isPendingDecision,
  MemoryKeyStore,
  NodeCredentialRequest,
  type ApiKeyAuth,
  type ApiKeyContext,
  type AuthResult,
  type Logger,
} from 'keyward';
import { expressApiKeyAuth, expressBasicAuth } from 'keyward/express';
import { fastifyApiKeyAuth, fastifyApiKeyAuthHook, fastifyBasicAuth } from 'keyward/fastify';
import { koaApiKeyAuth, koaBasicAuth } from 'keyward/koa';
import { PostgresKeyStore } from 'keyward/postgres';
import { runStoreConformance } from 'keyward/store-conformance';

declare const send: express.RequestHandler & Middleware & RouteHandlerMethod;
declare const receive: express.RequestHandler & Middleware & RouteHandlerMethod;
declare const whoami: RouteHandlerMethod;
declare const router: { post(path: string, ...middleware: Middleware[]): unknown };
declare const bodyParser: () => Middleware;
declare const formPassword: string;
declare const receipt: unknown;
declare const log: pino.Logger;

// "Express, Koa or Fastify"
const store = new MemoryKeyStore(); // or PostgresKeyStore, or your own KeyStore
const auth = createApiKeyAuth({ store });

{
  const app = express();
  app.post('/v1/sms', expressApiKeyAuth(auth, { keyType: 'sms_api' }), express.json(), send);
  app.get('/v1/whoami', expressApiKeyAuth(auth), (req, res) => {
    const context: ApiKeyContext | undefined = req.apiKey;
    res.json({ account: context?.accountId });
  });
  // A path parameter keeps the type Express takes from the path (a string), behind either middleware.
  app.get('/v1/accounts/:accountId/sms', expressApiKeyAuth(auth), (req, res) => {
    const accountId: string = req.params.accountId;
    res.json({ accountId, key: req.apiKey?.keyId });
  });
  app.post('/hooks/:source', expressBasicAuth({ username: 'hook-relay', password: process.env.HOOK_PASSWORD! }), (req, res) => {
    const source: string = req.params.source;
    res.json({ source });
  });
  // "Receiving deliveries"
  app.post('/hooks/in', expressBasicAuth({ username: 'hook-relay', password: process.env.HOOK_PASSWORD! }), express.json(), receive);
}

{
  router.post('/v1/sms', koaApiKeyAuth(auth, { keyType: 'sms_api' }), bodyParser(), send);
  router.post('/hooks/in', koaBasicAuth({ username: 'hook-relay', password: process.env.HOOK_PASSWORD! }), receive);
  const app = new Koa();
  app.use(koaApiKeyAuth(auth));
  app.use((ctx) => {
    const context: ApiKeyContext | undefined = ctx.state.apiKey;
    ctx.body = { account: context?.accountId };
  });
}

{
  const app = Fastify();
  app.register(async (v1) => {
    await v1.register(fastifyApiKeyAuth, { auth, keyType: 'sms_api' });
    v1.post('/v1/sms', send); // guarded; routes outside this plugin are not
  });
  app.get('/v1/whoami', { onRequest: fastifyApiKeyAuthHook(auth) }, whoami);
  app.get('/v1/me', { preHandler: fastifyApiKeyAuthHook(auth, { forwardErrors: true }) }, async (request) => {
    const context: ApiKeyContext | undefined = request.apiKey;
    return { account: context?.accountId };
  });
  app.post('/hooks/in', { onRequest: fastifyBasicAuth({ username: 'hook-relay', password: process.env.HOOK_PASSWORD! }) }, receive);

  // "Shutting down", Fastify
  process.once('SIGTERM', async () => {
    const deadline = setTimeout(() => app.server.closeAllConnections(), 10_000).unref();
    await app.close();
    clearTimeout(deadline);
    await auth.close();
  });
}

// "Express, Koa or Fastify": an instance made with http2: true takes the hooks as they are.
{
  const h2 = Fastify({ http2: true });
  h2.get('/v1/whoami', { onRequest: fastifyApiKeyAuthHook(auth) }, async (request) => ({ account: request.apiKey?.accountId }));
  h2.post('/hooks/in', { onRequest: fastifyBasicAuth({ username: 'hook-relay', password: process.env.HOOK_PASSWORD! }) }, async () => ({ received: true }));
}

// "Shutting down", Express or Koa: app.listen() returns a node:http Server.
{
  const app = express();
  const server = app.listen(3000, '127.0.0.1');
  process.once('SIGTERM', async () => {
    const deadline = setTimeout(() => server.closeAllConnections(), 10_000).unref();
    await new Promise((done) => server.close(done)); // called back once open connections end
    clearTimeout(deadline);
    await auth.close();
  });
}

// "Another framework: decide() and authenticate()"
export function guard(req: IncomingMessage, res: ServerResponse, next: () => void) {
  const finish = (result: AuthResult) => {
    if (result.ok === true) return next(); // result.context: keyId, accountId, keyType, environment
    res.writeHead(result.response.status, result.response.headers);
    res.end(result.response.body);
  };
  const decided = auth.decide(new NodeCredentialRequest(req, req.url));
  if (!isPendingDecision(decided)) return finish(decided);
  Promise.resolve(decided).then(finish).catch(() => {
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
}

export async function authenticateWithIp(req: IncomingMessage, framework: { ip?: string | undefined }): Promise<AuthResult> {
  return auth.authenticate(new NodeCredentialRequest(req, req.url, framework), { keyType: 'sms_api' });
}

// "Letting your error handling answer: forwardErrors", Fastify's handler
{
  const app = Fastify();
  app.setErrorHandler((error, request, reply) => {
    if (!(error instanceof ApiKeyAuthError)) throw error; // your own handling, or Fastify's default
    if (!error.expose) request.log.error(error);
    return reply.code(error.status).send(defaultErrorBody(error));
  });
}

// "A body of your own: errorBody"
createApiKeyAuth({
  store,
  errorBody: (error) =>
    error.expose
      ? { code: error.code, detail: error.message, key_status: error.keyStatus }
      : defaultErrorBody(error), // {"error":{"code":"ERR_INTERNAL","message":"Internal server error."}}
});

// "Attempt throttling": the client address from the load balancer's header.
createApiKeyAuth({
  store,
  clientAddress: (request) => {
    const forwarded = request.headers['x-forwarded-for'];
    const last = typeof forwarded === 'string' ? forwarded.split(',').at(-1)?.trim() : undefined;
    return last || request.remoteAddress;
  },
});

// "Performance"
createApiKeyAuth({ store, argon2Pool: { threads: 3, maxQueue: 48, niceIncrement: 10 } });

// Options an app works out at startup are often undefined: with exactOptionalPropertyTypes,
// keyward's optional options must still take them.
const env = process.env;
const maybeLogger: Logger | undefined = env.LOG === '1' ? pino() : undefined;
const maybeKeyType: string | undefined = env.KEY_TYPE;
const maybeNumber: number | undefined = env.LIMIT === undefined ? undefined : Number(env.LIMIT);
const maybeFlag: boolean | undefined = env.FLAG === undefined ? undefined : env.FLAG === '1';
createApiKeyAuth({
  store,
  realm: env.REALM,
  queryParameter: env.QUERY_PARAMETER,
  storeTimeoutMs: maybeNumber,
  memo: { maxEntries: maybeNumber, maxBytes: maybeNumber },
  argon2Pool: { threads: maybeNumber },
  throttle: { maxFailuresPerKey: maybeNumber, ipv6PrefixLength: maybeNumber },
  logger: maybeLogger,
  onDecision: undefined,
  rehashOnSuccess: maybeFlag,
});
createApiKeyAuth({ store, logger: { warn: maybeLogger?.warn, error: console.error } });
createApiKeyAuth({ store, logger: Fastify().log });
expressApiKeyAuth(auth, { keyType: maybeKeyType, forwardErrors: maybeFlag });
koaApiKeyAuth(auth, { keyType: maybeKeyType });
fastifyApiKeyAuthHook(auth, { keyType: maybeKeyType });
createBasicAuthChecker({ username: 'hook-relay', password: 'p', realm: env.REALM, forwardErrors: maybeFlag });
new ApiKeyAuthError('ERR_INTERNAL', 'failed', { status: maybeNumber, headers: undefined, keyStatus: undefined });
export const withDefaults: ApiKeyAuth = createApiKeyAuth({ store, throttle: undefined, pepper: undefined });

// "Key lifecycle"
{
  const manager = createKeyManager({ store, defaultKeyType: maybeKeyType, clock: undefined });
  const { card } = await manager.issue({ accountId: 'acct_42', environment: 'production', keyType: maybeKeyType, expiresAt: undefined });
  await manager.describe(card.keyId);
  await manager.describeAccount('acct_42', 'production'); // null = the empty state
  await manager.regenerate(card.keyId);
  await manager.setStatus(card.keyId, 'suspended');
  await manager.revoke(card.keyId);
}

// "Webhook settings" and "Sending a delivery"
{
  const manager = createKeyManager({
    store,
    webhookKeys: {
      current: 'k2',
      keys: {
        k1: Buffer.from(process.env.WEBHOOK_KEY_K1!, 'base64'), // still opens older values
        k2: Buffer.from(process.env.WEBHOOK_KEY_K2!, 'base64'), // seals new ones
      },
    },
  });
  const keyId = 'key_1X6jmiEOvoMUK4FsM2tm';
  const card = await manager.setWebhook(keyId, {
    url: 'https://hooks.merchant.example/keyward',
    username: 'hook-relay',
    password: formPassword, // a string sets it, null clears it, leaving it out keeps it
  });
  void card.webhook;
  await manager.setWebhook(keyId, { url: 'https://hooks.merchant.example/keyward', username: env.HOOK_USER, password: undefined });
  await manager.clearWebhook(keyId);

  const row = await store.findById(keyId);
  const authorization = await manager.webhookAuthorization(row!); // null when no password is set
  await fetch(row!.webhook_url!, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(receipt),
  });
}

// "PostgreSQL"
{
  const pool = new pg.Pool({
    connectionString: process.env.DATABASE_URL,
    connectionTimeoutMillis: 1_000, // required: bounds the wait for a connection
  });
  pool.on('error', (error) => log.warn({ error }, 'idle PostgreSQL connection lost'));

  const store = new PostgresKeyStore({ pool, statementTimeoutMs: 1_000, table: env.TABLE, logger: maybeLogger });
  await store.migrate(); // creates the table and indexes if missing

  createApiKeyAuth({ store });
  createKeyManager({ store });
}

// "Checking your own store", with node:test's describe and it
runStoreConformance({ describe, it }, {
  name: 'MemoryKeyStore',
  createStore: () => new MemoryKeyStore(),
  disposeStore: undefined,
  readAllRows: (store) => store.allRows(),
  raceRounds: maybeNumber,
});
