/**
 * The portal example's JSON API over real HTTP, without a browser: statuses, exact error
 * bodies, the cross-site guard, and the shared store with the demo gateway.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_KEY_PATTERN, generateApiKey, maskApiKey } from 'keyward';
import { startPortal, type RunningPortal } from '../../examples/portal/portal.js';
import { send, type ClientResponse } from '../helpers/http-client.js';
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

const api = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
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
        message: 'Unknown field(s): "password". Expected webhook_url, webhook_basic_auth_username, webhook_basic_auth_password.',
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
        message: 'The request body must be a JSON object sent with Content-Type: application/json.',
      },
    });
    expect(logs.some((line) => line.includes(PASSWORD))).toBe(false);
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

  it('accepts a write whose Origin is the portal itself', async () => {
    const origin = new URL(portal.portalUrl).origin;

    const response = await api('POST', '/key', { ...WRITE, Origin: origin, 'Sec-Fetch-Site': 'same-origin' });

    expect(response.status).toBe(201);
  });

  it('refuses any request addressed to a non-loopback host name (DNS rebinding)', async () => {
    const response = await api('GET', '/key', { Host: 'rebind.example:3001' });

    expect(response.status).toBe(403);
    expect(json(response)).toEqual({
      error: { code: 'ERR_CROSS_SITE_REQUEST', message: 'This demo portal only answers on 127.0.0.1 or localhost.' },
    });
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
  it('logs method, path, status and key ids, never a cleartext key', async () => {
    const first = await generate();
    await sendSms(first.key);
    const second = json(await api('POST', '/key/regenerate', WRITE)) as { key: string; card: { id: string } };

    expect(logs).toContain('portal POST /portal/api/key 201');
    expect(logs).toContain(`portal key regenerated id=${second.card.id}`);
    expect(logs.some((line) => line.includes(first.key) || line.includes(second.key) || /sk_(test|live)_/.test(line))).toBe(false);
  });
});

describe('portal API: a key in the request path never reaches the log', () => {
  const percentEncoded = (text: string) => [...text].map((char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`).join('');

  /** Requests the path and returns the lines it logged, after checking none carries the key. */
  const logsOf = async (path: string, key: { key: string; secret: string }) => {
    const before = logs.length;
    const response = await api('GET', path);
    expect(response.status).toBe(404);
    const lines = logs.slice(before);
    // Booleans only: a failing diff must not print the key either.
    const decoded = lines.map((line) => line.replace(/(%25)+/g, '%').replace(/%[0-9A-F]{2}/gi, (escape) => String.fromCharCode(parseInt(escape.slice(1), 16))));
    expect([...lines, ...decoded].some((line) => line.includes(key.key) || line.includes(key.secret))).toBe(false);
    return lines;
  };

  it('replaces a key written as is in the path with [redacted] and keeps the rest of the path', async () => {
    const key = generateApiKey('sandbox');
    forbidInOutput(key.key, key.secret);

    expect(await logsOf(`/keys/${key.key}`, key)).toEqual(['portal GET /portal/api/keys/[redacted] 404']);
    expect(await logsOf(`/${key.key}/x`, key)).toEqual(['portal GET /portal/api/[redacted]/x 404']);
  });

  it('redacts a key glued to other word characters, which API_KEY_PATTERN\'s \\b alone would miss', async () => {
    const key = generateApiKey('production');
    forbidInOutput(key.key, key.secret);

    expect(await logsOf(`/x_${key.key}0`, key)).toEqual(['portal GET /portal/api/x_[redacted]0 404']);
  });

  it('withholds the whole path when the key is percent-encoded, in part, in full or twice', async () => {
    const key = generateApiKey('sandbox');
    forbidInOutput(key.key, key.secret);
    const paths = [
      `/%73${key.key.slice(1)}`,
      `/keys/${key.key.slice(0, 30)}%${key.key.charCodeAt(30).toString(16)}${key.key.slice(31)}`,
      `/${percentEncoded(key.key)}`,
      `/%2573${key.key.slice(1)}`,
    ];

    for (const path of paths) {
      expect(await logsOf(path, key)).toEqual(['portal GET [redacted path] 404']);
    }
  });

  it('logs a path with a malformed percent-encoding as it came and keeps answering', async () => {
    for (const path of ['/%ZZ', '/keys/%', '/%E0%A4%A', '/%C0%AF']) {
      const before = logs.length;
      const response = await api('GET', path);
      expect(response.status).toBe(404);
      expect(logs.slice(before)).toEqual([`portal GET /portal/api${path} 404`]);
    }
    expect((await api('GET', '/session')).status).toBe(200);
  });

  it('redacts a key next to a malformed percent-encoding', async () => {
    const key = generateApiKey('sandbox');
    forbidInOutput(key.key, key.secret);

    expect(await logsOf(`/%ZZ/%73${key.key.slice(1)}/%`, key)).toEqual(['portal GET [redacted path] 404']);
    expect(await logsOf(`/%ZZ/${key.key}/%`, key)).toEqual(['portal GET /portal/api/%ZZ/[redacted]/% 404']);
  });
});
