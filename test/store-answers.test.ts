/**
 * Odd answers from a custom store: each is the store's fault (503) or a row keyward can read,
 * never a 500 of keyward's own, and the operator's log line says what happened in words.
 */
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore, type ApiKeyRow, type AuthDecision, type AuthResult } from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { bearer } from './helpers/keys.js';
import { rejection } from './helpers/errors.js';

async function storeWithKey<T extends MemoryKeyStore>(store: T) {
  const { key } = await createKeyManager({ store: new MemoryKeyStore(), argon2: TEST_ARGON2 }).issue({ accountId: 'acct_odd', environment: 'sandbox' });
  return { store, key };
}

describe('odd store answers', () => {
  it('answers a lookup whose answer has a `then` getter that throws with 503 ERR_STORE_UNAVAILABLE, not 500', async () => {
    class ThrowingThen extends MemoryKeyStore {
      override findByLookupId(): ApiKeyRow | null {
        return { get then(): never { throw new Error('then getter'); } } as never;
      }
    }
    const { store, key } = await storeWithKey(new ThrowingThen());
    const decisions: AuthDecision[] = [];
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false, onDecision: (d) => decisions.push(d) });
    const result = (await auth.authenticate({ headers: bearer(key) })) as AuthResult & { ok: false };
    expect([result.response.status, result.error.code]).toEqual([503, 'ERR_STORE_UNAVAILABLE']);
    expect(decisions.map((d) => [d.reason, d.detail])).toEqual([['store_error', 'Error: then getter']]);
    await auth.close();
  });

  it('names a store timeout in words, with an Error as the 503\'s cause', async () => {
    class NeverAnswers extends MemoryKeyStore {
      override findByLookupId(): Promise<ApiKeyRow | null> {
        return new Promise(() => {});
      }
    }
    const { store, key } = await storeWithKey(new NeverAnswers());
    const decisions: AuthDecision[] = [];
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false, storeTimeoutMs: 20, onDecision: (d) => decisions.push(d) });
    const result = (await auth.authenticate({ headers: bearer(key) })) as AuthResult & { ok: false };
    expect([result.response.status, result.error.code]).toEqual([503, 'ERR_STORE_UNAVAILABLE']);
    expect((result.error.cause as Error).message).toBe('findByLookupId did not answer within 20 ms');
    expect(decisions.map((d) => [d.reason, d.detail])).toEqual([['store_timeout', 'Error: findByLookupId did not answer within 20 ms']]);
    await auth.close();
  });

  it.each([
    ['a day ahead', 86_400_000, 200],
    ['a day ago', -86_400_000, 403],
  ])('reads an expires_at Date from another realm (%s) as a time, not a corrupt row', async (_when, offset, status) => {
    const OtherDate = runInNewContext('Date') as DateConstructor;
    const store = new MemoryKeyStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_realm', environment: 'sandbox' });
    class OtherRealmExpiry extends MemoryKeyStore {
      override findByLookupId(lookupId: string): ApiKeyRow | null {
        const row = store.findByLookupId(lookupId) as ApiKeyRow | null;
        return row && { ...row, expires_at: new OtherDate(Date.now() + offset) };
      }
    }
    const auth = createApiKeyAuth({ store: new OtherRealmExpiry(), environments: ['sandbox'], argon2Pool: false });
    const result = await auth.authenticate({ headers: bearer(key) });
    expect(result.ok ? 200 : result.response.status).toBe(status);
    await auth.close();
  });
});

describe('store waits of one request', () => {
  it('shares storeTimeoutMs between the reads before and after an Argon2 run: the second gets what the first left', async () => {
    // Each read takes 150 ms of a 200 ms timeout: alone, either would be in time.
    class SlowStore extends MemoryKeyStore {
      override async findByLookupId(lookupId: string): Promise<ApiKeyRow | null> {
        const row = await super.findByLookupId(lookupId);
        await new Promise((resolve) => setTimeout(resolve, 150));
        return row;
      }
    }
    const store = new SlowStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_slow', environment: 'sandbox' });
    const decisions: AuthDecision[] = [];
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false, storeTimeoutMs: 200, onDecision: (d) => decisions.push(d) });
    try {
      const result = (await auth.authenticate({ headers: bearer(key) })) as AuthResult & { ok: false };
      expect([result.response.status, result.error.code]).toEqual([503, 'ERR_STORE_UNAVAILABLE']);
      expect((result.error.cause as Error).message).toMatch(/^findByLookupId did not answer within the \d+ ms its first read left of 200 ms$/);
      expect(decisions.map((d) => d.reason)).toEqual(['store_timeout']);

      // The match is remembered: the next request reads once, in time, and passes.
      expect((await auth.authenticate({ headers: bearer(key) })).ok).toBe(true);
    } finally {
      await auth.close();
    }
  });

  it('does not ask the store again when the first read used the whole timeout, answering only as it ran out', async () => {
    let reads = 0;
    class LateStore extends MemoryKeyStore {
      override findByLookupId(lookupId: string): Promise<ApiKeyRow | null> {
        reads++;
        // Answers after 30 ms of a 20 ms timeout, holding the event loop, so the answer
        // arrives before the timeout's timer can fire.
        return Promise.resolve(super.findByLookupId(lookupId)).then((row) => {
          const until = Date.now() + 30;
          while (Date.now() < until);
          return row;
        });
      }
    }
    const store = new LateStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_late', environment: 'sandbox' });
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false, storeTimeoutMs: 20 });
    try {
      const result = (await auth.authenticate({ headers: bearer(key) })) as AuthResult & { ok: false };
      expect([result.response.status, result.error.code]).toEqual([503, 'ERR_STORE_UNAVAILABLE']);
      expect((result.error.cause as Error).message).toBe('findByLookupId was not asked again: the first read used all of 20 ms');
      expect(reads).toBe(1);
    } finally {
      await auth.close();
    }
  });
});

describe('rows whose fields are computed', () => {
  /** A store that hands out the issued row with `field` replaced by a getter or a Proxy. */
  async function computedRowStore(dress: (row: ApiKeyRow) => object) {
    const store = new MemoryKeyStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_computed', environment: 'sandbox' });
    class Dressed extends MemoryKeyStore {
      override findByLookupId(lookupId: string): ApiKeyRow | null {
        const row = store.findByLookupId(lookupId) as ApiKeyRow | null;
        return row && (dress(row) as ApiKeyRow);
      }
    }
    return { key, auth: createApiKeyAuth({ store: new Dressed(), environments: ['sandbox'], argon2Pool: false }) };
  }
  const statusOf = (result: AuthResult) => (result.ok ? 200 : result.response.status);

  it.each([
    ['null', null],
    ['text that is no time', 'garbage'],
  ])('decides on the first value of an expires_at getter that later gives %s: an expired key gets 403, never 200', async (_later, later) => {
    const { key, auth } = await computedRowStore((row) => {
      let reads = 0;
      return Object.defineProperty({ ...row }, 'expires_at', { enumerable: true, get: () => (reads++ === 0 ? new Date(1000) : later) });
    });
    expect(statusOf(await auth.authenticate({ headers: bearer(key) }))).toBe(403);
    await auth.close();
  });

  it('answers a row whose status getter throws (a lazy field whose connection dropped) with 503 and Retry-After', async () => {
    const { key, auth } = await computedRowStore((row) =>
      Object.defineProperty({ ...row }, 'status', { enumerable: true, get: () => { throw new Error('connection terminated'); } }),
    );
    const result = (await auth.authenticate({ headers: bearer(key) })) as AuthResult & { ok: false };
    expect([result.response.status, result.error.code, result.response.headers['retry-after']]).toEqual([503, 'ERR_STORE_UNAVAILABLE', '1']);
    await auth.close();
  });

  it('reads a Proxy row whose getPrototypeOf trap throws like any other row', async () => {
    const { key, auth } = await computedRowStore((row) => new Proxy({ ...row }, { getPrototypeOf: () => { throw new Error('trap'); } }));
    expect(statusOf(await auth.authenticate({ headers: bearer(key) }))).toBe(200);
    await auth.close();
  });
});

describe('expires_at given as text by a custom store', () => {
  it.each([
    ['PostgreSQL timestamptz text (a pg type parser that keeps strings)', '2999-12-06 01:20:06.685+00', 200],
    ['PostgreSQL text, passed', '2001-12-06 01:20:06.685+00', 403],
    ['lower-case t and z', '2999-01-01t00:00:00z', 200],
    ['an offset without a colon', '2999-01-01T00:00:00+0000', 200],
    ['a leap second', '2999-12-31T23:59:60Z', 200],
    ['24:00 as the next midnight', '2999-12-31T24:00:00Z', 200],
    ['more than nine fraction digits', '2999-01-01T00:00:00.1234567890123Z', 200],
    ['the year 0000', '0000-01-01T00:00:00Z', 403],
    ['February 31st, not carried into March', '2999-02-31T00:00:00Z', 500],
    ['April 31st', '2999-04-31T00:00:00Z', 500],
    ['hour 25', '2999-01-01T25:00:00Z', 500],
    ['an offset of 24 hours', '2999-01-01T00:00:00+24:00', 500],
    ['ISO 8601 with an offset, passed', '2001-01-01T00:00:00.123+02:00', 403],
    ['a bare number', '1', 500],
    ['a time without a zone', '2001-01-01 00:00:00', 500],
    ['a date alone', '2001-01-01', 500],
  ])('%s (%s) gives %i', async (_what, text, status) => {
    const store = new MemoryKeyStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_forms', environment: 'sandbox' });
    class TextExpiry extends MemoryKeyStore {
      override findByLookupId(lookupId: string): ApiKeyRow | null {
        const row = store.findByLookupId(lookupId) as ApiKeyRow | null;
        return row && ({ ...row, expires_at: text } as unknown as ApiKeyRow);
      }
    }
    const auth = createApiKeyAuth({ store: new TextExpiry(), environments: ['sandbox'], argon2Pool: false });
    const result = await auth.authenticate({ headers: bearer(key) });
    expect(result.ok ? 200 : result.response.status).toBe(status);
    await auth.close();
  });
});

describe('the portal card reads expires_at as the authenticator does', () => {
  it.each([
    ['PostgreSQL text ahead', '2999-12-06 01:20:06.685+00', 'ACTIVE', '2999-12-06T01:20:06.685Z'],
    ['PostgreSQL text passed', '2001-12-06 01:20:06.685+00', 'EXPIRED', '2001-12-06T01:20:06.685Z'],
    ['text it cannot read (no request passes)', 'tomorrow', 'EXPIRED', 'Invalid Date'],
  ])('labels %s %s and shows it as a Date, never as text', async (_what, text, label, shown) => {
    const store = new MemoryKeyStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const { card } = await manager.issue({ accountId: 'acct_card', environment: 'sandbox' });
    class TextExpiry extends MemoryKeyStore {
      override async findById(id: string): Promise<ApiKeyRow | null> {
        const row = await store.findById(id);
        return row && ({ ...row, expires_at: text } as unknown as ApiKeyRow);
      }
    }
    const described = await createKeyManager({ store: new TextExpiry(), argon2: TEST_ARGON2 }).describe(card.keyId);
    expect(described?.statusLabel).toBe(label);
    expect(described?.expiresAt).toBeInstanceOf(Date);
    expect(Number.isNaN(described!.expiresAt!.getTime()) ? 'Invalid Date' : described!.expiresAt!.toISOString()).toBe(shown);
  });
});

describe('the portal card reads created_at and last_used_at as it reads expires_at', () => {
  it.each([
    ['created_at', 'PostgreSQL text', '2026-01-15 09:30:00.123+00', '2026-01-15T09:30:00.123Z'],
    ['created_at', 'ISO 8601 text', '2026-01-15T09:30:00.123Z', '2026-01-15T09:30:00.123Z'],
    ['created_at', 'text it cannot read', 'last week', 'Invalid Date'],
    ['created_at', 'no value', null, 'Invalid Date'],
    ['last_used_at', 'PostgreSQL text', '2026-02-01 12:00:00+02', '2026-02-01T10:00:00.000Z'],
    ['last_used_at', 'text it cannot read', 'just now', 'Invalid Date'],
  ] as const)('shows %s given as %s as a Date, never as text', async (field, _what, stored, shown) => {
    const store = new MemoryKeyStore();
    const { card } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_card', environment: 'sandbox' });
    class TextTimes extends MemoryKeyStore {
      override async findById(id: string): Promise<ApiKeyRow | null> {
        const row = await store.findById(id);
        return row && ({ ...row, [field]: stored } as unknown as ApiKeyRow);
      }
    }
    const described = (await createKeyManager({ store: new TextTimes(), argon2: TEST_ARGON2 }).describe(card.keyId))!;
    const time = field === 'created_at' ? described.createdAt : described.lastUsedAt;
    expect(time).toBeInstanceOf(Date);
    expect(Number.isNaN(time!.getTime()) ? 'Invalid Date' : time!.toISOString()).toBe(shown);
  });

  it('keeps a last_used_at of null as null ("Never")', async () => {
    const store = new MemoryKeyStore();
    const { card } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_card', environment: 'sandbox' });
    expect(card.lastUsedAt).toBeNull();
  });
});

describe('regenerate and an expiry it cannot read', () => {
  it('refuses the row with ERR_STORED_ROW_INVALID and leaves it alone, rather than hand out a key the gateways would answer 500', async () => {
    const store = new MemoryKeyStore();
    const { card } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_unreadable', environment: 'sandbox' });
    // A row as a custom store hands it out with zone-less text, as SQLite would: keyward cannot
    // read it. Planted on the store's own row, as modify takes a Date only.
    const [issued] = store.allRows();
    const stored = new MemoryKeyStore();
    await stored.insert({ ...issued!, expires_at: '2031-01-01 00:00:00' as unknown as Date });
    const before = stored.allRows();

    const error = await rejection(createKeyManager({ store: stored, argon2: TEST_ARGON2 }).regenerate(card.keyId));

    expect([error.code, error.status]).toEqual(['ERR_STORED_ROW_INVALID', 500]);
    expect(error.message).toMatch(/expires_at/);
    expect(stored.allRows()).toEqual(before);
  });

  it('refuses it when the expiry became unreadable between its first read and the write, and writes nothing', async () => {
    // The row as the store hands it over for the write, after another writer changed it.
    class ChangedMeanwhile extends MemoryKeyStore {
      override modify(...[id, change]: Parameters<MemoryKeyStore['modify']>) {
        return super.modify(id, (current) => change({ ...current, expires_at: '2031-01-01 00:00:00' as unknown as Date }));
      }
    }
    const store = new ChangedMeanwhile();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const { card } = await manager.issue({ accountId: 'acct_meanwhile', environment: 'sandbox' });
    const before = store.allRows();

    const error = await rejection(manager.regenerate(card.keyId));

    expect([error.code, error.status]).toEqual(['ERR_STORED_ROW_INVALID', 500]);
    expect(store.allRows()).toEqual(before);
  });
});
