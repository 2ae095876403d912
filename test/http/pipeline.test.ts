/**
 * The authentication pipeline and status tables of DESIGN.md, row by row, through real HTTP
 * requests against every adapter. Any difference between adapters fails here.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  checksumOf,
  createApiKeyAuth,
  createKeyManager,
  generateApiKey,
  KEY_STATUSES,
  type ApiKeyAuth,
  type AuthDecision,
  type KeyManager,
} from 'keyward';
import { TEST_ARGON2 } from '../fixtures/argon2-vectors.js';
import { CaptureLogger } from '../helpers/capture-logger.js';
import { comparable, send, sendRaw, type ClientResponse } from '../helpers/http-client.js';
import { InstrumentedStore } from '../helpers/stores.js';
import { ADAPTERS, type RunningApp } from './apps.js';
import { bearer, forgeSecret } from '../helpers/keys.js';

const INVALID_BODY = '{"error":{"code":"ERR_API_KEY_INVALID","message":"The API key is invalid."}}';
const INVALID_HEADERS = {
  'cache-control': 'no-store',
  'content-length': String(INVALID_BODY.length),
  'content-type': 'application/json; charset=utf-8',
  'www-authenticate': 'Bearer realm="api", error="invalid_token"',
};
const STATUS_MESSAGES: Record<string, string> = {
  pending_validation: 'This API key is pending validation. Contact your account manager to activate it.',
  suspended: 'This API key is suspended. Contact your account manager.',
  revoqued: 'This API key is revoked. Regenerate it if you still need the integration.',
  locked: 'This API key is locked. Contact support.',
  expired: 'This API key is expired. Regenerate it.',
  rejected: 'This API key is rejected. Contact your account manager.',
};


function expectGenericInvalid(response: ClientResponse): void {
  expect(response.status).toBe(401);
  expect(response.body).toBe(INVALID_BODY);
  expect(comparable(response).headers).toEqual(INVALID_HEADERS);
}

// Each adapter against a store that answers lookups at once (as MemoryKeyStore does, so
// most decisions are made without waiting) and one that answers with a promise (as a
// database does): the answers must be the same.
const SETUPS = ADAPTERS.flatMap((adapter) => [
  { ...adapter, storeAnswers: 'at once' },
  { ...adapter, storeAnswers: 'later' },
]);

describe.each(SETUPS)('authentication pipeline on $name, store answering $storeAnswers', (adapter) => {
  let store: InstrumentedStore;
  let manager: KeyManager;
  let auth: ApiKeyAuth;
  let app: RunningApp;
  let logger: CaptureLogger;
  const decisions: AuthDecision[] = [];
  const keys: Record<string, string> = {};
  const keyIds: Record<string, string> = {};

  beforeAll(async () => {
    store = new InstrumentedStore(adapter.storeAnswers === 'later');
    manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    logger = new CaptureLogger();
    auth = createApiKeyAuth({
      store,
      logger,
      storeTimeoutMs: 200,
      onDecision: (decision) => decisions.push(decision),
    });

    const issue = async (label: string, input: Partial<Parameters<KeyManager['issue']>[0]> = {}) => {
      const issued = await manager.issue({ accountId: `acct_${label}`, environment: 'sandbox', ...input });
      keys[label] = issued.key;
      keyIds[label] = issued.card.keyId;
      logger.forbid(issued.key, issued.key.slice(20, 52));
      return issued;
    };
    for (const status of KEY_STATUSES) await issue(status, { status });
    await issue('production', { environment: 'production' });
    await issue('past_expiry', { expiresAt: new Date(Date.now() - 1_000) });
    await issue('future_expiry', { expiresAt: new Date(Date.now() + 3_600_000) });
    await issue('admin', { keyType: 'admin_api' });
    await manager.softDelete((await issue('soft_deleted')).card.keyId);
    await manager.revoke((await issue('revoked_at')).card.keyId);

    app = await adapter.start(auth);
  });

  afterAll(async () => {
    await app.close();
    await auth.close();
  });

  afterEach(() => {
    store.heal();
    logger.assertNoLeaks();
  });

  const lookupsDuring = async (action: () => Promise<ClientResponse>) => {
    const before = store.lookups;
    const response = await action();
    return { response, lookups: store.lookups - before };
  };

  describe('step 1: reading the credential', () => {
    it('answers a request without any credential with 401 ERR_API_KEY_MISSING and a Bearer challenge', async () => {
      const response = await send(app.url, '/v1/whoami');
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="api"');
      expect(JSON.parse(response.body)).toEqual({
        error: { code: 'ERR_API_KEY_MISSING', message: 'An API key is required. Send it as "Authorization: Bearer <key>".' },
      });
    });

    it.each([
      ['the scheme alone', 'Bearer'],
      ['the scheme and spaces', 'Bearer    '],
      ['another scheme', 'Basic dXNlcjpwYXNz'],
      ['a tab as the separator', 'Bearer\tsk_test_x'],
      ['two words after the scheme', 'Bearer sk_test_a sk_test_b'],
    ])('answers %s with the generic 401 and no lookup', async (_name, header) => {
      const { response, lookups } = await lookupsDuring(() => send(app.url, '/v1/whoami', { headers: { authorization: header } }));
      expectGenericInvalid(response);
      expect(lookups).toBe(0);
    });

    it('accepts the Bearer scheme in any letter case', async () => {
      for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
        const response = await send(app.url, '/v1/whoami', { headers: { authorization: `${scheme} ${keys.allowed}` } });
        expect(response.status).toBe(200);
      }
    });

    it('accepts several spaces after the scheme', async () => {
      const response = await send(app.url, '/v1/whoami', { headers: { authorization: `Bearer    ${keys.allowed}` } });
      expect(response.status).toBe(200);
    });

    it('accepts the key in X-API-Key', async () => {
      const response = await send(app.url, '/v1/whoami', { headers: { 'x-api-key': keys.allowed! } });
      expect(response.status).toBe(200);
    });

    it('accepts the same key in both headers', async () => {
      const response = await send(app.url, '/v1/whoami', { headers: { ...bearer(keys.allowed!), 'x-api-key': keys.allowed! } });
      expect(response.status).toBe(200);
    });

    it('refuses two different keys with the generic 401, even when both are live', async () => {
      const response = await send(app.url, '/v1/whoami', { headers: { ...bearer(keys.allowed!), 'x-api-key': keys.production! } });
      expectGenericInvalid(response);
    });

    it('ignores a key in the query string', async () => {
      const response = await send(app.url, `/v1/whoami?api_key=${keys.allowed}`);
      expect(response.status).toBe(401);
      expect(JSON.parse(response.body).error.code).toBe('ERR_API_KEY_MISSING');
    });
  });

  describe('step 2: parsing the key', () => {
    it.each([
      ['a wrong prefix', () => `sk_prod_${keys.allowed!.slice(8)}`],
      ['one character short', () => keys.allowed!.slice(0, -1)],
      ['a character outside base62', () => `${keys.allowed!.slice(0, 30)}_${keys.allowed!.slice(31)}`],
      ['a wrong checksum', () => `${keys.allowed!.slice(0, -6)}000000`],
      ['one character changed', () => `${keys.allowed!.slice(0, 25)}${keys.allowed![25] === 'A' ? 'B' : 'A'}${keys.allowed!.slice(26)}`],
      ['the letter case swapped', () => keys.allowed!.slice(0, 8) + [...keys.allowed!.slice(8)].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('')],
    ])('answers %s with the generic 401 without a lookup', async (_name, makeKey) => {
      const { response, lookups } = await lookupsDuring(() => send(app.url, '/v1/whoami', { headers: bearer(makeKey()) }));
      expectGenericInvalid(response);
      expect(lookups).toBe(0);
    });

    it('answers a 12 KiB header with 401 or 431, never a 5xx', async () => {
      const response = await send(app.url, '/v1/whoami', { headers: { authorization: `Bearer ${'A'.repeat(12 * 1024)}` } });
      expect([401, 431]).toContain(response.status);
    });

    it('answers non-ASCII bytes in the header with the generic 401 and no lookup', async () => {
      const port = new URL(app.url).port;
      const raw = Buffer.concat([
        Buffer.from(`GET /v1/whoami HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer sk_live_caf`),
        Buffer.from([0xc3, 0xa9]),
        Buffer.from('\r\nConnection: close\r\n\r\n'),
      ]);
      const { response, lookups } = await lookupsDuring(() => sendRaw(app.url, raw));
      expect(response.status).toBe(401);
      expect(response.body).toBe(INVALID_BODY);
      expect(lookups).toBe(0);
    });
  });

  describe('steps 3 to 5: row, environment and secret', () => {
    it('answers an unknown lookup id, a deleted key, a revoked key and a wrong secret with the same bytes', async () => {
      const unknown = generateApiKey('sandbox').key;
      const answers = await Promise.all(
        [unknown, keys.soft_deleted!, keys.revoked_at!, forgeSecret(keys.allowed!)].map((key) =>
          send(app.url, '/v1/whoami', { headers: bearer(key) }),
        ),
      );
      for (const answer of answers) expectGenericInvalid(answer);
      expect(new Set(answers.map((answer) => JSON.stringify(comparable(answer)))).size).toBe(1);
    });

    it('answers a key whose prefix names another environment than its row with the generic 401', async () => {
      const production = keys.production!;
      const head = `sk_test_${production.slice(8, 52)}`;
      const response = await send(app.url, '/v1/whoami', { headers: bearer(head + checksumOf(head)) });
      expectGenericInvalid(response);
      expect(decisions.at(-1)?.reason).toBe('environment_mismatch');
    });

    it('answers a wrong secret against a suspended key with 401, never revealing the status', async () => {
      const response = await send(app.url, '/v1/whoami', { headers: bearer(forgeSecret(keys.suspended!)) });
      expectGenericInvalid(response);
    });
  });

  describe('step 6: status', () => {
    it.each(Object.entries(STATUS_MESSAGES))('answers a %s key with 403 naming the status', async (status, message) => {
      const response = await send(app.url, '/v1/whoami', { headers: bearer(keys[status]!) });
      expect(response.status).toBe(403);
      expect(response.headers['www-authenticate']).toBeUndefined();
      expect(JSON.parse(response.body)).toEqual({ error: { code: 'ERR_API_KEY_INACTIVE', message, key_status: status } });
    });

    it('answers an allowed key whose expires_at has passed with 403 expired', async () => {
      const response = await send(app.url, '/v1/whoami', { headers: bearer(keys.past_expiry!) });
      expect(response.status).toBe(403);
      expect(JSON.parse(response.body).error).toMatchObject({ code: 'ERR_API_KEY_INACTIVE', key_status: 'expired' });
    });

    it('lets an allowed key with a future expires_at through', async () => {
      const response = await send(app.url, '/v1/whoami', { headers: bearer(keys.future_expiry!) });
      expect(response.status).toBe(200);
    });

    it.each([
      ['NULL', null],
      ['"Active"', 'Active'],
      ['"active"', 'active'],
      ['"ALLOWED"', 'ALLOWED'],
    ])('fails closed with 403 key_status unknown for a status of %s', async (_name, status) => {
      store.override = (row) => row && { ...row, status };
      const response = await send(app.url, '/v1/whoami', { headers: bearer(keys.allowed!) });
      expect(response.status).toBe(403);
      expect(JSON.parse(response.body).error).toEqual({
        code: 'ERR_API_KEY_INACTIVE',
        message: 'This API key is not active. Contact support.',
        key_status: 'unknown',
      });
    });

    it('reads the status "revoked" as "revoqued"', async () => {
      store.override = (row) => row && { ...row, status: 'revoked' };
      const response = await send(app.url, '/v1/whoami', { headers: bearer(keys.allowed!) });
      expect(response.status).toBe(403);
      expect(JSON.parse(response.body).error.key_status).toBe('revoqued');
    });
  });

  describe('step 7: key type', () => {
    it('answers a live key of another type with 403 ERR_API_KEY_WRONG_TYPE', async () => {
      const response = await send(app.url, '/v1/sms', { method: 'POST', headers: bearer(keys.admin!) });
      expect(response.status).toBe(403);
      expect(JSON.parse(response.body)).toEqual({
        error: { code: 'ERR_API_KEY_WRONG_TYPE', message: 'This route needs an API key of type "sms_api".' },
      });
    });

    it('lets a key of the required type through', async () => {
      const response = await send(app.url, '/v1/admin', { headers: bearer(keys.admin!) });
      expect(response.status).toBe(200);
    });
  });

  describe('step 8: success', () => {
    it('attaches exactly the key that passed the hash check', async () => {
      const response = await send(app.url, '/v1/sms', { method: 'POST', headers: bearer(keys.allowed!) });
      expect(response.status).toBe(202);
      expect(JSON.parse(response.body)).toEqual({
        apiKey: { keyId: keyIds.allowed, accountId: 'acct_allowed', keyType: 'sms_api', environment: 'sandbox' },
      });
    });

    it('records last_used_at once the usage is flushed', async () => {
      const before = await manager.describe(keyIds.production!);
      expect(before?.lastUsedAt).toBeNull();
      expect((await send(app.url, '/v1/whoami', { headers: bearer(keys.production!) })).status).toBe(200);
      await auth.flushUsage();
      const after = await manager.describe(keyIds.production!);
      expect(after?.lastUsedAt).toBeInstanceOf(Date);
    });
  });

  describe('store and row faults', () => {
    it('answers a store that throws with 503 and Retry-After, never a pass', async () => {
      store.failure = new Error('ECONNRESET');
      const response = await send(app.url, '/v1/whoami', { headers: bearer(keys.allowed!) });
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(JSON.parse(response.body)).toEqual({
        error: { code: 'ERR_STORE_UNAVAILABLE', message: 'API keys cannot be checked right now. Retry shortly.' },
      });
    });

    it('answers a store that hangs with 503 within the store timeout', async () => {
      store.hang = true;
      const response = await send(app.url, '/v1/whoami', { headers: bearer(keys.allowed!) });
      expect(response.status).toBe(503);
      expect(decisions.at(-1)?.reason).toBe('store_timeout');
    });

    it('answers a row whose hash is not Argon2id with a generic 500 and logs the key id', async () => {
      store.override = (row) => row && { ...row, key_hash: '$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234' };
      const response = await send(app.url, '/v1/whoami', { headers: bearer(keys.allowed!) });
      expect(response.status).toBe(500);
      expect(JSON.parse(response.body)).toEqual({ error: { code: 'ERR_INTERNAL', message: 'Internal server error.' } });
      const logged = logger.entries.at(-1)!;
      expect(logged.level).toBe('error');
      expect(logged.message).toContain(`stored hash unparseable for key ${keyIds.allowed}`);
    });

    it('answers a row missing its account id with a generic 500', async () => {
      store.override = (row) => row && { ...row, account_id: undefined };
      const response = await send(app.url, '/v1/whoami', { headers: bearer(keys.allowed!) });
      expect(response.status).toBe(500);
      expect(decisions.at(-1)).toMatchObject({ outcome: 'fault', reason: 'stored_row_invalid', detail: 'bad_account_id' });
    });

    it('answers a soft-deleted row that a store failed to filter with the generic 401', async () => {
      store.override = (row) => row && { ...row, soft_deleted: true };
      expectGenericInvalid(await send(app.url, '/v1/whoami', { headers: bearer(keys.allowed!) }));
    });
  });

  describe('decisions and logs', () => {
    it('reports every decision to the hook with its reason and public ids, never the key', async () => {
      decisions.length = 0;
      await send(app.url, '/v1/whoami', { headers: bearer(keys.allowed!) });
      await send(app.url, '/v1/whoami', { headers: bearer(forgeSecret(keys.allowed!)) });
      expect(decisions.map((d) => [d.outcome, d.reason, d.keyId])).toEqual([
        ['allowed', 'authenticated', keyIds.allowed],
        ['refused', 'secret_mismatch', keyIds.allowed],
      ]);
      expect(JSON.stringify(decisions)).not.toContain(keys.allowed!.slice(20, 52));
    });
  });
});

describe.each(ADAPTERS)('forwardErrors on $name', (adapter) => {
  it('hands refusals and store faults to the framework error handler with status and headers', async () => {
    const store = new InstrumentedStore();
    const auth = createApiKeyAuth({ store });
    const app = await adapter.start(auth, { forwardErrors: true });
    try {
      const missing = await send(app.url, '/v1/whoami');
      expect(missing.status).toBe(401);
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="api"');
      expect(JSON.parse(missing.body)).toEqual({ forwarded: 'ERR_API_KEY_MISSING' });

      store.failure = new Error('ECONNRESET');
      const key = generateApiKey('sandbox').key;
      const failed = await send(app.url, '/v1/whoami', { headers: bearer(key) });
      expect(failed.status).toBe(503);
      expect(failed.headers['retry-after']).toBe('1');
      expect(JSON.parse(failed.body)).toEqual({ forwarded: 'ERR_STORE_UNAVAILABLE' });
      expect(app.forwarded).toHaveLength(2);
    } finally {
      await app.close();
      await auth.close();
    }
  });
});
