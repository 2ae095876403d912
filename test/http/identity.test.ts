/**
 * One request matrix sent to every adapter at once: each adapter's answer must be exactly the
 * Express 5 answer (status, headers other than transport ones, body). The pipeline suite
 * checks each adapter against the tables; this one catches any drift between frameworks.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, generateApiKey, KEY_STATUSES, type ApiKeyAuth } from 'keyward';
import { TEST_ARGON2 } from '../fixtures/argon2-vectors.js';
import { comparable, send, type ClientResponse } from '../helpers/http-client.js';
import { InstrumentedStore } from '../helpers/stores.js';
import { ADAPTERS, express5Adapter, type RunningApp } from './apps.js';
import { bearer, forgeSecret } from '../helpers/keys.js';

interface Case {
  name: string;
  /** The status Express 5 must give, so that a matrix of identical wrong answers still fails. */
  status: number;
  path?: string;
  method?: string;
  headers: () => Record<string, string>;
  /** Puts the store in the state the case needs, for the duration of the requests. */
  store?: (store: InstrumentedStore) => void;
}


describe('every adapter answers exactly as Express 5', () => {
  const store = new InstrumentedStore();
  const keys: Record<string, string> = {};
  let auth: ApiKeyAuth;
  const apps = new Map<string, RunningApp>();

  beforeAll(async () => {
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    auth = createApiKeyAuth({ store, storeTimeoutMs: 200 });
    for (const status of KEY_STATUSES) {
      keys[status] = (await manager.issue({ accountId: `acct_${status}`, environment: 'sandbox', status })).key;
    }
    keys.admin = (await manager.issue({ accountId: 'acct_admin', environment: 'sandbox', keyType: 'admin_api' })).key;
    keys.past_expiry = (await manager.issue({ accountId: 'acct_past', environment: 'sandbox', expiresAt: new Date(Date.now() - 1_000) })).key;
    const deleted = await manager.issue({ accountId: 'acct_deleted', environment: 'sandbox' });
    await manager.softDelete(deleted.card.keyId);
    keys.soft_deleted = deleted.key;
    const revoked = await manager.issue({ accountId: 'acct_revoked', environment: 'sandbox' });
    await manager.revoke(revoked.card.keyId);
    keys.revoked_at = revoked.key;
    for (const adapter of ADAPTERS) apps.set(adapter.name, await adapter.start(auth));
  });

  afterAll(async () => {
    for (const app of apps.values()) await app.close();
    await auth.close();
  });

  const wrongSecret = () => forgeSecret(keys.allowed!);

  const cases: Case[] = [
    ...KEY_STATUSES.filter((status) => status !== 'allowed').map((status) => ({
      name: `a ${status} key`,
      status: 403,
      headers: () => bearer(keys[status]!),
    })),
    { name: 'a key whose expires_at has passed', status: 403, headers: () => bearer(keys.past_expiry!) },
    { name: 'a soft-deleted key', status: 401, headers: () => bearer(keys.soft_deleted!) },
    { name: 'a revoked key', status: 401, headers: () => bearer(keys.revoked_at!) },
    { name: 'a wrong secret', status: 401, headers: () => bearer(wrongSecret()) },
    { name: 'an unknown lookup id', status: 401, headers: () => bearer(generateApiKey('sandbox').key) },
    { name: 'a wrong checksum', status: 401, headers: () => bearer(`${keys.allowed!.slice(0, -6)}000000`) },
    { name: 'a wrong prefix', status: 401, headers: () => bearer(`sk_prod_${keys.allowed!.slice(8)}`) },
    { name: 'another scheme', status: 401, headers: () => ({ authorization: 'Basic dXNlcjpwYXNz' }) },
    { name: 'the scheme alone', status: 401, headers: () => ({ authorization: 'Bearer' }) },
    { name: 'an empty X-API-Key', status: 401, headers: () => ({ 'x-api-key': '' }) },
    { name: 'no credential', status: 401, headers: () => ({}) },
    { name: 'a key in the query string only', status: 401, path: '/v1/whoami?api_key=x', headers: () => ({}) },
    { name: 'two different keys', status: 401, headers: () => ({ ...bearer(keys.allowed!), 'x-api-key': keys.admin! }) },
    { name: 'a live key of the wrong type', status: 403, path: '/v1/sms', method: 'POST', headers: () => bearer(keys.admin!) },
    {
      name: 'a store that throws',
      status: 503,
      headers: () => bearer(keys.allowed!),
      store: (s) => { s.failure = new Error('ECONNRESET'); },
    },
    {
      name: 'a row whose hash is not Argon2id',
      status: 500,
      headers: () => bearer(keys.allowed!),
      store: (s) => { s.override = (row) => row && { ...row, key_hash: 'not-a-hash' }; },
    },
  ];

  async function askEveryone(testCase: Case): Promise<Map<string, ClientResponse>> {
    const headers = testCase.headers();
    testCase.store?.(store);
    try {
      const answers = new Map<string, ClientResponse>();
      for (const [name, app] of apps) {
        answers.set(name, await send(app.url, testCase.path ?? '/v1/whoami', { method: testCase.method ?? 'GET', headers }));
      }
      return answers;
    } finally {
      store.failure = undefined;
      store.override = undefined;
    }
  }

  it.each(cases)('answers $name with the Express 5 status, headers and body', async (testCase) => {
    const answers = await askEveryone(testCase);
    const reference = comparable(answers.get(express5Adapter.name)!);
    expect(reference.status).toBe(testCase.status);
    for (const [name, answer] of answers) {
      expect({ adapter: name, ...comparable(answer) }).toEqual({ adapter: name, ...reference });
    }
  });

  it('lets the allowed key through everywhere with the same status and key context', async () => {
    // Success answers come from each app's own handler (Express adds an ETag, for one), so
    // only the status and the body, which is the key context, must match.
    const answers = await askEveryone({ name: 'allowed', status: 200, headers: () => bearer(keys.allowed!) });
    const reference = answers.get(express5Adapter.name)!;
    expect(reference.status).toBe(200);
    for (const [name, answer] of answers) {
      expect({ adapter: name, status: answer.status, body: JSON.parse(answer.body) }).toEqual({
        adapter: name,
        status: 200,
        body: JSON.parse(reference.body),
      });
    }
  });

  it.each([
    ['a wrong secret', () => `Authorization: Bearer ${wrongSecret()}`, 'content-length: 76'],
    ['no key', () => 'X-Nothing: 1', 'www-authenticate: Bearer realm="api"'],
    ['an expired key', () => `Authorization: Bearer ${keys.past_expiry}`, 'cache-control: no-store'],
  ])('sends the same header lines for %s, in the same order and letter case, on every adapter', async (_name, line, expected) => {
    const headerLines = async (url: string) => {
      const raw = await rawGet(url, line());
      const head = raw.slice(0, raw.indexOf('\r\n\r\n')).split('\r\n').slice(1);
      return head.filter((header) => !/^(date|connection|keep-alive|x-powered-by):/i.test(header));
    };
    const reference = await headerLines(apps.get(express5Adapter.name)!.url);
    expect(reference).toContain(expected);
    for (const [name, app] of apps) {
      expect({ adapter: name, lines: await headerLines(app.url) }).toEqual({ adapter: name, lines: reference });
    }
  });

  it('runs against every adapter of the suite', () => {
    expect([...apps.keys()]).toEqual(['express 5', 'express 4', 'koa 3', 'koa 2', 'fastify 5', 'fastify 4']);
  });
});

/** The raw bytes of a response to one GET /v1/whoami, header names exactly as sent. */
function rawGet(baseUrl: string, headerLine: string): Promise<string> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    // Written, not ended: Node drops a request whose client half-closes while it is still
    // being answered (a first-seen key waits for Argon2); `Connection: close` ends it.
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET /v1/whoami HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${headerLine}\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
}
