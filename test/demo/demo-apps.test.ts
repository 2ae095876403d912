/**
 * The demo gateway on Express, Koa and Fastify answers every request of one matrix alike:
 * keys, bodies the parser refuses, unknown routes. Express is the reference.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore, type ApiKeyAuth } from 'keyward';
import { listenExpressDemo } from '../../examples/demo/express-app.js';
import { listenFastifyDemo } from '../../examples/demo/fastify-app.js';
import { listenKoaDemo } from '../../examples/demo/koa-app.js';
import { compressedBody, unknownTransferCoding } from '../../examples/demo/sms.js';
import { comparable, send, sendRaw, type ClientResponse } from '../helpers/http-client.js';
import { TEST_ARGON2 } from '../fixtures/argon2-vectors.js';
import { exchange } from '../helpers/raw-exchange.js';

const DEMOS = { express: listenExpressDemo, koa: listenKoaDemo, fastify: listenFastifyDemo };

interface DemoRequest {
  name: string;
  status: number;
  method?: string;
  path: string;
  key?: 'allowed' | 'suspended' | 'other_type';
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The error message the answer must carry, where the status alone does not tell. */
  message?: string;
}

const json = { 'content-type': 'application/json' };
const sms = (body: string | Buffer, status: number, name: string, headers: Record<string, string> = json): DemoRequest => ({
  name,
  status,
  method: 'POST',
  path: '/v1/sms',
  key: 'allowed',
  headers,
  body,
});

const NOT_UTF8 = 'The request body must be UTF-8 text.';

const MATRIX: DemoRequest[] = [
  { name: 'the health check', status: 200, path: '/healthz' },
  { name: 'whoami with the allowed key', status: 200, path: '/v1/whoami', key: 'allowed' },
  { name: 'whoami with a trailing slash and capitals', status: 200, path: '/V1/WhoAmI/', key: 'allowed' },
  { name: 'whoami without a key', status: 401, path: '/v1/whoami' },
  { name: 'whoami with a suspended key', status: 403, path: '/v1/whoami', key: 'suspended' },
  { name: 'an SMS with a key of another type', status: 403, method: 'POST', path: '/v1/sms', key: 'other_type', headers: json, body: '{}' },
  { name: 'an SMS without a key and a body that is not JSON', status: 401, method: 'POST', path: '/v1/sms', headers: json, body: '{oops' },
  sms('{"to":"+15550100","body":"hello"}', 202, 'a valid SMS'),
  sms('{oops', 400, 'an SMS body that is not JSON'),
  sms('"just a string"', 400, 'an SMS body that is a bare JSON string'),
  sms('', 400, 'an empty SMS body'),
  sms('{"to":"555","body":"hello"}', 400, 'an SMS to a bad number'),
  sms('{"to":"+15550100","body":""}', 400, 'an empty SMS text'),
  // Decoded, the bad bytes would become U+FFFD and another message would be queued (202).
  { ...sms(Buffer.concat([Buffer.from('{"to":"+15550100","body":"h'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), 400, 'an SMS body whose bytes are not UTF-8'), message: NOT_UTF8 },
  { ...sms(Buffer.from('{"to":"+15550100","body":"caf\xe9"}', 'latin1'), 400, 'an SMS body in Latin-1 sent as UTF-8'), message: NOT_UTF8 },
  sms('{"to":"+15550100","body":"caf\u00e9 \ud83d\udce8"}', 202, 'an SMS body of UTF-8 beyond ASCII'),
  { ...sms('{"to":"+15550100","body":"\\ud800"}', 400, 'an SMS text holding a lone surrogate as a JSON escape'), message: '"body" must be well-formed Unicode text: a lone surrogate (an escape from \\ud800 to \\udfff without its pair) is not.' },
  { ...sms('{"to":"+15550100","body":"a\\udc00b"}', 400, 'an SMS text holding a lone low surrogate'), message: '"body" must be well-formed Unicode text: a lone surrogate (an escape from \\ud800 to \\udfff without its pair) is not.' },
  sms(JSON.stringify({ to: '+15550100', body: 'a\u{1fffe}' }), 400, 'an SMS text with a noncharacter beyond the first plane (U+1FFFE)'),
  sms(JSON.stringify({ to: '+15550100', body: 'a\u{10ffff}' }), 400, 'an SMS text with the last code point (U+10FFFF), a noncharacter'),
  sms(JSON.stringify({ to: '+15550100', body: 'a\ufdd0' }), 400, 'an SMS text with a noncharacter of the U+FDD0 block'),
  ...['null', '5', '"x"', 'true', '[]', '[{"to":"+15550100","body":"hello"}]'].map((json) => ({ ...sms(json, 400, `a JSON ${json} as the SMS body, which is no object`), message: 'The request body must be a JSON object, such as {"to":"+15550100","body":"hello"}.' })),
  sms(JSON.stringify({ to: '+15550100', body: '\u{1f4e8}'.repeat(1_600) }), 202, 'an SMS text of 1,600 emoji, each one character'),
  sms(JSON.stringify({ to: '+15550100', body: '\u{1f468}\u200d\u{1f469}\u200d\u{1f467}'.repeat(400) }), 202, 'an SMS text of 400 family emoji, each one character of five code points'),
  sms(JSON.stringify({ to: '+15550100', body: 'e\u0301'.repeat(1_600) }), 202, 'an SMS text of 1,600 letters with a combining accent'),
  sms(JSON.stringify({ to: '+15550100', body: ' \n\t ' }), 400, 'an SMS text of white space only'),
  sms(JSON.stringify({ to: '+15550100', body: 'pay \u202eevil' }), 400, 'an SMS text with a bidirectional override'),
  sms(JSON.stringify({ to: '+15550100', body: 'nul\u0000here' }), 400, 'an SMS text with a NUL'),
  sms(JSON.stringify({ to: '+15550100', body: 'line one\nline two\tend' }), 202, 'an SMS text with a line break and a tab'),
  sms(JSON.stringify({ to: '+15550100', body: 'x'.repeat(1_601) }), 400, 'an SMS text of 1,601 characters'),
  sms(JSON.stringify({ to: '+15550100', body: 'x'.repeat(20_000) }), 413, 'an SMS body over 16 KiB'),
  sms('to=+15550100', 415, 'a form-encoded SMS body', { 'content-type': 'application/x-www-form-urlencoded' }),
  sms('{"to":"+15550100","body":"hello"}', 415, 'a JSON SMS body sent as text/plain', { 'content-type': 'text/plain' }),
  sms('{"to":"+15550100","body":"hello"}', 415, 'an SMS body without a content type', {}),
  sms('{"to":"+15550100","body":"hello"}', 415, 'an SMS body with an empty Content-Type', { 'content-type': '' }),
  sms('{"to":"+15550100","body":"hello"}', 415, 'an SMS body with a Content-Type of only semicolons', { 'content-type': ';;;' }),
  sms('{"to":"+15550100","body":"hello"}', 415, 'an SMS body with a Content-Type that lists two types', { 'content-type': 'application/json, text/plain' }),
  sms('{"to":"+15550100","body":"hello"}', 415, 'an SMS body said to be gzip', { ...json, 'content-encoding': 'gzip' }),
  sms('{"to":"+15550100","body":"hello"}', 415, 'an SMS body in an encoding nobody knows', { ...json, 'content-encoding': 'x-foo' }),
  sms('{"to":"+15550100","body":"hello"}', 202, 'an SMS body said to be identity-encoded', { ...json, 'content-encoding': 'Identity' }),
  sms('{"to":"+15550100","body":"hello"}', 202, 'an SMS body with an empty Content-Encoding', { ...json, 'content-encoding': '' }),
  sms('{"to":"+15550100","body":"hello"}', 202, 'an SMS body with a blank Content-Encoding', { ...json, 'content-encoding': ' ' }),
  sms('{"to":"+15550100","body":"hello"}', 415, 'an SMS body said to be identity, then gzip', { ...json, 'content-encoding': 'identity, gzip' }),
  { name: 'an unknown path', status: 404, path: '/v1/nothing', key: 'allowed' },
  { name: 'a GET on the SMS route', status: 404, path: '/v1/sms', key: 'allowed' },
];

/** The base URL of a demo server listening on 127.0.0.1. */
function urlOf(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Status, headers and body, with the random message id replaced. */
function normalized(response: ClientResponse) {
  return { ...comparable(response), body: response.body.replace(/"msg_[0-9a-f]{32}"/, '"msg_…"') };
}

describe('the demo gateway on every framework', () => {
  const servers = new Map<string, Server>();
  const keys: Record<string, string> = {};
  let auth: ApiKeyAuth;

  beforeAll(async () => {
    const store = new MemoryKeyStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    auth = createApiKeyAuth({ store });
    keys.allowed = (await manager.issue({ accountId: 'acct_a', environment: 'sandbox' })).key;
    keys.suspended = (await manager.issue({ accountId: 'acct_s', environment: 'sandbox', status: 'suspended' })).key;
    keys.other_type = (await manager.issue({ accountId: 'acct_o', environment: 'sandbox', keyType: 'admin_api' })).key;
    for (const [name, listen] of Object.entries(DEMOS)) servers.set(name, await listen(auth, 0, '127.0.0.1'));
  });

  afterAll(async () => {
    for (const server of servers.values()) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await auth.close();
  });

  it.each(MATRIX)('answers $name like the Express demo', async (request) => {
    const answers: Record<string, ReturnType<typeof normalized>> = {};
    for (const [name, server] of servers) {
      const headers = { ...request.headers, ...(request.key ? { authorization: `Bearer ${keys[request.key]}` } : {}) };
      const response = await send(urlOf(server), request.path, { method: request.method ?? 'GET', headers, body: request.body });
      answers[name] = normalized(response);
    }
    expect(answers.express!.status).toBe(request.status);
    if (request.message !== undefined) expect(JSON.parse(answers.express!.body).error.message).toBe(request.message);
    // Every answer, a success to a keyed request too, is kept out of caches.
    expect(answers.express!.headers['cache-control']).toBe('no-store');
    expect(answers.koa).toEqual(answers.express);
    expect(answers.fastify).toEqual(answers.express);
  });

  it('answers a path that cannot be decoded with the 404 of an unknown route, never quoting the URL and a key in its query', async () => {
    const answers: Record<string, ReturnType<typeof normalized>> = {};
    for (const [name, server] of servers) {
      answers[name] = normalized(await send(urlOf(server), `/v1/whoami%ZZ?api_key=${keys.allowed}`, { method: 'GET', headers: {} }));
    }
    expect([answers.express!.status, JSON.parse(answers.express!.body)]).toEqual([404, { error: { code: 'ERR_NOT_FOUND', message: 'No such route.' } }]);
    expect(answers.koa).toEqual(answers.express);
    expect(answers.fastify).toEqual(answers.express);
  });

  // The framework's own parsers draw these lines (the README lists both differences).
  it.each([
    ['a JSON body in a charset other than UTF-8', { 'content-type': 'application/json; charset=latin1' }, '{"to":"+15550100","body":"hello"}', { express: 415, koa: 202, fastify: 202 }],
    ['a JSON body led by a byte-order mark', json, '\ufeff{"to":"+15550100","body":"hello"}', { express: 202, koa: 400, fastify: 400 }],
    // Express's parser decodes by the declared charset; Koa's and Fastify's demos read UTF-8 always.
    ['a JSON body in UTF-16, declared so', { 'content-type': 'application/json; charset=utf-16le' }, Buffer.from('{"to":"+15550100","body":"caf\u00e9"}', 'utf16le'), { express: 415, koa: 400, fastify: 400 }],
    ['an ASCII JSON body in UTF-16, declared so', { 'content-type': 'application/json; charset=utf-16le' }, Buffer.from('{"to":"+15550100","body":"hello"}', 'utf16le'), { express: 415, koa: 400, fastify: 400 }],
  ])('answers %s as the README says each framework does', async (_name, headers, body, expected) => {
    const statuses: Record<string, number> = {};
    for (const [name, server] of servers) {
      const response = await send(urlOf(server), '/v1/sms', { method: 'POST', headers: { ...headers, authorization: `Bearer ${keys.allowed}` }, body });
      statuses[name] = response.status;
    }
    expect(statuses).toEqual(expected);
  });

  // Kept alive, the connection would have Node read and throw away the whole declared body
  // after the refusal: the demo closes it when keyward's own refusals would.
  const smsHead = (headers: string, contentType = 'application/json') =>
    `POST /v1/sms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${keys.allowed}\r\nContent-Type: ${contentType}\r\n${headers}\r\n`;
  const largeDeclared: { status: number; name: string; headers: string; contentType?: string }[] = [
    { status: 415, name: 'a gzip body', headers: 'Content-Encoding: gzip\r\nContent-Length: 200000000\r\n' },
    { status: 413, name: 'a body over 16 KiB', headers: 'Content-Length: 200000000\r\n' },
    { status: 415, name: 'a body that is not JSON', headers: 'Content-Length: 200000000\r\n', contentType: 'text/plain' },
  ];
  it.each(Object.keys(DEMOS).flatMap((framework) => largeDeclared.map((request) => ({ framework, ...request }))))(
    '$framework answers $status to $name declared 200 MB, of which 1 KB came, and closes the connection',
    async ({ framework, status, headers, contentType }) => {
      const answer = await exchange(urlOf(servers.get(framework)!), Buffer.concat([Buffer.from(smsHead(headers, contentType)), Buffer.alloc(1024, 'x')]), 2);
      expect([answer.status, answer.headers.get('connection'), answer.answers, answer.closedByServer]).toEqual([status, 'close', 1, true]);
    },
  );

  // Not only refusals: any answer that leaves a large body unread, on a route that asks for no
  // key too, would otherwise have Node drain the whole body.
  const unreadOnOpenRoutes = [
    { status: 404, name: 'an unknown route', head: () => 'POST /nowhere HTTP/1.1\r\n' },
    { status: 200, name: 'the health check', head: () => 'GET /healthz HTTP/1.1\r\n' },
    { status: 200, name: 'whoami with the allowed key', head: () => `GET /v1/whoami HTTP/1.1\r\nAuthorization: Bearer ${keys.allowed}\r\n` },
  ];
  it.each(Object.keys(DEMOS).flatMap((framework) => unreadOnOpenRoutes.map((request) => ({ framework, ...request }))))(
    '$framework answers $status to $name with a body declared 200 MB, of which 1 KB came, and closes the connection',
    async ({ framework, status, head }) => {
      const request = `${head()}Host: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 200000000\r\n\r\n`;
      const answer = await exchange(urlOf(servers.get(framework)!), Buffer.concat([Buffer.from(request), Buffer.alloc(1024, 'x')]), 2);
      expect([answer.status, answer.headers.get('connection'), answer.answers, answer.closedByServer]).toEqual([status, 'close', 1, true]);
    },
  );

  // An unknown route's 404 reads the body on Fastify (see the README), under the same limit.
  it.each([
    [20_000, 413],
    [10_000, 404],
  ])('Fastify reads at most 16 KiB of a JSON body sent whole to an unknown route: %i bytes get %i', async (size, status) => {
    const body = JSON.stringify({ padding: 'x'.repeat(size) });
    const response = await send(urlOf(servers.get('fastify')!), '/nowhere', { method: 'POST', headers: json, body });

    expect(response.status).toBe(status);
  });

  /**
   * Sends one SMS request written raw (its head up to the framing, which `rest` adds) to every
   * framework's demo, and checks that all three answer alike: `status` with `error` as body.
   */
  async function expectRawSmsAnsweredAlike(rest: string, status: number, error: { code: string; message: string }) {
    const answers: Record<string, ReturnType<typeof normalized>> = {};
    for (const [name, server] of servers) {
      const request = `POST /v1/sms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${keys.allowed}\r\nContent-Type: application/json\r\nConnection: close\r\n${rest}`;
      answers[name] = normalized(await sendRaw(urlOf(server), Buffer.from(request)));
    }
    expect([answers.express!.status, JSON.parse(answers.express!.body)]).toEqual([status, { error }]);
    expect(answers.koa).toEqual(answers.express);
    expect(answers.fastify).toEqual(answers.express);
  }

  // Node's client always frames a POST, so the request without a body is written raw.
  it.each(['', 'Content-Length: 0\r\n'])('answers a JSON request with no body (framing %j) as an empty body, 400, on every framework', async (framing) => {
    await expectRawSmsAnsweredAlike(`${framing}\r\n`, 400, { code: 'ERR_INVALID_REQUEST', message: '"to" must be a phone number such as +15550100.' });
  });

  // Node's parser takes the chunks apart and hands the gzip bytes on as they came.
  it.each(['gzip, chunked', 'deflate, chunked'])('answers 501 to a body whose Transfer-Encoding is %j, on every framework', async (coding) => {
    const body = '{"to":"+15550100","body":"hello"}';
    await expectRawSmsAnsweredAlike(`Transfer-Encoding: ${coding}\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`, 501, {
      code: 'ERR_NOT_IMPLEMENTED',
      message: 'Send the message with no Transfer-Encoding but chunked: this gateway decodes no other.',
    });
  });

  it.each(Object.keys(DEMOS))('%s keeps the connection after a 415 to a small gzip body that came whole', async (framework) => {
    const request = smsHead('Content-Encoding: gzip\r\nContent-Length: 2\r\n') + '{}';
    const answer = await exchange(urlOf(servers.get(framework)!), Buffer.from(request + request), 2);
    expect([answer.status, answer.headers.get('connection'), answer.answers, answer.closedByServer]).toEqual([415, 'keep-alive', 2, false]);
  });
});

// Node's HTTP server trims a header value, so a blank one reaches the apps as ''; the shared
// check is asked directly for the whitespace a proxy or another server could hand it.
describe('the demo\'s Content-Encoding check', () => {
  it.each([undefined, '', ' ', ' \t ', 'identity', ' Identity '])('takes a body whose Content-Encoding is %j as plain', (value) => {
    expect(compressedBody(value)).toBeUndefined();
  });

  it.each(['gzip', 'br', 'deflate', 'identity, gzip', 'gzip, identity', 'x-foo'])('refuses a body whose Content-Encoding is %j with 415', (value) => {
    expect(compressedBody(value)?.status).toBe(415);
  });
});

describe('the demo\'s Transfer-Encoding check', () => {
  it.each([undefined, 'chunked', 'Chunked', ' chunked '])('takes a body whose Transfer-Encoding is %j', (value) => {
    expect(unknownTransferCoding(value)).toBeUndefined();
  });

  it.each(['gzip, chunked', 'identity, chunked', 'chunked, chunked', 'x-foo'])('refuses a body whose Transfer-Encoding is %j with 501', (value) => {
    expect(unknownTransferCoding(value)?.status).toBe(501);
  });
});
