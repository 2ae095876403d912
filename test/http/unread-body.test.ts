/**
 * A refusal of a request whose large body is still to come closes the connection: kept
 * alive, Node would read and throw away the whole body after answering, however large. A
 * small or complete body keeps the connection, since a new one costs the client more.
 */
import { connect as connectHttp2, createServer as createHttp2Server, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import express from 'express';
import fastify from 'fastify';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore, type ApiKeyAuth } from 'keyward';
import { expressBasicAuth } from 'keyward/express';
import { fastifyApiKeyAuth, fastifyApiKeyAuthHook, fastifyBasicAuth } from 'keyward/fastify';
import { koaApiKeyAuth, koaBasicAuth } from 'keyward/koa';
import { TEST_ARGON2 } from '../fixtures/argon2-vectors.js';
import { forgeSecret } from '../helpers/keys.js';
import { exchange } from '../helpers/raw-exchange.js';
import { ADAPTERS, listen, type RunningApp } from './apps.js';

const largeDeclared = (authorization: string) =>
  `POST /v1/sms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${authorization}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n`;
const chunked = (authorization: string) =>
  `POST /v1/sms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${authorization}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
const smallComplete = (authorization: string, length: number) =>
  `POST /v1/sms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${authorization}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

describe('refusals of requests with a body still to come', () => {
  const store = new MemoryKeyStore();
  let auth: ApiKeyAuth;
  let wrongKey: string;
  const apps = new Map<string, RunningApp>();

  beforeAll(async () => {
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_body', environment: 'sandbox', keyType: 'sms_api' });
    wrongKey = forgeSecret(key);
    auth = createApiKeyAuth({ store, argon2Pool: false });
    for (const adapter of ADAPTERS) apps.set(adapter.name, await adapter.start(auth));
  });

  afterAll(async () => {
    for (const app of apps.values()) await app.close();
    await auth.close();
  });

  it.each(ADAPTERS.map((adapter) => adapter.name))('%s closes the connection after refusing a request that declares 100 MB of body', async (name) => {
    const answer = await exchange(apps.get(name)!.url, Buffer.concat([Buffer.from(largeDeclared(`Bearer ${wrongKey}`)), Buffer.alloc(64 * 1024, 'x')]), 2);
    expect([answer.status, answer.headers.get('connection'), answer.answers, answer.closedByServer]).toEqual([401, 'close', 1, true]);
  });

  it('closes with the same head on every framework, header names, letter case and order included', async () => {
    const heads = new Set<string>();
    for (const app of apps.values()) {
      heads.add((await exchange(app.url, Buffer.concat([Buffer.from(largeDeclared(`Bearer ${wrongKey}`)), Buffer.alloc(1024, 'x')]), 2)).head);
    }
    expect([...heads]).toEqual([[...heads][0]]);
    expect([...heads][0]).toMatch(/\r\nconnection: close$/);
  });

  it.each(ADAPTERS.map((adapter) => adapter.name))('%s closes the connection after refusing a chunked request whose body has not ended', async (name) => {
    const answer = await exchange(apps.get(name)!.url, Buffer.from(`${chunked('Bearer sk_test_short')}4\r\n{"a"\r\n`), 2);
    expect([answer.status, answer.headers.get('connection'), answer.answers, answer.closedByServer]).toEqual([401, 'close', 1, true]);
  });

  it.each(ADAPTERS.map((adapter) => adapter.name))('%s keeps the connection after refusing a request with a small body: a second request on it is answered', async (name) => {
    const body = '{"to":"+15550100","text":"hi"}';
    const request = `${smallComplete(`Bearer ${wrongKey}`, body.length)}${body}`;
    const answer = await exchange(apps.get(name)!.url, Buffer.from(request + request), 2);
    expect([answer.status, answer.headers.get('connection'), answer.answers, answer.closedByServer]).toEqual([401, 'keep-alive', 2, false]);
  });
});

describe('refusals handed on with forwardErrors, with a large body still to come', () => {
  const store = new MemoryKeyStore();
  let auth: ApiKeyAuth;
  const apps = new Map<string, RunningApp>();

  beforeAll(async () => {
    auth = createApiKeyAuth({ store, argon2Pool: false });
    // The test apps' error handlers set the status and body themselves (and copy the error's
    // headers): the close header was set on the response before the error was handed on.
    for (const adapter of ADAPTERS) apps.set(adapter.name, await adapter.start(auth, { forwardErrors: true, handlerCopiesHeaders: false }));
  });

  afterAll(async () => {
    for (const app of apps.values()) await app.close();
    await auth.close();
  });

  it.each(ADAPTERS.map((adapter) => adapter.name))('%s closes the connection after its error handler answered', async (name) => {
    const answer = await exchange(apps.get(name)!.url, Buffer.concat([Buffer.from(largeDeclared('Bearer sk_test_short')), Buffer.alloc(1024, 'x')]), 2);
    expect([answer.status, answer.headers.get('connection'), answer.answers, answer.closedByServer]).toEqual([401, 'close', 1, true]);
  });
});

describe('webhook receivers refusing a request with a large body still to come', () => {
  const credentials = { username: 'hook-relay', password: 'correct horse battery staple' };
  const receivers: [string, () => Promise<RunningApp>][] = [
    ['express', () => {
      const app = express();
      app.post('/v1/sms', expressBasicAuth(credentials), (_req, res) => void res.sendStatus(204));
      return listen(app.listen(0, '127.0.0.1'), []);
    }],
    ['koa', () => {
      const app = new Koa();
      const guard = koaBasicAuth(credentials);
      app.use((ctx, next) => guard(ctx, async () => { ctx.status = 204; await next(); }));
      return listen(app.listen(0, '127.0.0.1'), []);
    }],
    ['fastify', async () => {
      const app = fastify();
      app.post('/v1/sms', { onRequest: fastifyBasicAuth(credentials) }, async (_request, reply) => reply.code(204).send());
      await app.listen({ port: 0, host: '127.0.0.1' });
      const address = app.server.address() as { port: number };
      return { url: `http://127.0.0.1:${address.port}`, forwarded: [], close: () => app.close() };
    }],
  ];

  it.each(receivers)('%s closes the connection after refusing wrong credentials', async (_name, start) => {
    const app = await start();
    try {
      const wrong = `Basic ${Buffer.from('hook-relay:wrong').toString('base64')}`;
      const answer = await exchange(app.url, Buffer.concat([Buffer.from(largeDeclared(wrong)), Buffer.alloc(64 * 1024, 'x')]), 2);
      expect([answer.status, answer.headers.get('connection'), answer.answers, answer.closedByServer]).toEqual([401, 'close', 1, true]);
    } finally {
      await app.close();
    }
  });
});

describe('refusals over HTTP/2, where flow control bounds an unread body', () => {
  it('fastify with http2 (the plugin) refuses a request declaring 100 MB without a connection header, which HTTP/2 forbids', async () => {
    const auth = createApiKeyAuth({ store: new MemoryKeyStore(), argon2Pool: false });
    const app = fastify({ http2: true });
    await app.register(fastifyApiKeyAuth, { auth });
    app.post('/v1/sms', async () => ({ sent: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const client = connectHttp2(`http://127.0.0.1:${port}`);
    try {
      const answer = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const stream = client.request({ ':method': 'POST', ':path': '/v1/sms', authorization: 'Bearer sk_test_short', 'content-length': '100000000' });
        stream.on('response', resolve);
        stream.on('error', reject);
        stream.write(Buffer.alloc(1024, 'x'));
      });
      expect([answer[':status'], answer.connection]).toEqual([401, undefined]);
    } finally {
      client.destroy();
      await app.close();
      await auth.close();
    }
  });

  it('fastify with http2 (the route hooks, no cast) refuses a wrong key or password with 401 and lets the right ones through', async () => {
    await expectKeyAndPasswordChecked('acct_h2', async (auth) => {
      const app = fastify({ http2: true });
      app.post('/v1/sms', { onRequest: fastifyApiKeyAuthHook(auth, { keyType: 'sms_api' }) }, async (request) => ({ account: request.apiKey?.accountId }));
      app.post('/hooks/in', { onRequest: fastifyBasicAuth(RELAY) }, async () => ({ received: true }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      return { port: (app.server.address() as { port: number }).port, close: () => app.close() };
    });
  });

  it('koa on node:http2 refuses a wrong key or password with 401 and lets the right ones through', async () => {
    await expectKeyAndPasswordChecked('acct_koa_h2', async (auth) => {
      const app = new Koa();
      const guardKey = koaApiKeyAuth(auth, { keyType: 'sms_api' });
      const guardHook = koaBasicAuth(RELAY);
      app.use((ctx, next) => (ctx.path === '/hooks/in' ? guardHook(ctx, next) : guardKey(ctx, next)));
      app.use((ctx) => {
        ctx.body = ctx.path === '/hooks/in' ? { received: true } : { account: ctx.state.apiKey?.accountId };
      });
      const server = createHttp2Server(app.callback());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { port: (server.address() as { port: number }).port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
    });
  });
});

/** The Basic-auth credentials the HTTP/2 receivers expect. */
const RELAY = { username: 'hook-relay', password: 'correct horse battery staple' };

/**
 * Starts an HTTP/2 server (`start`) that guards POST /v1/sms with a key of type sms_api and
 * POST /hooks/in with {@link RELAY}, and checks that a forged key and a wrong password get 401
 * with their challenge while the right ones pass.
 */
async function expectKeyAndPasswordChecked(accountId: string, start: (auth: ApiKeyAuth) => Promise<{ port: number; close(): Promise<unknown> }>): Promise<void> {
  const store = new MemoryKeyStore();
  const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId, environment: 'sandbox', keyType: 'sms_api' });
  const auth = createApiKeyAuth({ store, argon2Pool: false });
  const server = await start(auth);
  const client = connectHttp2(`http://127.0.0.1:${server.port}`);
  const basic = (password: string) => `Basic ${Buffer.from(`${RELAY.username}:${password}`).toString('base64')}`;
  try {
    const answers = [
      await http2Post(client, '/v1/sms', { authorization: `Bearer ${forgeSecret(key)}` }),
      await http2Post(client, '/v1/sms', { authorization: `Bearer ${key}` }),
      await http2Post(client, '/hooks/in', { authorization: basic('wrong') }),
      await http2Post(client, '/hooks/in', { authorization: basic(RELAY.password) }),
    ];
    expect(answers.map(({ status, challenge, body }) => [status, challenge?.split(' ')[0], status === 401 ? JSON.parse(body).error.code : body])).toEqual([
      [401, 'Bearer', 'ERR_API_KEY_INVALID'],
      [200, undefined, `{"account":"${accountId}"}`],
      [401, 'Basic', 'ERR_BASIC_AUTH_INVALID'],
      [200, undefined, '{"received":true}'],
    ]);
  } finally {
    client.destroy();
    await server.close();
    await auth.close();
  }
}

/** Sends a small JSON POST on an HTTP/2 session: the status, the challenge and the body that came back. */
function http2Post(client: ClientHttp2Session, path: string, headers: OutgoingHttpHeaders): Promise<{ status: number; challenge: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json', ...headers });
    const chunks: Buffer[] = [];
    let head: Record<string, unknown> = {};
    stream.on('response', (received) => (head = received));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ status: Number(head[':status']), challenge: head['www-authenticate'] as string | undefined, body: Buffer.concat(chunks).toString() }));
    stream.on('error', reject);
    stream.end('{"to":"+15550100"}');
  });
}
