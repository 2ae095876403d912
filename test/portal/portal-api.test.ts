/**
 * The portal example's JSON API over real HTTP, without a browser: statuses, exact error
 * bodies, the cross-site guard, and the shared store with the demo gateway.
 */
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import express from 'express';
import { API_KEY_PATTERN, createKeyManager, generateApiKey, maskApiKey, MemoryKeyStore } from 'keyward';
import { createPortalApi } from '../../examples/portal/api.js';
import { startPortal, type RunningPortal } from '../../examples/portal/portal.js';
import { send, sendRaw, type ClientResponse } from '../helpers/http-client.js';
import { exchange } from '../helpers/raw-exchange.js';
import { forbidInOutput } from '../helpers/output-guard.js';

const WRITE = { 'X-Portal-Request': '1' };

let portal: RunningPortal;
let logs: string[];

beforeEach(async () => {
  logs = [];
  portal = await startPortal({ port: 0, gatewayPort: 0, usageFlushIntervalMs: 100, log: (line) => logs.push(line) });
});

afterEach(async () => {
  await portal.close();
});

const api = (method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer) =>
  send(portal.portalUrl, `/portal/api${path}`, { method, headers, body });

const json = (response: ClientResponse) => JSON.parse(response.body) as Record<string, any>;

const generate = async () => {
  const response = await api('POST', '/key', WRITE);
  expect(response.status).toBe(201);
  return json(response) as { key: string; card: Record<string, unknown> };
};

const sendSms = (key: string) =>
  send(portal.gatewayUrl, '/v1/sms', {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ to: '+15550100', body: 'hello' }),
  });

describe('portal API: reading and generating the key', () => {
  it('answers the empty state as {"card":null}, never cached', async () => {
    const response = await api('GET', '/key');

    expect(response.status).toBe(200);
    expect(response.body).toBe('{"card":null}');
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('describes the fixed demo session and the gateway URL', async () => {
    const response = await api('GET', '/session');

    expect(json(response)).toEqual({
      account_id: 'acct_portal_demo',
      environment: 'sandbox',
      demo: true,
      gateway_url: portal.gatewayUrl,
      usage_flush_interval_ms: 100,
    });
  });

  it('generates a sandbox key: 201 with the cleartext once and the card under the seed names', async () => {
    const { key, card } = await generate();

    expect(API_KEY_PATTERN.test(key)).toBe(true);
    expect(key.startsWith('sk_test_')).toBe(true);
    expect(card).toEqual({
      id: expect.stringMatching(/^key_[0-9A-Za-z]{20}$/),
      key_type: 'sms_api',
      status: 'allowed',
      status_lbl: 'ACTIVE',
      environment: 'sandbox',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      last_used_at: null,
      expires_at: null,
      unreadable_dates: [],
      masked_key: maskApiKey(key),
      webhook_url: null,
      webhook_basic_auth_username: null,
      webhook_basic_auth_configured: false,
    });

    const read = await api('GET', '/key');
    expect(json(read)).toEqual({ card });
    expect(read.body.includes(key)).toBe(false);
  });

  it('refuses a second generate with 409 ERR_KEY_EXISTS', async () => {
    await generate();

    const response = await api('POST', '/key', WRITE);

    expect(response.status).toBe(409);
    expect(json(response)).toEqual({
      error: {
        code: 'ERR_KEY_EXISTS',
        message: 'This account already has a live key in this environment; regenerate it instead.',
      },
    });
  });

  it('makes a generated key work at the gateway at once, and shows its use as Last used', async () => {
    const { key } = await generate();

    expect((await sendSms(key)).status).toBe(202);

    await expect
      .poll(async () => json(await api('GET', '/key')).card.last_used_at, { timeout: 5_000, interval: 50 })
      .toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});

describe('portal API: regenerate', () => {
  it('answers 404 ERR_KEY_NOT_FOUND when there is no key yet', async () => {
    const response = await api('POST', '/key/regenerate', WRITE);

    expect(response.status).toBe(404);
    expect(json(response)).toEqual({
      error: { code: 'ERR_KEY_NOT_FOUND', message: 'This account has no key yet; generate one first.' },
    });
  });

  it('rotates the key: same id, new cleartext, old key 401 and new key 202 at the gateway', async () => {
    const first = await generate();
    expect((await sendSms(first.key)).status).toBe(202);

    const response = await api('POST', '/key/regenerate', WRITE);

    expect(response.status).toBe(200);
    const second = json(response) as { key: string; card: Record<string, unknown> };
    expect(second.key === first.key).toBe(false);
    expect(second.card.id).toBe(first.card.id);
    expect(second.card.created_at).toBe(first.card.created_at);
    expect(second.card.masked_key).toBe(maskApiKey(second.key));
    expect(second.card.last_used_at).toBeNull();
    expect((await sendSms(first.key)).status).toBe(401);
    expect((await sendSms(second.key)).status).toBe(202);
  });
});

describe('portal API: webhook settings', () => {
  const PASSWORD = 'pw-api:Kx9#write-only';
  const putWebhook = (body: unknown, headers: Record<string, string> = WRITE) =>
    api('PUT', '/webhook', { ...headers, 'Content-Type': 'application/json' }, JSON.stringify(body));

  it('saves URL, username and password, and answers with the configured flag, never the password', async () => {
    await generate();

    const response = await putWebhook({
      webhook_url: 'https://Hooks.Example.com/sms-receipts',
      webhook_basic_auth_username: 'receipts-bot',
      webhook_basic_auth_password: PASSWORD,
    });

    expect(response.status).toBe(200);
    expect(json(response).card).toMatchObject({
      webhook_url: 'https://hooks.example.com/sms-receipts',
      webhook_basic_auth_username: 'receipts-bot',
      webhook_basic_auth_configured: true,
    });
    expect(response.body.includes(PASSWORD)).toBe(false);
    const read = await api('GET', '/key');
    expect(json(read).card.webhook_basic_auth_configured).toBe(true);
    expect(read.body.includes(PASSWORD)).toBe(false);
    expect(logs).toContain(`portal webhook saved id=${json(read).card.id} password=set`);
  });

  it('keeps the saved password when the field is left out, and removes it on null', async () => {
    await generate();
    await putWebhook({ webhook_url: 'https://hooks.example.com/a', webhook_basic_auth_password: PASSWORD });

    const kept = await putWebhook({ webhook_url: 'https://hooks.example.com/b' });
    expect(json(kept).card).toMatchObject({ webhook_url: 'https://hooks.example.com/b', webhook_basic_auth_configured: true });

    const removed = await putWebhook({ webhook_url: 'https://hooks.example.com/b', webhook_basic_auth_password: null });
    expect(json(removed).card.webhook_basic_auth_configured).toBe(false);
  });

  it('keeps the saved username when the field is left out, and removes it on null or an empty string', async () => {
    await generate();
    for (const removal of [null, '']) {
      await putWebhook({ webhook_url: 'https://hooks.example.com/a', webhook_basic_auth_username: 'receipts-bot', webhook_basic_auth_password: PASSWORD });

      const kept = await putWebhook({ webhook_url: 'https://hooks.example.com/b' });
      expect(json(kept).card).toMatchObject({ webhook_url: 'https://hooks.example.com/b', webhook_basic_auth_username: 'receipts-bot', webhook_basic_auth_configured: true });

      const removed = await putWebhook({ webhook_url: 'https://hooks.example.com/b', webhook_basic_auth_username: removal });
      expect(json(removed).card).toMatchObject({ webhook_basic_auth_username: null, webhook_basic_auth_configured: true });
    }
  });

  it('refuses a plain-http URL with 400 ERR_WEBHOOK_INVALID and changes nothing', async () => {
    await generate();
    await putWebhook({ webhook_url: 'https://hooks.example.com/a' });

    const response = await putWebhook({ webhook_url: 'http://hooks.example.com/a', webhook_basic_auth_password: PASSWORD });

    expect(response.status).toBe(400);
    expect(json(response)).toEqual({
      error: { code: 'ERR_WEBHOOK_INVALID', message: '"url" must use https://; plain http and other schemes are refused.' },
    });
    expect(response.body.includes(PASSWORD)).toBe(false);
    expect(json(await api('GET', '/key')).card).toMatchObject({
      webhook_url: 'https://hooks.example.com/a',
      webhook_basic_auth_configured: false,
    });
  });

  it('refuses a body that is not a JSON object, or names unknown fields, with 400 ERR_INVALID_REQUEST', async () => {
    await generate();

    const list = await putWebhook(['https://hooks.example.com/a']);
    expect(list.status).toBe(400);
    expect(json(list).error.code).toBe('ERR_INVALID_REQUEST');

    const typo = await putWebhook({ webhook_url: 'https://hooks.example.com/a', password: PASSWORD });
    expect(typo.status).toBe(400);
    expect(json(typo)).toEqual({
      error: {
        code: 'ERR_INVALID_REQUEST',
        message: 'Unknown field(s) (1, names not repeated). Expected webhook_url, webhook_basic_auth_username, webhook_basic_auth_password.',
      },
    });
    expect(typo.body.includes(PASSWORD)).toBe(false);
  });

  it('answers malformed JSON with 400 and logs nothing of the body, not even the password in it', async () => {
    await generate();

    const response = await api('PUT', '/webhook', { ...WRITE, 'Content-Type': 'application/json' }, `{"webhook_basic_auth_password":"${PASSWORD}"`);

    expect(response.status).toBe(400);
    expect(json(response)).toEqual({
      error: {
        code: 'ERR_INVALID_REQUEST',
        message: 'The request body is not valid JSON: send a JSON object with Content-Type: application/json.',
      },
    });
    expect(logs.some((line) => line.includes(PASSWORD))).toBe(false);
  });

  it.each([
    ['JSON sent as text/plain', { 'Content-Type': 'text/plain' }, 'The request body must be sent with Content-Type: application/json.'],
    ['a body declared gzip that is not', { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, 'The request body cannot be decompressed as its Content-Encoding says: send it as it is, or compressed as it declares.'],
  ])('answers %s with 400 naming what is wrong with it, and stores nothing', async (_name, headers, message) => {
    await generate();

    const response = await api('PUT', '/webhook', { ...WRITE, ...headers }, '{"webhook_url":"https://hooks.example.com/in"}');

    expect([response.status, json(response)]).toEqual([400, { error: { code: 'ERR_INVALID_REQUEST', message } }]);
    expect(json(await api('GET', '/key')).card.webhook_url).toBeNull();
  });

  it('refuses a body in a Content-Encoding it cannot undo with 400 saying so, and stores nothing', async () => {
    await generate();

    const response = await api('PUT', '/webhook', { ...WRITE, 'Content-Type': 'application/json', 'Content-Encoding': 'zstd' }, '{"webhook_url":"https://hooks.example.com/in"}');

    expect([response.status, json(response)]).toEqual([400, {
      error: { code: 'ERR_INVALID_REQUEST', message: 'The request body\'s Content-Encoding is not supported: send it as it is, or compressed with gzip, deflate or br.' },
    }]);
    expect(json(await api('GET', '/key')).card.webhook_url).toBeNull();
  });

  it('refuses a body whose bytes are not UTF-8 with 400, and stores nothing in their stead', async () => {
    await generate();
    const { port } = new URL(portal.portalUrl);
    const body = Buffer.concat([Buffer.from('{"webhook_url":"https://hooks.example.com/'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const head = `PUT /portal/api/webhook HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Portal-Request: 1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;

    const response = await sendRaw(portal.portalUrl, Buffer.concat([Buffer.from(head), body]));

    expect([response.status, JSON.parse(response.body)]).toEqual([400, { error: { code: 'ERR_INVALID_REQUEST', message: 'The request body must be UTF-8 text.' } }]);
    expect(json(await api('GET', '/key')).card.webhook_url).toBeNull();
  });

  it('refuses a body declared UTF-16 with 400, even one whose every character is ASCII', async () => {
    await generate();
    const body = Buffer.from(JSON.stringify({ webhook_url: 'https://hooks.example.com/a' }), 'utf16le');

    const response = await api('PUT', '/webhook', { ...WRITE, 'Content-Type': 'application/json; charset=utf-16le' }, body.toString('latin1'));

    expect([response.status, JSON.parse(response.body).error.message]).toEqual([400, 'The request body must be UTF-8 text.']);
    expect(json(await api('GET', '/key')).card.webhook_url).toBeNull();
  });

  it('saves a gzip body, inflated, as the README says', async () => {
    await generate();
    const body = gzipSync(JSON.stringify({ webhook_url: 'https://hooks.example.com/gzipped' }));

    const response = await api('PUT', '/webhook', { ...WRITE, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, body);

    expect(response.status).toBe(200);
    expect(json(await api('GET', '/key')).card.webhook_url).toBe('https://hooks.example.com/gzipped');
  });

  it('answers a small gzip body that inflates past 8 KiB with 413, and stores nothing', async () => {
    await generate();
    const body = gzipSync(JSON.stringify({ webhook_url: 'https://hooks.example.com/a', webhook_basic_auth_username: 'u'.repeat(100_000) }));
    expect(body.length).toBeLessThan(8 * 1024);

    const response = await api('PUT', '/webhook', { ...WRITE, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, body);

    expect([response.status, JSON.parse(response.body)]).toEqual([413, { error: { code: 'ERR_INVALID_REQUEST', message: 'The request body is too large.' } }]);
    expect(json(await api('GET', '/key')).card.webhook_url).toBeNull();
  });

  it.each([
    ['far over 8 KiB', '999999999'],
    ['just over 8 KiB, under the 64 KiB keyward lets a refusal leave unread on an open connection', '9100'],
  ])('answers a body declared %s with 413 at once, before it comes, and closes the connection', async (_size, length) => {
    await generate();
    const { port } = new URL(portal.portalUrl);
    const head = `PUT /portal/api/webhook HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Portal-Request: 1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{}`;

    // Waits for a second answer, which never comes: the server closes the connection instead.
    const answer = await exchange(portal.portalUrl, Buffer.from(head), 2);

    expect([answer.status, answer.headers.get('connection'), answer.closedByServer]).toEqual([413, 'close', true]);
  });

  it('answers a chunked body with 411 at once, before its end, closes the connection and stores nothing', async () => {
    await generate();
    const { port } = new URL(portal.portalUrl);
    // One chunk of a body with no end: an answer can only come before the body is read.
    const head = `PUT /portal/api/webhook HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Portal-Request: 1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n`;

    const answer = await exchange(portal.portalUrl, Buffer.from(head), 2);

    expect([answer.status, answer.headers.get('connection'), answer.closedByServer]).toEqual([411, 'close', true]);
    expect(json(await api('GET', '/key')).card.webhook_url).toBeNull();
  });

  it.each([
    ['GET /portal/api/key', 'GET', '/portal/api/key'],
    ['GET / (the page)', 'GET', '/'],
    ['POST /portal/api/key/regenerate', 'POST', '/portal/api/key/regenerate'],
  ])('closes the connection after answering %s that declares a large body it never reads', async (_name, method, path) => {
    await generate();
    const { port } = new URL(portal.portalUrl);
    const head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Portal-Request: 1\r\nContent-Length: 100000000\r\n\r\n`;

    const answer = await exchange(portal.portalUrl, Buffer.from(head), 2);

    expect([answer.status, answer.headers.get('connection'), answer.closedByServer]).toEqual([200, 'close', true]);
  });

  it('answers 404 ERR_KEY_NOT_FOUND before a key exists', async () => {
    const response = await putWebhook({ webhook_url: 'https://hooks.example.com/a' });

    expect(response.status).toBe(404);
    expect(json(response).error.code).toBe('ERR_KEY_NOT_FOUND');
  });

  it('refuses a cross-site save with 403 and stores nothing', async () => {
    await generate();

    const response = await putWebhook({ webhook_url: 'https://evil.example/a' }, {});

    expect(response.status).toBe(403);
    expect(json(await api('GET', '/key')).card.webhook_url).toBeNull();
  });

  it('keeps the webhook settings across a regenerate', async () => {
    await generate();
    await putWebhook({
      webhook_url: 'https://hooks.example.com/a',
      webhook_basic_auth_username: 'bot',
      webhook_basic_auth_password: PASSWORD,
    });

    const response = await api('POST', '/key/regenerate', WRITE);

    expect(json(response).card).toMatchObject({
      webhook_url: 'https://hooks.example.com/a',
      webhook_basic_auth_username: 'bot',
      webhook_basic_auth_configured: true,
    });
  });

  it('turns webhooks off on DELETE: URL, username and password cleared', async () => {
    await generate();
    await putWebhook({ webhook_url: 'https://hooks.example.com/a', webhook_basic_auth_username: 'bot', webhook_basic_auth_password: PASSWORD });

    const response = await api('DELETE', '/webhook', WRITE);

    expect(response.status).toBe(200);
    expect(json(response).card).toMatchObject({
      webhook_url: null,
      webhook_basic_auth_username: null,
      webhook_basic_auth_configured: false,
    });
  });
});

describe('portal API: cross-site and stray requests', () => {
  it('refuses a write without the X-Portal-Request header with 403, and issues nothing', async () => {
    const response = await api('POST', '/key');

    expect(response.status).toBe(403);
    expect(json(response)).toEqual({
      error: {
        code: 'ERR_CROSS_SITE_REQUEST',
        message: 'State-changing requests must come from the portal page itself (header X-Portal-Request: 1, same origin).',
      },
    });
    expect((await api('GET', '/key')).body).toBe('{"card":null}');
  });

  it('refuses a write from another origin even with the header', async () => {
    const response = await api('POST', '/key', { ...WRITE, Origin: 'https://evil.example' });

    expect(response.status).toBe(403);
    expect(json(response).error.code).toBe('ERR_CROSS_SITE_REQUEST');
  });

  it('refuses a write the browser marks Sec-Fetch-Site: cross-site', async () => {
    const response = await api('POST', '/key', { ...WRITE, 'Sec-Fetch-Site': 'cross-site' });

    expect(response.status).toBe(403);
  });

  it.each(['Cross-Site', 'CROSS-SITE', 'cross-site, cross-site', 'something-else'])('refuses Sec-Fetch-Site: %s (any letter case, two copies joined, an unknown value), and issues nothing', async (value) => {
    const response = await api('POST', '/key', { ...WRITE, 'Sec-Fetch-Site': value });

    expect(response.status).toBe(403);
    expect(json(response).error.code).toBe('ERR_CROSS_SITE_REQUEST');
    expect((await api('GET', '/key')).body).toBe('{"card":null}');
  });

  it('accepts a write whose Origin is the portal itself', async () => {
    const origin = new URL(portal.portalUrl).origin;

    const response = await api('POST', '/key', { ...WRITE, Origin: origin, 'Sec-Fetch-Site': 'same-origin' });

    expect(response.status).toBe(201);
  });

  it.each(['[::1]evil.test', '[::1]evil.test:3001', 'localhost:3001x', '127.0.0.1.evil.test'])('refuses the Host %s, which only begins with a loopback name', async (host) => {
    expect((await api('GET', '/key', { Host: host })).status).toBe(403);
  });

  it('refuses any request addressed to a non-loopback host name (DNS rebinding)', async () => {
    const response = await api('GET', '/key', { Host: 'rebind.example:3001' });

    expect(response.status).toBe(403);
    expect(json(response)).toEqual({
      error: { code: 'ERR_CROSS_SITE_REQUEST', message: 'This demo portal only answers on 127.0.0.1 or localhost.' },
    });
    expect([response.headers['cache-control'], response.headers['x-content-type-options']]).toEqual(['no-store', 'nosniff']);
    expect(logs.at(-1)).toBe('portal GET (no route) 403');
  });

  it.each([
    ['a loopback Host, then another', (port: string) => [`127.0.0.1:${port}`, 'rebind.example']],
    ['another Host, then a loopback one', (port: string) => ['rebind.example', `127.0.0.1:${port}`]],
    ['the same loopback Host twice', (port: string) => [`127.0.0.1:${port}`, `127.0.0.1:${port}`]],
  ])('refuses a request with two Host lines (%s) with 400, as RFC 9112 asks', async (_name, hosts) => {
    const { port } = new URL(portal.portalUrl);
    const [first, second] = hosts(port);
    const request = `GET /portal/api/key HTTP/1.1\r\nHost: ${first}\r\nhost: ${second}\r\nConnection: close\r\n\r\n`;

    const response = await sendRaw(portal.portalUrl, Buffer.from(request));

    expect([response.status, JSON.parse(response.body)]).toEqual([
      400,
      { error: { code: 'ERR_INVALID_REQUEST', message: 'The request must have exactly one Host header.' } },
    ]);
  });

  it.each([
    ['another host', 'http://rebind.example', 403],
    ['another host, with a loopback port', 'http://rebind.example:PORT', 403],
    ['a loopback host', 'http://127.0.0.1:PORT', 200],
    ['a loopback name in capitals', 'http://LOCALHOST:PORT', 200],
    ['a loopback host with an empty port', 'http://127.0.0.1:', 200],
  ])('judges a request whose target names %s (absolute form) by that name, which RFC 9112 puts before Host', async (_name, authority, status) => {
    const { port } = new URL(portal.portalUrl);
    const target = `${authority.replace('PORT', port)}/portal/api/key`;
    const request = `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`;

    const response = await sendRaw(portal.portalUrl, Buffer.from(request));

    expect(response.status).toBe(status);
  });

  it('answers an unknown API route with 404 ERR_NOT_FOUND in the error shape', async () => {
    const response = await api('GET', '/keys');

    expect(response.status).toBe(404);
    expect(json(response)).toEqual({ error: { code: 'ERR_NOT_FOUND', message: 'No such portal API route.' } });
  });

  it('serves the page with a same-origin-only content security policy', async () => {
    const response = await send(portal.portalUrl, '/');

    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['content-security-policy']).toContain("script-src 'self'");
    expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(response.body).toContain('Demo account — no real login.');
  });
});

describe('portal API: logs', () => {
  it('logs method, route, status and key ids, never a cleartext key', async () => {
    const first = await generate();
    await sendSms(first.key);
    const second = json(await api('POST', '/key/regenerate', WRITE)) as { key: string; card: { id: string } };

    expect(logs).toContain('portal POST /portal/api/key 201');
    expect(logs).toContain(`portal key regenerated id=${second.card.id}`);
    expect(logs.some((line) => line.includes(first.key) || line.includes(second.key) || /sk_(test|live)_/.test(line))).toBe(false);
  });
});

describe('portal API: the gateway decision log', () => {
  it('logs at most ten refusals of one kind per second, prefixed "gateway"', async () => {
    const forged = generateApiKey('sandbox').key;

    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 40 }, () => sendSms(forged)));
    // Each one-second window the requests touched lets ten through (one window on any
    // reasonable machine; more only if the burst took longer).
    const windows = Math.floor((Date.now() - started) / 1_000) + 1;

    expect(answers.map((answer) => answer.status)).toEqual(Array(40).fill(401));
    const refused = logs.filter((line) => line.startsWith('gateway auth refused '));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThanOrEqual(Math.min(10 * (windows + 1), 39));
    // One kind: the same outcome, status and reason on every line.
    expect(new Set(refused.map((line) => line.split(' key=')[0])).size).toBe(1);
  });
});

describe('portal API: the request log shows the route, never the path the client sent', () => {
  /** The request lines (not the lifecycle ones) logged while `request` runs. */
  const linesOf = async (request: () => Promise<ClientResponse>) => {
    const before = logs.length;
    const response = await request();
    const all = logs.slice(before);
    return { status: response.status, all, lines: all.filter((line) => /^portal [A-Z]+ /.test(line)) };
  };

  it('logs the pattern of the route that answered, with method and status', async () => {
    const expected: Array<[() => Promise<ClientResponse>, string]> = [
      [() => api('GET', '/session'), 'portal GET /portal/api/session 200'],
      [() => api('GET', '/key'), 'portal GET /portal/api/key 200'],
      [() => api('POST', '/key/regenerate', WRITE), 'portal POST /portal/api/key/regenerate 404'],
      [() => api('POST', '/key', WRITE), 'portal POST /portal/api/key 201'],
      [() => api('PUT', '/webhook', { ...WRITE, 'Content-Type': 'application/json' }, '{"webhook_url":'), 'portal PUT /portal/api/webhook 400'],
      [() => api('DELETE', '/webhook', WRITE), 'portal DELETE /portal/api/webhook 200'],
      [() => api('GET', '/key?anything=at-all'), 'portal GET /portal/api/key 200'],
    ];

    for (const [request, line] of expected) {
      expect((await linesOf(request)).lines).toEqual([line]);
    }
  });

  it('logs a refused cross-site write under the route it aimed at', async () => {
    for (const [method, path] of [['POST', '/key'], ['POST', '/key/regenerate'], ['PUT', '/webhook'], ['DELETE', '/webhook']] as const) {
      const { status, lines } = await linesOf(() => api(method, path, { ...WRITE, 'Sec-Fetch-Site': 'cross-site' }));
      expect(status).toBe(403);
      expect(lines).toEqual([`portal ${method} /portal/api${path} 403`]);
    }
  });

  it('logs a request that matched no route as "(no route)", whatever its path', async () => {
    for (const path of ['/keys', '/key/regenerate', '/nope/%ZZ', '/keys/%', '/%E0%A4%A', '/%C0%AF', '/a%0Ab']) {
      const { status, lines } = await linesOf(() => api('GET', path));
      expect(status).toBe(404);
      expect(lines).toEqual(['portal GET (no route) 404']);
    }
    expect((await linesOf(() => api('PATCH', '/key', WRITE))).lines).toEqual(['portal PATCH (no route) 404']);
    expect((await api('GET', '/session')).status).toBe(200);
  });

  describe('a key written into the path in any form', () => {
    const percentEncoded = (text: string) => [...text].map((char) => `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('');
    /** Every character percent-encoded, then every `%` encoded again, `times` encodings in all. */
    const encodedTimes = (text: string, times: number) => {
      let encoded = percentEncoded(text);
      for (let round = 1; round < times; round += 1) encoded = encoded.replaceAll('%', '%25');
      return encoded;
    };
    /** Unicode lookalikes of the ASCII characters a key is made of. */
    const fullwidth = (text: string) => [...text].map((char) => String.fromCharCode(char.charCodeAt(0) + 0xfee0)).join('');
    const cyrillic = (text: string) => text.replaceAll('s', '\u0455').replaceAll('k', '\u043a').replaceAll('e', '\u0435').replaceAll('t', '\u0442');
    const split = (text: string, separator: string) => [text.slice(0, 13), text.slice(13, 30), text.slice(30, 47), text.slice(47)].join(separator);

    /** The path forms a tester used to get a key, or its secret, into the old log. */
    const forms = (key: { key: string; lookupId: string; secret: string }) => {
      const body = key.key.slice('sk_test_'.length);
      return {
        'as is': `/keys/${key.key}`,
        'glued to word characters': `/x_${key.key}0`,
        'without its prefix': `/keys/${body}`,
        'the secret alone': `/keys/${key.secret}`,
        'lookup id and secret': `/${key.lookupId}${key.secret}`,
        'percent-encoded once': `/${percentEncoded(key.key)}`,
        'percent-encoded 5 times': `/${encodedTimes(key.key, 5)}`,
        'overlong UTF-8 for its first letter': `/%C1%B3${key.key.slice(1)}`,
        'split by /': `/${split(key.key, '/')}`,
        'split by ;': `/keys/${split(key.key, ';')}`,
        'split by +': `/keys/${split(key.key, '+')}`,
        'split by %00': `/keys/${split(key.key, '%00')}`,
        'upper-case prefix': `/keys/${key.key.slice(0, 8).toUpperCase()}${body}`,
        'fullwidth letters': `/keys/${encodeURIComponent(fullwidth(key.key))}`,
        'Cyrillic lookalikes in its prefix': `/keys/${encodeURIComponent(cyrillic(key.key.slice(0, 8)))}${body}`,
        'as the key id of a real route': `/key/${key.key}`,
        'in the query string': `/key?key=${key.key}`,
      };
    };

    /**
     * Whether a log line holds the key, its secret or its lookup id and secret, in any case,
     * after undoing percent-encoding (any depth) and Unicode compatibility forms.
     */
    const leaks = (line: string, key: { key: string; lookupId: string; secret: string }) => {
      const decodeRun = (run: string) => {
        try {
          return decodeURIComponent(run);
        } catch {
          // Not UTF-8 (an overlong form, say): decode the ASCII escapes alone.
          return run.replace(/%([0-7][0-9A-Fa-f])/g, (_escape, hex: string) => String.fromCharCode(parseInt(hex, 16)));
        }
      };
      let decoded = line;
      for (let round = 0; round < 10; round += 1) decoded = decoded.replace(/(%[0-9A-Fa-f]{2})+/g, decodeRun);
      const seen = [line, decoded, decoded.normalize('NFKC')].map((text) => text.toLowerCase().replace(/[^0-9a-z]/g, ''));
      const wanted = [key.key, key.secret, key.lookupId + key.secret].map((text) => text.toLowerCase().replace(/[^0-9a-z]/g, ''));
      return seen.some((text) => wanted.some((secret) => text.includes(secret)));
    };

    for (const environment of ['sandbox', 'production'] as const) {
      it(`never logs a ${environment} key, its secret or its body, and logs the fixed line instead`, async () => {
        const key = generateApiKey(environment);
        const body = key.lookupId + key.secret;
        forbidInOutput(key.key, key.secret, body, key.key.slice(8));

        for (const [form, path] of Object.entries(forms(key))) {
          const { status, all, lines } = await linesOf(() => api('GET', path));
          // Booleans only, named by the form: a failure must not print the key either.
          expect.soft(all.some((line) => leaks(line, key)), `${form}: the key reached the log`).toBe(false);
          const route = path.startsWith('/key?') ? '/portal/api/key' : '(no route)';
          expect.soft(lines.length === 1 && lines[0] === `portal GET ${route} ${status}`, `${form}: the log line`).toBe(true);
        }
      });
    }
  });
});

describe('portal API mounted on its own, as its JSDoc shows', () => {
  it('still closes the connection after an answer that leaves a large body unread', async () => {
    const app = express();
    const manager = createKeyManager({ store: new MemoryKeyStore() });
    app.use('/portal/api', createPortalApi({ manager, account: { accountId: 'acct_alone', environment: 'sandbox' }, gatewayUrl: 'http://127.0.0.1:1', usageFlushIntervalMs: 1_000 }, () => {}));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const head = `GET /portal/api/key HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n`;

      const answer = await exchange(base, Buffer.from(head), 2);

      expect([answer.status, answer.headers.get('connection'), answer.closedByServer]).toEqual([200, 'close', true]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
