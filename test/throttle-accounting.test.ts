/**
 * The attempt throttle's count of attempts in flight: every attempt entered is left, whatever
 * the store's rows do, so no client is left with a 429 that no window ever ends.
 */
import { describe, expect, it, vi } from 'vitest';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore, type ApiKeyRow, type AuthResult } from 'keyward';
import { AttemptThrottle, type Attempt } from '../src/attempt-throttle.js';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { bearer, forgeSecret } from './helpers/keys.js';

/** A MemoryKeyStore whose rows compute key_hash: the second read of a row's key_hash throws. */
class GetterRowStore extends MemoryKeyStore {
  override findByLookupId(lookupId: string): ApiKeyRow | null {
    const row = super.findByLookupId(lookupId) as ApiKeyRow | null;
    if (row === null) return null;
    const { key_hash: hash, ...rest } = row;
    let reads = 0;
    return Object.defineProperty(rest, 'key_hash', {
      enumerable: true,
      get: () => {
        if (++reads > 1) throw new Error('key_hash read twice');
        return hash;
      },
    }) as ApiKeyRow;
  }
}

describe('attempt throttle in-flight accounting', () => {
  it('reads a row\'s key_hash once, so a getter that throws on a second read leaves no lasting 429', async () => {
    const store = new GetterRowStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_getter', environment: 'sandbox' });
    let now = Date.parse('2026-06-01T00:00:00Z');
    const auth = createApiKeyAuth({
      store,
      environments: ['sandbox'],
      argon2Pool: false,
      clock: () => new Date(now),
      throttle: { maxFailuresPerKey: 3, maxFailuresPerClient: 3, windowMs: 1_000 },
    });
    const ask = async (presented: string) => {
      const result: AuthResult = await auth.authenticate({ headers: bearer(presented), remoteAddress: '10.1.1.1' });
      return result.ok ? 200 : result.response.status;
    };

    const forgeries = [];
    for (const fill of ['A', 'B', 'C', 'D']) forgeries.push(await ask(forgeSecret(key, fill)));
    expect(forgeries).toEqual([401, 401, 401, 429]);

    now += 2_000; // the window is over
    expect(await ask(key)).toBe(200);
    await auth.close();
  });
});

describe('a failure of a key that had matched here (its row rewritten outside keyward)', () => {
  it('counts against the client\'s own address, not the limit clients without an address share', async () => {
    const store = new MemoryKeyStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const { key, card } = await manager.issue({ accountId: 'acct_rewritten', environment: 'sandbox' });
    const other = await manager.issue({ accountId: 'acct_other', environment: 'sandbox' });
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false, throttle: { maxFailuresPerClient: 1 } });
    const from = (address: string | undefined, presented: string) =>
      auth.authenticate({ headers: bearer(presented), ...(address === undefined ? {} : { remoteAddress: address }) });
    expect((await from('198.51.100.4', key)).ok).toBe(true);

    // Another key's hash under the same lookup id: the key that matched before now fails.
    const otherHash = store.allRows().find((row) => row.account_id === 'acct_other')!.key_hash;
    await store.modify(card.keyId, () => ({ key_hash: otherHash }));
    const refused = await from('198.51.100.4', key);
    expect(!refused.ok && refused.response.status).toBe(401);

    // A request without an address, for another key: its shared limit has counted nothing.
    const stranger = await from(undefined, forgeSecret(other.key));
    expect(!stranger.ok && stranger.response.status).toBe(401);
    await auth.close();
  });
});

describe('a clientAddress that returns a promise', () => {
  it('counts the request as one without an address, and its rejection ends nothing: it is logged', async () => {
    const store = new MemoryKeyStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_promised', environment: 'sandbox' });
    const warnings: unknown[] = [];
    const auth = createApiKeyAuth({
      store,
      environments: ['sandbox'],
      argon2Pool: false,
      // Not an async function (setup refuses those), yet it returns a promise.
      clientAddress: () => Promise.reject(new Error('no x-real-ip')) as never,
      logger: { warn: (fields: unknown) => void warnings.push(fields) },
    });

    const refused = await auth.authenticate({ headers: bearer(forgeSecret(key)) });
    await new Promise((resolve) => setTimeout(resolve, 10));

    expect(!refused.ok && refused.response.status).toBe(401);
    expect(warnings).toEqual([{ event: 'keyward.client_address_failed', error: 'Error: no x-real-ip' }]);
    expect((await auth.authenticate({ headers: bearer(key) })).ok).toBe(true);
    await auth.close();
  });
});

describe('what the throttle holds', () => {
  it('is handed the memo key of a presented key, never the key itself, while its check runs', async () => {
    const store = new MemoryKeyStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_1', environment: 'sandbox' });
    const auth = createApiKeyAuth({ store, argon2Pool: false });
    const entered = vi.spyOn(AttemptThrottle.prototype, 'enter');
    const forged = forgeSecret(key);
    try {
      for (const presented of [forged, key]) await auth.authenticate({ headers: bearer(presented), remoteAddress: '203.0.113.7' });
      const held = entered.mock.calls.map(([attempt]) => (attempt as Attempt).credential);
      expect(held).toHaveLength(2);
      for (const credential of held) {
        expect(credential).not.toContain(key.slice(20, 52));
        expect(credential).not.toContain(forged.slice(20, 52));
      }
      expect(new Set(held).size).toBe(2);
    } finally {
      entered.mockRestore();
      await auth.close();
    }
  });
});

describe('the throttle at the edges of a decision', () => {
  /** A store whose lookups take 30 ms, counting them. */
  class SlowLookupStore extends MemoryKeyStore {
    lookups = 0;
    override async findByLookupId(lookupId: string): Promise<ApiKeyRow | null> {
      this.lookups++;
      await new Promise((resolve) => setTimeout(resolve, 30));
      return super.findByLookupId(lookupId);
    }
  }
  const refusalOf = (result: AuthResult) => (result.ok ? { status: 200 } : { status: result.response.status, code: result.error?.code, retryAfter: result.response.headers['retry-after'] });

  it('answers a burst that reaches the per-key limit while the row is being read with 429 and Retry-After 1, never 503', async () => {
    const store = new SlowLookupStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_burst', environment: 'sandbox' });
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], throttle: { maxFailuresPerKey: 2 }, clientAddress: () => '10.0.0.1' });

    const results = await Promise.all(['A', 'B', 'C', 'D', 'E'].map((fill) => auth.authenticate({ headers: bearer(forgeSecret(key, fill)) })));

    const refusals = results.map(refusalOf);
    expect(refusals.map((refusal) => refusal.status)).not.toContain(503);
    expect(refusals).toContainEqual({ status: 429, code: 'ERR_TOO_MANY_ATTEMPTS', retryAfter: '1' });
    await auth.close();
  });

  it('answers a client over its limit with under a second of its window left 429 with Retry-After 1, before any lookup', async () => {
    const store = new SlowLookupStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_late', environment: 'sandbox' });
    let now = Date.parse('2026-06-01T00:00:00Z');
    const auth = createApiKeyAuth({
      store,
      environments: ['sandbox'],
      clock: () => new Date(now),
      throttle: { maxFailuresPerClient: 2, windowMs: 60_000 },
      clientAddress: () => '10.0.0.2',
    });
    for (const fill of ['A', 'B']) await auth.authenticate({ headers: bearer(forgeSecret(key, fill)) });
    now += 59_500;
    const lookupsBefore = store.lookups;

    const result = await auth.authenticate({ headers: bearer(forgeSecret(`sk_test_${'Z'.repeat(12)}${'x'.repeat(38)}`, 'Q')) });

    expect(refusalOf(result)).toEqual({ status: 429, code: 'ERR_TOO_MANY_ATTEMPTS', retryAfter: '1' });
    expect(store.lookups).toBe(lookupsBefore);
    await auth.close();
  });

  it('counts a clientAddress of "" as no address, so the holder sending none is held back with the forgers of its lookup id', async () => {
    const store = new MemoryKeyStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_empty', environment: 'sandbox' });
    const auth = createApiKeyAuth({
      store,
      environments: ['sandbox'],
      throttle: { maxFailuresPerKey: 2 },
      clientAddress: (request) => String(request.headers['x-client']),
    });
    for (const fill of ['A', 'B']) await auth.authenticate({ headers: { ...bearer(forgeSecret(key, fill)), 'x-client': '10.0.0.9' } });

    const result = await auth.authenticate({ headers: { ...bearer(key), 'x-client': '' } });

    expect(refusalOf(result)).toMatchObject({ status: 429 });
    await auth.close();
  });

  it('takes limits given as undefined as their defaults, as the option types allow', async () => {
    const store = new MemoryKeyStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_undef', environment: 'sandbox' });
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], throttle: { maxFailuresPerKey: undefined, maxFailuresPerClient: undefined, windowMs: undefined } });

    const statuses = [];
    for (const fill of 'ABCDEFGHIJK') statuses.push(refusalOf(await auth.authenticate({ headers: bearer(forgeSecret(key, fill)) })).status);

    // The default of 10 failures per key: the eleventh forgery is held back.
    expect(statuses).toEqual([...Array(10).fill(401), 429]);
    await auth.close();
  });
});
