/**
 * What a `clock` option may return. The time is read from the Date's internal time, never
 * through the value's own methods, so a Date subclass that lies cannot make an expired key
 * pass or switch the attempt throttle off, and a real Date from another realm is accepted.
 */
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { checksumOf, createApiKeyAuth, createKeyManager, MemoryKeyStore, type AuthResult } from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { rejection } from './helpers/errors.js';
import { bearer } from './helpers/keys.js';

const HOUR = 3_600_000;

/** An invalid Date (no time at all) whose own getTime claims the present. */
class ClaimsNow extends Date {
  override getTime(): number {
    return Date.now();
  }
}

/** An invalid Date whose own getTime gives a string. */
class GivesText extends Date {
  override getTime(): number {
    return 'later' as unknown as number;
  }
}

/** A real time whose own valueOf (what `<` and `<=` read) claims 1970. */
class ComparesAsEpoch extends Date {
  override valueOf(): number {
    return 0;
  }
}

/** A real time whose own getTime throws. */
class GetTimeThrows extends Date {
  override getTime(): number {
    throw new Error('getTime is not for you');
  }
}

/** A store with one key that expired an hour ago. */
async function expiredKey() {
  const store = new MemoryKeyStore();
  const manager = createKeyManager({ store, argon2: TEST_ARGON2, clock: () => new Date(Date.now() - 2 * HOUR) });
  const { key } = await manager.issue({ accountId: 'acct_clock', environment: 'sandbox', expiresAt: new Date(Date.now() - HOUR) });
  return { store, key };
}

function statusOf(result: AuthResult): number {
  return result.ok ? 200 : result.response.status;
}

describe('createApiKeyAuth: the clock read through the Date itself', () => {
  const authFor = (store: MemoryKeyStore, clock: () => Date) =>
    createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false, clock, throttle: { maxFailuresPerKey: 3 } });

  it('answers an expired key with 500, never 200, when the clock gives an invalid Date whose getTime claims the present', async () => {
    const { store, key } = await expiredKey();
    const auth = authFor(store, () => new ClaimsNow(Number.NaN));
    const result = (await auth.authenticate({ headers: bearer(key) })) as AuthResult & { ok: false };
    expect([result.response.status, result.error.code]).toEqual([500, 'ERR_INTERNAL']);
    await auth.close();
  });

  it('answers forgeries with 500 when the clock gives an invalid Date whose getTime gives text, so the throttle cannot be switched off', async () => {
    const { store, key } = await expiredKey();
    const auth = authFor(store, () => new GivesText(Number.NaN));
    const statuses: number[] = [];
    for (let n = 0; n < 5; n++) {
      const body = key.slice(0, 20) + String(n).padStart(32, 'Q');
      statuses.push(statusOf(await auth.authenticate({ headers: bearer(body + checksumOf(body)) })));
    }
    expect(statuses).toEqual([500, 500, 500, 500, 500]);
    await auth.close();
  });

  it('still answers an expired key with 403 when the clock gives a Date whose valueOf claims 1970', async () => {
    const { store, key } = await expiredKey();
    const auth = authFor(store, () => new ComparesAsEpoch());
    const result = (await auth.authenticate({ headers: bearer(key) })) as AuthResult & { ok: false };
    expect([result.response.status, result.error.code]).toEqual([403, 'ERR_API_KEY_INACTIVE']);
    await auth.close();
  });

  it('takes a Date from another realm: an expired key gets 403 and a live key passes', async () => {
    const { store, key } = await expiredKey();
    const auth = authFor(store, () => runInNewContext('new Date()') as Date);
    expect(statusOf(await auth.authenticate({ headers: bearer(key) }))).toBe(403);
    const live = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_live', environment: 'sandbox' });
    expect(statusOf(await auth.authenticate({ headers: bearer(live.key) }))).toBe(200);
    await auth.close();
  });
});

describe('createKeyManager: the clock read through the Date itself', () => {
  it('refuses an invalid Date whose getTime claims the present with ERR_OPTIONS_INVALID and writes nothing', async () => {
    const store = new MemoryKeyStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2, clock: () => new ClaimsNow(Number.NaN) });
    const error = await rejection(manager.issue({ accountId: 'acct_clock', environment: 'sandbox' }));
    expect(error).toMatchObject({ code: 'ERR_OPTIONS_INVALID', status: 500, expose: false });
    expect(error.message).toBe('createKeyManager: clock() returned no valid Date.');
    expect(store.allRows()).toEqual([]);
  });

  it.each([
    ['a Date from another realm', () => runInNewContext('new Date(1767225600000)') as Date],
    ['a Date whose own getTime throws', () => new GetTimeThrows(1767225600000)],
    ['a Date whose own valueOf claims 1970', () => new ComparesAsEpoch(1767225600000)],
  ])('stores the real time of %s as a plain Date', async (_name, clock) => {
    const store = new MemoryKeyStore();
    const { card } = await createKeyManager({ store, argon2: TEST_ARGON2, clock }).issue({ accountId: 'acct_clock', environment: 'sandbox' });
    const stored = store.allRows()[0]!.created_at;
    expect(Object.getPrototypeOf(stored)).toBe(Date.prototype);
    expect(stored.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(card.createdAt.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });
});

describe('clock times outside what stores can hold', () => {
  const outside: [string, () => Date][] = [
    ['before 1970', () => new Date(-1)],
    ['the earliest Date', () => new Date(-8.64e15)],
    ['after 9999', () => new Date(Date.UTC(10000, 0, 1))],
    ['the latest Date', () => new Date(8.64e15)],
  ];

  it.each(outside)('the key manager refuses a clock %s with ERR_OPTIONS_INVALID and writes nothing', async (_name, clock) => {
    const store = new MemoryKeyStore();
    const error = await rejection(createKeyManager({ store, argon2: TEST_ARGON2, clock }).issue({ accountId: 'acct_clock', environment: 'sandbox' }));
    expect(error).toMatchObject({ code: 'ERR_OPTIONS_INVALID', status: 500 });
    expect(store.allRows()).toEqual([]);
  });

  it.each(outside)('the authenticator answers a live key with 500, not 200, under a clock %s', async (_name, clock) => {
    const store = new MemoryKeyStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_clock', environment: 'sandbox' });
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false, clock });
    const result = (await auth.authenticate({ headers: bearer(key) })) as AuthResult & { ok: false };
    expect([result.response.status, result.error.code]).toEqual([500, 'ERR_INTERNAL']);
    await auth.close();
    expect(store.allRows()[0]!.last_used_at).toBeNull();
  });

  it.each([
    ['before 1970', -1],
    ['after 9999', Date.UTC(10000, 0, 1)],
  ])('the authenticator answers a live key with 500, not 200, when the system clock (no clock option) reads a time %s', async (_name, time) => {
    const store = new MemoryKeyStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_clock', environment: 'sandbox' });
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false });
    expect((await auth.authenticate({ headers: bearer(key) })).ok).toBe(true);
    const now = vi.spyOn(Date, 'now').mockReturnValue(time);
    try {
      const result = (await auth.authenticate({ headers: bearer(key) })) as AuthResult & { ok: false };
      expect([result.response.status, result.error.code]).toEqual([500, 'ERR_INTERNAL']);
    } finally {
      now.mockRestore();
    }
    await auth.close();
  });

  it('takes the first and the last millisecond of the range', async () => {
    for (const time of [Date.UTC(1970, 0, 1), Date.UTC(9999, 11, 31, 23, 59, 59, 999)]) {
      const store = new MemoryKeyStore();
      const { card } = await createKeyManager({ store, argon2: TEST_ARGON2, clock: () => new Date(time) }).issue({ accountId: 'acct_clock', environment: 'sandbox' });
      expect(card.createdAt.getTime()).toBe(time);
    }
  });
});
