import { afterEach, describe, expect, it } from 'vitest';
import { createApiKeyAuth, createBasicAuthChecker, createKeyManager, MemoryKeyStore, resolveRouteOptions, type ApiKeyAuth } from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { rejection } from './helpers/errors.js';
import { bearer, wrongSecretOf } from './helpers/perf-keys.js';
import { testSecretBytes } from './helpers/secret-bytes.js';

// Something else in an app (a vulnerable merge, a query-string parser) may have put names on
// Object.prototype. keyward reads only the fields a caller passed, so none of them can switch
// a setting or end up in a stored row. Each test pollutes only around the synchronous call
// that reads its input, so the test runner itself never sees the polluted prototype.
const SEALING = { current: 'k1', keys: { k1: testSecretBytes(7) } };
let auth: ApiKeyAuth | undefined;

afterEach(async () => {
  await auth?.close();
  auth = undefined;
});

function withPolluted<T>(name: string, value: unknown, read: () => T): T {
  Object.defineProperty(Object.prototype, name, { value, configurable: true, writable: true });
  try {
    return read();
  } finally {
    delete (Object.prototype as Record<string, unknown>)[name];
  }
}

describe('options and inputs read only their own fields', () => {
  it('issue() refuses an input whose accountId only Object.prototype holds', async () => {
    const manager = createKeyManager({ store: new MemoryKeyStore(), argon2: TEST_ARGON2 });

    const issuing = withPolluted('accountId', 'acct_planted', () => manager.issue({ environment: 'sandbox' } as never));

    expect((await rejection(issuing)).code).toBe('ERR_INVALID_ARGUMENT');
  });

  it('issue() stores the default key type and status when keyType and status are polluted', async () => {
    const manager = createKeyManager({ store: new MemoryKeyStore(), argon2: TEST_ARGON2 });

    const issuing = withPolluted('keyType', 'admin_api', () =>
      withPolluted('status', 'suspended', () => manager.issue({ accountId: 'acct_1', environment: 'sandbox' })),
    );
    const { card } = await issuing;

    expect([card.keyType, card.status]).toEqual(['sms_api', 'allowed']);
  });

  it('setWebhook() stores no password or username that the settings did not carry', async () => {
    const store = new MemoryKeyStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: SEALING });
    const { card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });

    const setting = withPolluted('password', 'planted-password', () =>
      withPolluted('username', 'planted', () => manager.setWebhook(card.keyId, { url: 'https://hooks.example/in' })),
    );
    const updated = await setting;

    expect(updated.webhook).toEqual({ url: 'https://hooks.example/in', username: null, basicAuthConfigured: false });
    expect(store.allRows()[0]!.webhook_basic_auth_password_sealed).toBeNull();
  });

  it('createApiKeyAuth() keeps the attempt throttle on when "throttle: false" is inherited', async () => {
    const store = new MemoryKeyStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const { key } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    auth = withPolluted('throttle', false, () => createApiKeyAuth({ store, argon2Pool: false }));

    const statuses: number[] = [];
    for (let attempt = 0; attempt < 12; attempt++) {
      const result = await auth.authenticate({ ...bearer(wrongSecretOf(key, attempt)), remoteAddress: '192.0.2.1' });
      statuses.push(result.ok ? 200 : result.response.status);
    }

    expect(statuses).toContain(429);
  });

  it('createBasicAuthChecker() keeps its failure throttle on when "throttle: false" is inherited', () => {
    const checker = withPolluted('throttle', false, () => createBasicAuthChecker({ username: 'u', password: 'pw' }));
    const wrong = `Basic ${Buffer.from('u:guess').toString('base64')}`;

    for (let attempt = 0; attempt < 20; attempt++) checker.check(wrong, '192.0.2.1');

    expect(checker.check(`Basic ${Buffer.from('u:pw').toString('base64')}`, '192.0.2.1')).toMatchObject({ ok: false, reason: 'too_many_attempts' });
  });

  it('a route does not forward its errors when "forwardErrors" is inherited', () => {
    auth = createApiKeyAuth({ store: new MemoryKeyStore() });

    const resolved = withPolluted('forwardErrors', true, () => resolveRouteOptions(auth!, {}, 'expressApiKeyAuth'));

    expect(resolved.forwardErrors).toBe(false);
  });
});

describe("keyward's own request state reads nothing from a polluted Object.prototype", () => {
  async function setUp() {
    const store = new MemoryKeyStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const { key } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    auth = createApiKeyAuth({ store, argon2Pool: false });
    return { store, key };
  }

  it('a planted "attempt: false" does not switch the attempt throttle off', async () => {
    const { key } = await setUp();
    Object.defineProperty(Object.prototype, 'attempt', { value: false, configurable: true, writable: true });
    const statuses: number[] = [];
    try {
      for (let attempt = 0; attempt < 12; attempt++) {
        const result = await auth!.authenticate({ ...bearer(wrongSecretOf(key, attempt)), remoteAddress: '192.0.2.1' });
        statuses.push(result.ok ? 200 : result.response.status);
      }
    } finally {
      delete (Object.prototype as Record<string, unknown>).attempt;
    }
    expect(statuses).toContain(429);
  });

  it('a planted "verified" match does not let a forged key with a real lookup id through', async () => {
    const { store, key } = await setUp();
    const row = store.allRows()[0]!;
    const planted = { row: { id: row.id, account_id: row.account_id, key_hash: row.key_hash }, check: { ok: true, matches: true } };
    const result = await withPolluted('verified', planted, () => auth!.authenticate(bearer(wrongSecretOf(key))));
    expect(result.ok ? 200 : result.response.status).toBe(401);
  });

  it('a planted "keyType" does not become the requirement of a route that asks for none', async () => {
    const { key } = await setUp();
    const result = await withPolluted('keyType', 'admin_api', () => auth!.authenticate(bearer(key)));
    expect(result.ok).toBe(true);
  });

  it('planted "headers" and "keyStatus" reach no refusal', async () => {
    await setUp();
    const result = await withPolluted('headers', { 'set-cookie': 'planted=1' }, () =>
      withPolluted('keyStatus', 'planted', () => auth!.authenticate({ headers: {} })),
    );
    if (result.ok) throw new Error('a request without a key passed');
    expect(result.response.headers['set-cookie']).toBeUndefined();
    expect(result.response.body).not.toContain('planted');
  });
});

describe('what keyward hands to its dependencies reads nothing from a polluted Object.prototype', () => {
  function polluted<T>(name: string, value: unknown, run: () => Promise<T>): Promise<T> {
    Object.defineProperty(Object.prototype, name, { value, configurable: true, writable: true });
    return run().finally(() => delete (Object.prototype as Record<string, unknown>)[name]);
  }

  it('a planted lru-cache "ttl" turns neither the attempt throttle nor the memo off', async () => {
    const store = new MemoryKeyStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const { key } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });

    const statuses = await polluted('ttl', 1, async () => {
      auth = createApiKeyAuth({ store, argon2Pool: false });
      const answers: number[] = [];
      for (let attempt = 0; attempt < 12; attempt++) {
        const result = await auth.authenticate({ ...bearer(wrongSecretOf(key, attempt)), remoteAddress: '192.0.2.1' });
        answers.push(result.ok ? 200 : result.response.status);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      return answers;
    });

    expect(statuses).toContain(429);
  });

  it('a planted Argon2 "secret" does not get into the hashes keyward computes', async () => {
    const store = new MemoryKeyStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });

    const { key } = await polluted('secret', new Uint8Array([1, 2, 3]), () => manager.issue({ accountId: 'acct_1', environment: 'sandbox' }));
    auth = createApiKeyAuth({ store, argon2Pool: false });
    const result = await auth.authenticate(bearer(key));

    expect(result.ok).toBe(true);
  });
});

describe('options given as class instances', () => {
  it('honours a getter on the class, as before options were read from own fields', async () => {
    const store = new MemoryKeyStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const { key } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    class ProductionOnly {
      readonly store = store;
      readonly argon2Pool = false as const;
      get environments(): ['production'] {
        return ['production'];
      }
    }
    auth = createApiKeyAuth(new ProductionOnly());

    const result = await auth.authenticate(bearer(key));

    expect(result.ok ? 200 : result.response.status).toBe(401);
  });

  it('honours a keyType getter on a route options class', () => {
    auth = createApiKeyAuth({ store: new MemoryKeyStore() });
    class AdminRoute {
      get keyType(): string {
        return 'admin_api';
      }
    }

    const resolved = resolveRouteOptions(auth, new AdminRoute(), 'expressApiKeyAuth');

    expect(resolved.requirement).toEqual({ keyType: 'admin_api' });
  });
});
