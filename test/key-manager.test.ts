import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ApiKeyAuthError,
  API_KEY_PATTERN,
  MemoryKeyStore,
  createApiKeyAuth,
  createKeyManager,
  generateApiKey,
  type ApiKeyAuth,
  type ApiKeyRow,
  type IssuedKey,
  type KeyManager,
  type KeyStatus,
} from '../src/index.js';
import { sampleRow } from 'keyward/store-conformance';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { rejection } from './helpers/errors.js';
import { testSecretBytes } from './helpers/secret-bytes.js';

const SEALING = { current: 'k1', keys: { k1: testSecretBytes(7) } };

let store: MemoryKeyStore;
let auth: ApiKeyAuth;
let manager: KeyManager;

beforeEach(() => {
  store = new MemoryKeyStore();
  auth = createApiKeyAuth({ store });
  manager = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: SEALING });
});

afterEach(async () => {
  await auth.close();
});

/** What a gateway answers for this key: 200, or the refusal's status and parsed body. */
async function call(key: string): Promise<{ status: number; body?: any }> {
  const result = await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });
  if (result.ok) return { status: 200 };
  return { status: result.response.status, body: JSON.parse(result.response.body) };
}

describe('createKeyManager: issue', () => {
  it('returns a well-formed cleartext key once, and that key authenticates', async () => {
    const { key, card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });

    expect(key).toMatch(API_KEY_PATTERN);
    expect(key.startsWith('sk_test_')).toBe(true);
    expect(card.keyId).toMatch(/^key_/);
    expect(await call(key)).toEqual({ status: 200 });
  });

  it('stores no copy of the cleartext, only its hash and masked form', async () => {
    const { key } = await manager.issue({ accountId: 'acct_1', environment: 'production' });
    const [row] = store.allRows();

    expect(JSON.stringify(row)).not.toContain(key);
    expect(JSON.stringify(row)).not.toContain(key.slice(20, 52));
    expect(row!.key_hash.startsWith('$argon2id$v=19$m=256,t=1,p=1$')).toBe(true);
  });

  it('refuses a second key for the same account and environment with ERR_KEY_EXISTS', async () => {
    await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });

    const error = await rejection(manager.issue({ accountId: 'acct_1', environment: 'sandbox' }));

    expect(error.code).toBe('ERR_KEY_EXISTS');
    expect(error.status).toBe(409);
    expect(error.message).toMatch(/regenerate/);
    expect(store.allRows()).toHaveLength(1);
  });

  it('lets two racing issues for one account leave exactly one key', async () => {
    const results = await Promise.allSettled([
      manager.issue({ accountId: 'acct_1', environment: 'sandbox' }),
      manager.issue({ accountId: 'acct_1', environment: 'sandbox' }),
    ]);

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((failed.reason as ApiKeyAuthError).code).toBe('ERR_KEY_EXISTS');
    expect(store.allRows()).toHaveLength(1);
  });

  it('allows one key per environment for the same account', async () => {
    await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const { card } = await manager.issue({ accountId: 'acct_1', environment: 'production' });

    expect(card.environment).toBe('production');
  });

  it('allows a new key once the previous one is revoked or deleted', async () => {
    const first = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    await manager.revoke(first.card.keyId);
    const second = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    await manager.softDelete(second.card.keyId);

    const third = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });

    expect(await call(third.key)).toEqual({ status: 200 });
  });
});

describe('createKeyManager: describe', () => {
  it('hands out card Dates of the card\'s own, so formatting one in place cannot move a stored expiry', async () => {
    // A store that hands out the very Date objects it holds (one that fails the conformance
    // suite) must still not let an app's card.expiresAt.setFullYear(…) reach the row.
    const expiresAt = new Date(Date.now() + 1_000);
    const held = sampleRow({ expires_at: expiresAt, created_at: new Date('2026-01-15T09:30:00Z'), last_used_at: new Date('2026-02-01T00:00:00Z') });
    const sharing = Object.assign(new MemoryKeyStore(), { findById: async (id: string) => (id === held.id ? held : null) });
    const card = (await createKeyManager({ store: sharing, argon2: TEST_ARGON2 }).describe(held.id))!;

    card.expiresAt!.setFullYear(2099);
    card.createdAt.setTime(0);
    card.lastUsedAt!.setTime(0);

    expect([held.expires_at, held.created_at, held.last_used_at]).toEqual([expiresAt, new Date('2026-01-15T09:30:00Z'), new Date('2026-02-01T00:00:00Z')]);
    expect(held.expires_at!.getFullYear()).not.toBe(2099);
  });

  it('shows the six card fields, the masked key and webhook settings, and never the key', async () => {
    const now = new Date('2026-03-01T10:00:00Z');
    const clocked = createKeyManager({ store, argon2: TEST_ARGON2, clock: () => now });
    const { key, card } = await clocked.issue({ accountId: 'acct_1', environment: 'production' });

    const described = await clocked.describe(card.keyId);

    expect(described).toEqual({
      keyId: card.keyId,
      keyType: 'sms_api',
      status: 'allowed',
      statusLabel: 'ACTIVE',
      environment: 'production',
      createdAt: now,
      lastUsedAt: null,
      expiresAt: null,
      maskedKey: `${key.slice(0, 12)}\u2026${key.slice(-4)}`,
      webhook: { url: null, username: null, basicAuthConfigured: false },
    });
    expect(described!.maskedKey).toMatch(/^sk_live_[0-9A-Za-z]{4}\u2026[0-9A-Za-z]{4}$/);
    expect(JSON.stringify(described)).not.toContain(key.slice(12, 40));
  });

  it('labels suspended-like statuses SUSPENDED and expired ones EXPIRED', async () => {
    const { card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const labels: Record<string, string> = {};
    for (const status of ['allowed', 'pending_validation', 'suspended', 'revoqued', 'locked', 'expired', 'rejected'] as const) {
      labels[status] = (await manager.setStatus(card.keyId, status)).statusLabel;
    }

    expect(labels).toEqual({
      allowed: 'ACTIVE',
      pending_validation: 'SUSPENDED',
      suspended: 'SUSPENDED',
      revoqued: 'SUSPENDED',
      locked: 'SUSPENDED',
      expired: 'EXPIRED',
      rejected: 'SUSPENDED',
    });
  });

  it('labels an allowed key whose expires_at has passed EXPIRED, as authentication answers', async () => {
    const { key, card } = await manager.issue({
      accountId: 'acct_1',
      environment: 'sandbox',
      expiresAt: new Date(Date.now() - 1000),
    });

    expect(card.statusLabel).toBe('EXPIRED');
    expect((await call(key)).body.error.key_status).toBe('expired');
  });

  it('keeps SUSPENDED for a suspended key whose expires_at has passed, as authentication answers', async () => {
    const { key, card } = await manager.issue({
      accountId: 'acct_1',
      environment: 'sandbox',
      status: 'suspended',
      expiresAt: new Date(Date.now() - 1000),
    });

    expect(card.statusLabel).toBe('SUSPENDED');
    expect((await call(key)).body.error.key_status).toBe('suspended');
  });

  it('shows last used once the key has authenticated a call', async () => {
    const { key, card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    await call(key);
    await auth.flushUsage();

    expect((await manager.describe(card.keyId))!.lastUsedAt).toBeInstanceOf(Date);
  });

  it('returns null for an unknown key, and the empty state for an account without one', async () => {
    expect(await manager.describe('key_nope')).toBeNull();
    expect(await manager.describeAccount('acct_none', 'sandbox')).toBeNull();
  });

  it('finds the live key of an account by environment', async () => {
    const { card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });

    expect((await manager.describeAccount('acct_1', 'sandbox'))!.keyId).toBe(card.keyId);
    expect(await manager.describeAccount('acct_1', 'production')).toBeNull();
  });
});

describe('createKeyManager: regenerate', () => {
  it('makes the old key answer the generic 401 as soon as it returns, and the new one 200', async () => {
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const unknown = await call(generateApiKey('sandbox').key);
    expect(await call(issued.key)).toEqual({ status: 200 });

    const regenerated = await manager.regenerate(issued.card.keyId);

    const old = await call(issued.key);
    expect(old.status).toBe(401);
    expect(old.body).toEqual(unknown.body);
    expect(await call(regenerated.key)).toEqual({ status: 200 });
    expect(regenerated.key).not.toBe(issued.key);
  });

  it('keeps key id, created date and webhook settings, and resets last used to never', async () => {
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'production' });
    await manager.setWebhook(issued.card.keyId, {
      url: 'https://hooks.example.com/in',
      username: 'hook-relay',
      password: 'p4ss:w0rd:x',
    });
    await call(issued.key);
    await auth.flushUsage();
    const sealedBefore = store.allRows()[0]!.webhook_basic_auth_password_sealed;

    const { card } = await manager.regenerate(issued.card.keyId);

    expect(card.keyId).toBe(issued.card.keyId);
    expect(card.createdAt).toEqual(issued.card.createdAt);
    expect(card.lastUsedAt).toBeNull();
    expect(card.maskedKey).not.toBe(issued.card.maskedKey);
    expect(card.webhook).toEqual({
      url: 'https://hooks.example.com/in',
      username: 'hook-relay',
      basicAuthConfigured: true,
    });
    expect(store.allRows()[0]!.webhook_basic_auth_password_sealed).toBe(sealedBefore);
    expect(await manager.webhookAuthorization(card.keyId)).toBe('Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==');
  });

  const carryOver: [KeyStatus | 'revoked', string, number, string?][] = [
    ['allowed', 'allowed', 200],
    ['expired', 'allowed', 200],
    ['revoqued', 'allowed', 200],
    ['revoked', 'allowed', 200],
    ['suspended', 'suspended', 403, 'suspended'],
    ['locked', 'locked', 403, 'locked'],
    ['pending_validation', 'pending_validation', 403, 'pending_validation'],
    ['rejected', 'rejected', 403, 'rejected'],
  ];

  it.each(carryOver)('turns status %s into %s (new key answers %i)', async (before, after, status, keyStatus) => {
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    // 'revoked' is the alias a backend may have stored; the manager itself writes 'revoqued'.
    await store.modify(issued.card.keyId, () => ({ status: before }));

    const { key, card } = await manager.regenerate(issued.card.keyId);

    expect(card.status).toBe(after);
    const answer = await call(key);
    expect(answer.status).toBe(status);
    if (keyStatus) expect(answer.body.error.key_status).toBe(keyStatus);
  });

  it('keeps an unknown status value as it is (fails closed)', async () => {
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    await store.modify(issued.card.keyId, () => ({ status: 'Active' }));

    const { key, card } = await manager.regenerate(issued.card.keyId);

    expect(card.status).toBe('Active');
    expect((await call(key)).status).toBe(403);
  });

  it('lifts an expires_at in the past: the new key works and the card reads ACTIVE', async () => {
    const issued = await manager.issue({
      accountId: 'acct_1',
      environment: 'sandbox',
      expiresAt: new Date(Date.now() - 60_000),
    });
    expect((await call(issued.key)).status).toBe(403);

    const { key, card } = await manager.regenerate(issued.card.keyId);

    expect(card.expiresAt).toBeNull();
    expect(card.statusLabel).toBe('ACTIVE');
    expect(await call(key)).toEqual({ status: 200 });
  });

  it('clears a passed expires_at but keeps a suspension in place', async () => {
    const issued = await manager.issue({
      accountId: 'acct_1',
      environment: 'sandbox',
      status: 'suspended',
      expiresAt: new Date(Date.now() - 60_000),
    });

    const { key, card } = await manager.regenerate(issued.card.keyId);

    expect(card.status).toBe('suspended');
    expect((await call(key)).body.error.key_status).toBe('suspended');
  });

  it.each(['revoqued', 'expired'] as const)(
    'lifts %s to allowed but keeps an expires_at still in the future',
    async (status) => {
      const later = new Date(Date.now() + 30 * 86_400_000);
      const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox', expiresAt: later });
      await manager.setStatus(issued.card.keyId, status);

      const { card } = await manager.regenerate(issued.card.keyId);

      expect([card.status, card.expiresAt]).toEqual(['allowed', later]);
    },
  );

  it('keeps an expires_at still in the future', async () => {
    const later = new Date(Date.now() + 86_400_000);
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox', expiresAt: later });

    const { card } = await manager.regenerate(issued.card.keyId);

    expect(card.expiresAt).toEqual(later);
  });

  it('lets exactly one of two racing regenerates win; the other gets ERR_KEY_CONFLICT and no key', async () => {
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });

    const results = await Promise.allSettled([
      manager.regenerate(issued.card.keyId),
      manager.regenerate(issued.card.keyId),
    ]);

    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const error = lost[0]!.reason as ApiKeyAuthError;
    expect(error.code).toBe('ERR_KEY_CONFLICT');
    expect(error.status).toBe(409);

    const winner = won[0]!.value;
    const live = store.allRows().filter((row) => !row.soft_deleted && row.revoked_at === null);
    expect(live).toHaveLength(1);
    expect(winner.key.slice(8, 20)).toBe(live[0]!.lookup_id);
    expect(await call(winner.key)).toEqual({ status: 200 });
    expect((await call(issued.key)).status).toBe(401);
  });

  it('never writes a losing regenerate\'s key to the store, with three racing', async () => {
    // Capture the loser's key by reading every key the store ever mapped: the loser's
    // lookup id must never have been written.
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const seen = new Set<string>();
    const original = store.modify.bind(store);
    store.modify = async (id, change) => {
      const row = await original(id, change);
      if (row) seen.add(row.lookup_id);
      return row;
    };

    const results = await Promise.allSettled([
      manager.regenerate(issued.card.keyId),
      manager.regenerate(issued.card.keyId),
      manager.regenerate(issued.card.keyId),
    ]);

    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect([...seen]).toEqual([won[0]!.value.key.slice(8, 20)]);
  });

  it.each([
    ['an environment keyward does not know', { environment: 'staging' }, 'bad_environment'],
    ['an environment named like an Object.prototype member', { environment: 'constructor' }, 'bad_environment'],
    ['no account', { account_id: '' }, 'bad_account_id'],
    ['no key type', { key_type: null }, 'bad_key_type'],
  ])('refuses a row with %s with ERR_STORED_ROW_INVALID and leaves it as it was, rather than returning a key that never works', async (_name, fields, problem) => {
    const store = new MemoryKeyStore();
    const row = sampleRow(fields as Partial<ApiKeyRow>);
    await store.insert(row);
    const before = store.allRows();

    const error = await rejection(createKeyManager({ store, argon2: TEST_ARGON2 }).regenerate(row.id));

    expect([error.code, error.status, error.message, error.expose]).toEqual(['ERR_STORED_ROW_INVALID', 500, `stored row invalid (${problem})`, false]);
    expect(store.allRows()).toEqual(before);
  });

  it('answers ERR_KEY_NOT_FOUND for a revoked, deleted or unknown key', async () => {
    const revoked = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    await manager.revoke(revoked.card.keyId);
    const deleted = await manager.issue({ accountId: 'acct_2', environment: 'sandbox' });
    await manager.softDelete(deleted.card.keyId);

    for (const keyId of [revoked.card.keyId, deleted.card.keyId, 'key_unknown']) {
      const error = await rejection(manager.regenerate(keyId));
      expect(error.code).toBe('ERR_KEY_NOT_FOUND');
      expect(error.status).toBe(404);
    }
  });
});

/**
 * A MemoryKeyStore whose next writes fail with ERR_STORE_UNAVAILABLE, either after they were
 * done (`landed`: the answer was lost on the way back), instead (`lost`), or after `modify`
 * handed the row to the change but wrote nothing (`dropped`: a transaction rolled back). With
 * `staysDown`, every call after such a failure fails too, until `down` is cleared.
 */
class LossyStore extends MemoryKeyStore {
  /**
   * Besides the faults above: `assigned`, a `dropped` whose store assigns the patch to the row
   * it handed over first (an ORM's entity); `retried`, a `landed` whose store runs the
   * transaction again, handing `change` the row as `meanwhile` left it, and fails.
   */
  writes: ('landed' | 'lost' | 'dropped' | 'assigned' | 'retried')[] = [];
  staysDown = false;
  down = false;
  /** Another request's write, run once after the next `landed` or `dropped` one, before its failure. */
  meanwhile: ((modify: MemoryKeyStore['modify']) => Promise<unknown>) | undefined;
  /** Hands `change` an ORM-like entity, whose fields are getters on its prototype, on a `dropped` write. */
  handOverAsGetters = false;

  static unavailable(): ApiKeyAuthError {
    return new ApiKeyAuthError('ERR_STORE_UNAVAILABLE', 'keyward test store: no answer', { status: 503, expose: false });
  }

  override async findById(id: string): Promise<ApiKeyRow | null> {
    if (this.down) throw LossyStore.unavailable();
    return super.findById(id);
  }

  override async insert(row: ApiKeyRow): Promise<void> {
    await this.#write(() => super.insert(row));
  }

  override async modify(...args: Parameters<MemoryKeyStore['modify']>): Promise<ApiKeyRow | null> {
    const [id, change] = args;
    const fault = this.writes[0];
    if (fault === 'dropped' || fault === 'assigned') {
      this.writes.shift();
      await super.modify(id, (row) => {
        const patch = change(this.handOverAsGetters ? entityOf(row) : row);
        if (fault === 'assigned' && patch) Object.assign(row, patch);
        return null;
      });
      await this.#another();
      throw LossyStore.unavailable();
    }
    if (fault === 'retried') {
      this.writes.shift();
      await super.modify(id, change);
      await this.#another();
      // The retry's own failure, a throw of `change` included, is answered as the store's.
      await super.modify(id, (row) => {
        change(row);
        return null;
      }).catch(() => undefined);
      throw LossyStore.unavailable();
    }
    return this.#write(() => super.modify(...args));
  }

  async #write<T>(write: () => Promise<T>): Promise<T> {
    if (this.down) throw LossyStore.unavailable();
    const fault = this.writes.shift();
    if (fault === 'lost') this.down = this.staysDown;
    if (fault === 'lost') throw LossyStore.unavailable();
    const result = await write();
    if (fault === 'landed') {
      await this.#another();
      this.down = this.staysDown;
      throw LossyStore.unavailable();
    }
    return result;
  }

  async #another(): Promise<void> {
    const write = this.meanwhile;
    this.meanwhile = undefined;
    if (write) await write((id, change) => super.modify(id, change));
  }
}

/** The row as an object whose fields are getters on its prototype, as some ORMs' entities are. */
function entityOf(row: ApiKeyRow): ApiKeyRow {
  const getters = Object.fromEntries(Object.keys(row).map((name) => [name, { get: () => row[name as keyof ApiKeyRow] }]));
  return Object.create(Object.defineProperties({}, getters)) as ApiKeyRow;
}

describe('createKeyManager: a write the store could not confirm', () => {
  let lossy: LossyStore;

  beforeEach(async () => {
    await auth.close();
    store = lossy = new LossyStore();
    auth = createApiKeyAuth({ store });
    manager = createKeyManager({ store, argon2: TEST_ARGON2 });
  });

  it('regenerate returns the new key when its write landed but the answer was lost', async () => {
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    lossy.writes = ['landed'];

    const regenerated = await manager.regenerate(issued.card.keyId);

    expect(await call(regenerated.key)).toEqual({ status: 200 });
    expect((await call(issued.key)).status).toBe(401);
    expect(regenerated.card.maskedKey).toBe(lossy.allRows()[0]!.masked_key);
  });

  it('regenerate says nothing was written, with the store error as its cause, when the store failed before it had the row', async () => {
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    lossy.writes = ['lost'];

    const modify = vi.spyOn(lossy, 'modify');
    const error = await rejection(manager.regenerate(issued.card.keyId));

    expect([error.code, error.message, (error.cause as Error).message]).toEqual([
      'ERR_STORE_UNAVAILABLE',
      'The store did not confirm the regenerate: it was not written, and the old key still works. Trying again is safe.',
      'keyward test store: no answer',
    ]);
    expect(await call(issued.key)).toEqual({ status: 200 });
    // The store failed before it handed the row to the change: nothing to read again.
    expect(modify).toHaveBeenCalledTimes(1);
  });

  it('regenerate says nothing was written when the store had the row but nothing landed, and the old key keeps working', async () => {
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    lossy.writes = ['dropped'];

    const error = await rejection(manager.regenerate(issued.card.keyId));

    expect([error.code, error.message, (error.cause as Error).message]).toEqual([
      'ERR_STORE_UNAVAILABLE',
      'The store did not confirm the regenerate: it was not written, and the old key still works. Trying again is safe.',
      'keyward test store: no answer',
    ]);
    expect(await call(issued.key)).toEqual({ status: 200 });
  });

  it('regenerate says the outcome is unknown when the row cannot be read again, and regenerating again is safe', async () => {
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    lossy.writes = ['landed'];
    lossy.staysDown = true;

    const error = await rejection(manager.regenerate(issued.card.keyId));
    expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503, expose: false });
    expect(error.message).toBe(
      'The store did not confirm the regenerate and could not be read again: the old key may already have stopped working, and the new key was not returned. Regenerating again is safe: it replaces whichever key is current.',
    );
    expect((error.cause as Error).message).toBe('keyward test store: no answer');

    lossy.down = false;
    const again = await manager.regenerate(issued.card.keyId);
    expect(await call(again.key)).toEqual({ status: 200 });
    expect((await call(issued.key)).status).toBe(401);
  });

  it('issue returns the key when its row landed but the answer was lost', async () => {
    lossy.writes = ['landed'];

    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });

    expect(await call(issued.key)).toEqual({ status: 200 });
    expect(lossy.allRows()).toHaveLength(1);
  });

  it('issue says no key was stored, with the store error as its cause, when no row landed, and issuing again works', async () => {
    lossy.writes = ['lost'];

    const error = await rejection(manager.issue({ accountId: 'acct_1', environment: 'sandbox' }));

    expect([error.code, error.message, (error.cause as Error).message]).toEqual([
      'ERR_STORE_UNAVAILABLE',
      'The store did not confirm the new key, and no live row holds it: it was not stored, or another request revoked or deleted it at once. Nobody holds it. Issuing again is safe: should the write still land, issue answers ERR_KEY_EXISTS, and regenerate replaces it.',
      'keyward test store: no answer',
    ]);
    expect(lossy.allRows()).toHaveLength(0);
    expect(await call((await manager.issue({ accountId: 'acct_1', environment: 'sandbox' })).key)).toEqual({ status: 200 });
  });

  it('issue says the outcome is unknown when the row cannot be read again; issuing again then says ERR_KEY_EXISTS and regenerate recovers', async () => {
    lossy.writes = ['landed'];
    lossy.staysDown = true;

    const error = await rejection(manager.issue({ accountId: 'acct_1', environment: 'sandbox' }));
    expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503, expose: false });
    expect(error.message).toBe(
      'The store did not confirm the new key and could not be read again: it may have been stored, and nobody holds it. Issuing again is safe: if it was stored, issue answers ERR_KEY_EXISTS, and regenerate replaces it.',
    );

    lossy.down = false;
    expect((await rejection(manager.issue({ accountId: 'acct_1', environment: 'sandbox' }))).code).toBe('ERR_KEY_EXISTS');
    const card = (await manager.describeAccount('acct_1', 'sandbox'))!;
    expect(await call((await manager.regenerate(card.keyId)).key)).toEqual({ status: 200 });
  });

  describe('revoke, soft delete, status and webhook writes', () => {
    let issued: IssuedKey;
    beforeEach(async () => {
      issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    });

    it('revoke and softDelete succeed when the write landed but the answer was lost; the key then gets 401', async () => {
      lossy.writes = ['landed'];
      await manager.revoke(issued.card.keyId);
      expect((await call(issued.key)).status).toBe(401);
      expect(lossy.allRows()[0]!.revoked_at).toBeInstanceOf(Date);

      const other = await manager.issue({ accountId: 'acct_2', environment: 'sandbox' });
      lossy.writes = ['landed'];
      await manager.softDelete(other.card.keyId);
      expect((await call(other.key)).status).toBe(401);
    });

    it('setStatus, setWebhook and clearWebhook return the card as written when the write landed but the answer was lost', async () => {
      lossy.writes = ['landed'];
      expect((await manager.setStatus(issued.card.keyId, 'suspended')).status).toBe('suspended');

      lossy.writes = ['landed'];
      const card = await manager.setWebhook(issued.card.keyId, { url: 'https://hooks.example.com/in', username: 'relay' });
      expect(card.webhook).toEqual({ url: 'https://hooks.example.com/in', username: 'relay', basicAuthConfigured: false });

      lossy.writes = ['landed'];
      expect((await manager.clearWebhook(issued.card.keyId)).webhook.url).toBeNull();
    });

    it.each([
      ['the store failed before it had the row', 'lost'],
      ['the row was handed over but nothing landed', 'dropped'],
    ] as const)('says nothing was written, with the store error as its cause, when %s, and the key keeps working', async (_when, fault) => {
      const writes: [() => Promise<unknown>, string][] = [
        [() => manager.revoke(issued.card.keyId), 'The store did not confirm the revoke: it was not written, and the key still works. Trying again is safe.'],
        [() => manager.softDelete(issued.card.keyId), 'The store did not confirm the soft delete: it was not written, and the key still works. Trying again is safe.'],
        [() => manager.setStatus(issued.card.keyId, 'suspended'), 'The store did not confirm the new status: it was not written. Trying again is safe.'],
      ];
      for (const [write, message] of writes) {
        lossy.writes = [fault];
        const error = await rejection(write());
        expect([error.code, error.status, error.message, (error.cause as Error).message]).toEqual(['ERR_STORE_UNAVAILABLE', 503, message, 'keyward test store: no answer']);
        expect(await call(issued.key)).toEqual({ status: 200 });
      }
    });

    it.each([
      ['the write landed', 'landed'],
      ['nothing landed', 'dropped'],
    ] as const)('answers ERR_KEY_CONFLICT, never "not written", when another request set the same field meanwhile and %s', async (_when, fault) => {
      lossy.writes = [fault];
      lossy.meanwhile = (modify) => modify(issued.card.keyId, () => ({ status: 'locked' }));

      const error = await rejection(manager.setStatus(issued.card.keyId, 'suspended'));

      expect([error.code, error.status, error.message, (error.cause as Error).message]).toEqual([
        'ERR_KEY_CONFLICT',
        409,
        'The store did not confirm the new status, and another request changed the same fields meanwhile: whether this write landed before it is unknown. Read the key before trying again.',
        'keyward test store: no answer',
      ]);
      expect(lossy.allRows()[0]!.status).toBe('locked');
    });

    it('answers ERR_KEY_CONFLICT when its write landed, another request set the same field, and the store ran the transaction again and failed', async () => {
      lossy.writes = ['retried'];
      lossy.meanwhile = (modify) => modify(issued.card.keyId, () => ({ status: 'locked' }));

      const error = await rejection(manager.setStatus(issued.card.keyId, 'suspended'));

      expect([error.code, lossy.allRows()[0]!.status]).toEqual(['ERR_KEY_CONFLICT', 'locked']);
    });

    it('succeeds, never saying "not written", when its write landed and the retry\'s patch threw on the row another request left', async () => {
      const sealing = createKeyManager({ store: lossy, argon2: TEST_ARGON2, webhookKeys: SEALING });
      await sealing.setWebhook(issued.card.keyId, { url: 'https://hooks.example.com/in', username: 'relay', password: 'first-pass' });
      const sealedBefore = lossy.allRows()[0]!.webhook_basic_auth_password_sealed;
      lossy.writes = ['retried'];
      // A hand-written username the rules refuse, so keeping it with a password throws.
      lossy.meanwhile = (modify) => modify(issued.card.keyId, () => ({ webhook_basic_auth_username: 'bad:name' }));

      const card = await sealing.setWebhook(issued.card.keyId, { url: 'https://hooks.example.com/in', password: 'second-pass' });

      expect(card.webhook).toEqual({ url: 'https://hooks.example.com/in', username: 'bad:name', basicAuthConfigured: true });
      expect(lossy.allRows()[0]!.webhook_basic_auth_password_sealed).not.toBe(sealedBefore);
    });

    it('reads the fields of a row handed over as getters, and says nothing was written when nothing landed', async () => {
      lossy.writes = ['dropped'];
      lossy.handOverAsGetters = true;

      const error = await rejection(manager.setStatus(issued.card.keyId, 'suspended'));

      expect([error.code, lossy.allRows()[0]!.status]).toEqual(['ERR_STORE_UNAVAILABLE', 'allowed']);
    });

    it('says nothing was written when the store assigned the patch to the row it handed over and then failed', async () => {
      lossy.writes = ['assigned'];

      const error = await rejection(manager.setStatus(issued.card.keyId, 'suspended'));

      expect([error.code, error.message]).toEqual(['ERR_STORE_UNAVAILABLE', 'The store did not confirm the new status: it was not written. Trying again is safe.']);
      expect(lossy.allRows()[0]!.status).toBe('allowed');
    });

    it('says nothing was written when a field it changes still holds its old value, though another request changed another', async () => {
      lossy.writes = ['dropped'];
      lossy.meanwhile = (modify) => modify(issued.card.keyId, () => ({ webhook_url: 'https://other.example.com/in' }));

      const error = await rejection(manager.setWebhook(issued.card.keyId, { url: 'https://hooks.example.com/in', username: 'relay' }));

      expect([error.code, error.message]).toEqual(['ERR_STORE_UNAVAILABLE', 'The store did not confirm the webhook settings: they were not written. Trying again is safe.']);
      expect([lossy.allRows()[0]!.webhook_url, lossy.allRows()[0]!.webhook_basic_auth_username]).toEqual(['https://other.example.com/in', null]);
    });

    it('still says nothing was written when only other fields changed meanwhile (a use time, a webhook)', async () => {
      lossy.writes = ['dropped'];
      lossy.meanwhile = (modify) => modify(issued.card.keyId, () => ({ last_used_at: new Date(Date.now() + 60_000), webhook_url: 'https://hooks.example.com/in' }));

      const error = await rejection(manager.setStatus(issued.card.keyId, 'suspended'));

      expect([error.code, error.message]).toEqual(['ERR_STORE_UNAVAILABLE', 'The store did not confirm the new status: it was not written. Trying again is safe.']);
      expect(lossy.allRows()[0]!.status).toBe('allowed');
    });

    it('says a clearWebhook that was not written left the row as it was, never that settings are still set (the key has none)', async () => {
      lossy.writes = ['lost'];
      const error = await rejection(manager.clearWebhook(issued.card.keyId));
      expect(error.message).toBe(
        'The store did not confirm clearing the webhook settings: it was not written, and the row keeps the settings it had. Trying again is safe.',
      );
    });

    it('says the outcome is unknown when the row cannot be read again, and revoking again is then safe', async () => {
      lossy.writes = ['landed'];
      lossy.staysDown = true;

      const error = await rejection(manager.revoke(issued.card.keyId));
      expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503, expose: false });
      expect(error.message).toBe(
        'The store did not confirm the revoke and could not be read again: the key may already have stopped working. Revoking again is safe: if it was revoked, revoke answers ERR_KEY_NOT_FOUND.',
      );

      lossy.down = false;
      expect((await rejection(manager.revoke(issued.card.keyId))).code).toBe('ERR_KEY_NOT_FOUND');
      expect((await call(issued.key)).status).toBe(401);
    });
  });
});

describe('createKeyManager: revoke, soft delete, set status', () => {
  it('makes a revoked key answer the generic 401 and sets revoked_at', async () => {
    const { key, card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const unknown = await call(generateApiKey('sandbox').key);

    await manager.revoke(card.keyId);

    expect(await call(key)).toEqual(unknown);
    expect(store.allRows()[0]!.revoked_at).toBeInstanceOf(Date);
    expect(await manager.describe(card.keyId)).toBeNull();
  });

  it('makes a soft-deleted key answer the generic 401', async () => {
    const { key, card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const unknown = await call(generateApiKey('sandbox').key);

    await manager.softDelete(card.keyId);

    expect(await call(key)).toEqual(unknown);
    expect(store.allRows()[0]!.soft_deleted).toBe(true);
  });

  it('answers 403 naming the status after setStatus, and 200 again once allowed', async () => {
    const { key, card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });

    const suspended = await manager.setStatus(card.keyId, 'suspended');

    expect(suspended.status).toBe('suspended');
    expect(await call(key)).toEqual({
      status: 403,
      body: {
        error: {
          code: 'ERR_API_KEY_INACTIVE',
          message: 'This API key is suspended. Contact your account manager.',
          key_status: 'suspended',
        },
      },
    });
    await manager.setStatus(card.keyId, 'allowed');
    expect(await call(key)).toEqual({ status: 200 });
  });

  it('takes the alias revoked in setStatus and issue, stores it as revoqued, and the key answers 403 revoqued', async () => {
    const { key, card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });

    const revoked = await manager.setStatus(card.keyId, 'revoked');

    expect(revoked.status).toBe('revoqued');
    expect(revoked.statusLabel).toBe('SUSPENDED');
    expect(store.allRows()[0]!.status).toBe('revoqued');
    expect(await call(key)).toEqual({
      status: 403,
      body: {
        error: {
          code: 'ERR_API_KEY_INACTIVE',
          message: 'This API key is revoked. Regenerate it if you still need the integration.',
          key_status: 'revoqued',
        },
      },
    });

    const issued = await manager.issue({ accountId: 'acct_2', environment: 'sandbox', status: 'revoked' });
    expect(issued.card.status).toBe('revoqued');
    expect(store.allRows().find((row) => row.id === issued.card.keyId)!.status).toBe('revoqued');
  });

  it('refuses a status value it does not know with ERR_INVALID_ARGUMENT and keeps the status', async () => {
    const { card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });

    const error = await rejection(manager.setStatus(card.keyId, 'Active' as KeyStatus));

    expect(error.code).toBe('ERR_INVALID_ARGUMENT');
    expect((await manager.describe(card.keyId))!.status).toBe('allowed');
  });

  it('answers ERR_KEY_NOT_FOUND when revoking a key twice', async () => {
    const { card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    await manager.revoke(card.keyId);

    expect((await rejection(manager.revoke(card.keyId))).code).toBe('ERR_KEY_NOT_FOUND');
  });
});

/** Pins what a caller sees for an argument value the manager cannot use: a typed 400, no write. */
function expectInvalidArgument(error: ApiKeyAuthError, argument: string): void {
  expect(error.code).toBe('ERR_INVALID_ARGUMENT');
  expect(error.status).toBe(400);
  expect(error.statusCode).toBe(400);
  expect(error.expose).toBe(true);
  expect(error.message.startsWith(`${argument} must `)).toBe(true);
}

describe('createKeyManager: bad argument values', () => {
  const valid = { accountId: 'acct_2', environment: 'sandbox' } as const;

  it.each([
    ['an empty accountId', { ...valid, accountId: '' }, 'accountId'],
    ['an accountId over 200 characters', { ...valid, accountId: 'a'.repeat(201) }, 'accountId'],
    ['an accountId that is not a string', { ...valid, accountId: 42 }, 'accountId'],
    ['a missing accountId', { environment: 'sandbox' }, 'accountId'],
    ['an unknown environment', { ...valid, environment: 'prod' }, 'environment'],
    ['an environment in the wrong case', { ...valid, environment: 'Sandbox' }, 'environment'],
    ['a keyType with spaces and capitals', { ...valid, keyType: 'SMS API' }, 'keyType'],
    ['an empty keyType', { ...valid, keyType: '' }, 'keyType'],
    ['a status that is not one of the seven', { ...valid, status: 'Active' }, 'status'],
    ['an invalid Date as expiresAt', { ...valid, expiresAt: new Date('not a date') }, 'expiresAt'],
    ['an unparseable expiresAt string', { ...valid, expiresAt: 'tomorrow' }, 'expiresAt'],
    ['a date string as expiresAt, which is not a Date', { ...valid, expiresAt: '2030-01-01' }, 'expiresAt'],
    ['an object that only inherits from Date.prototype as expiresAt', { ...valid, expiresAt: Object.create(Date.prototype) }, 'expiresAt'],
    ['a Date subclass whose getTime lies about a date past 9999', { ...valid, expiresAt: lyingDate(8.64e15, Date.now() + 86_400_000) }, 'expiresAt'],
    ['an accountId of zero-width spaces only', { ...valid, accountId: '\u200b\u200b' }, 'accountId'],
    ['an accountId with a line separator', { ...valid, accountId: 'acct\u2028x' }, 'accountId'],
    ['an accountId with a right-to-left override', { ...valid, accountId: 'acct\u202ex' }, 'accountId'],
    ['an accountId with a space in front, which looks like the one without', { ...valid, accountId: ' acct_2' }, 'accountId'],
    ['an accountId with a combining grapheme joiner', { ...valid, accountId: 'acct\u034f_2' }, 'accountId'],
    ['an accountId of Hangul fillers, which render as nothing', { ...valid, accountId: '\u3164\u3164' }, 'accountId'],
    ['an accountId of Braille pattern blanks, which show as spaces yet are no whitespace', { ...valid, accountId: '\u2800\u2800' }, 'accountId'],
    ['an accountId with a noncharacter (U+FFFF)', { ...valid, accountId: 'acct_\uffff' }, 'accountId'],
    ['an accountId with an accent as a combining mark (NFD), which looks like the composed one', { ...valid, accountId: 'cafe\u0301' }, 'accountId'],
    ['an accountId with the Angstrom sign, which NFC turns into Å', { ...valid, accountId: 'acct_\u212b' }, 'accountId'],
  ])('issue answers %s with a 400 ERR_INVALID_ARGUMENT and writes nothing', async (_, input, argument) => {
    await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const before = store.allRows();

    const error = await rejection(manager.issue(input as never));

    expectInvalidArgument(error, argument);
    expect(store.allRows()).toEqual(before);
  });

  it('issue reads each input property once, so a getter cannot pass the checks and store another value', async () => {
    let reads = 0;
    const input = {
      environment: 'sandbox' as const,
      get accountId() {
        reads += 1;
        return reads === 1 ? 'acct_checked' : 'acct\u0000stored';
      },
    };
    await manager.issue(input);
    expect(reads).toBe(1);
    expect(store.allRows().map((row) => row.account_id)).toEqual(['acct_checked']);
  });

  it('issue takes an accountId with a composed accented letter (NFC) as it is', async () => {
    await manager.issue({ accountId: 'caf\u00e9', environment: 'sandbox' });
    expect(store.allRows().map((row) => row.account_id)).toEqual(['caf\u00e9']);
    expectInvalidArgument(await rejection(manager.issue({ accountId: 'cafe\u0301', environment: 'sandbox' })), 'accountId');
  });

  it('issue stores expiresAt as a plain Date of the given time', async () => {
    const later = Date.now() + 86_400_000;
    const { card } = await manager.issue({ ...valid, expiresAt: lyingDate(later, 0) });
    expect(card.expiresAt).toEqual(new Date(later));
    expect(Object.getPrototypeOf(store.allRows()[0]!.expires_at)).toBe(Date.prototype);
  });

  it('describeAccount answers an unknown environment with a 400 ERR_INVALID_ARGUMENT', async () => {
    expectInvalidArgument(await rejection(manager.describeAccount('acct_1', 'prod\n' as never)), 'environment');
  });

  it('escapes everything but printable ASCII in an unknown option name it repeats, an ellipsis too', async () => {
    const error = await rejection(manager.issue({ ...valid, ['a\u2028b\u202ec\u2026']: 1 } as never));
    expect(error.message).toBe('issue: unknown option "a\\u2028b\\u202ec\\u2026". The options are accountId, environment, keyType, status, expiresAt.');
  });

  it('cuts a long unknown option name to 40 characters and offers no did-you-mean for it', async () => {
    const error = await rejection(manager.issue({ ...valid, [`expiresAt${'x'.repeat(100_000)}`]: 1 } as never));
    expect(error.message).toBe(`issue: unknown option "expiresAt${'x'.repeat(31)}…". The options are accountId, environment, keyType, status, expiresAt.`);
  });

  it('issue answers a missing input object with a 400 ERR_INVALID_ARGUMENT naming accountId', async () => {
    expectInvalidArgument(await rejection(manager.issue(undefined as never)), 'accountId');
    expect(store.allRows()).toEqual([]);
  });

  it.each([
    ['a status in the wrong case', 'Active'],
    ['the alias in another letter case', 'Revoked'],
    ['an empty status', ''],
    ['a number', 42],
    ['null', null],
  ])('setStatus answers %s with a 400 ERR_INVALID_ARGUMENT and writes nothing', async (_, status) => {
    const { card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const before = store.allRows();

    const error = await rejection(manager.setStatus(card.keyId, status as never));

    expectInvalidArgument(error, 'status');
    expect(error.message).toBe(
      'status must be one of allowed, pending_validation, suspended, revoqued, locked, expired, rejected (or revoked, stored as revoqued)',
    );
    expect(store.allRows()).toEqual(before);
  });

  it('setStatus checks the status before the key: a bad value for an unknown key is ERR_INVALID_ARGUMENT', async () => {
    expectInvalidArgument(await rejection(manager.setStatus('key_nope', 'Active' as never)), 'status');
  });

  const unusableAccountIds: [string, string][] = [
    ['a NUL character', 'acct\u0000nul'],
    ['a lone high surrogate', 'acct\ud800'],
    ['a lone low surrogate', 'acct\udc00'],
    ['a surrogate pair in the wrong order', 'acct\udc00\ud800'],
    ['a newline', 'a\nb'],
    ['a tab', 'a\tb'],
    ['DEL', 'a\u007fb'],
    ['a C1 control (NEL)', 'a\u0085b'],
    ['spaces only', '   '],
    ['whitespace of several kinds only', ' \u00a0\u3000 '],
  ];

  it.each(unusableAccountIds)(
    'issue answers an accountId with %s with a 400 ERR_INVALID_ARGUMENT and writes nothing',
    async (_, accountId) => {
      await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
      const before = store.allRows();

      const error = await rejection(manager.issue({ accountId, environment: 'sandbox' }));

      expectInvalidArgument(error, 'accountId');
      expect(store.allRows()).toEqual(before);
    },
  );

  it.each(unusableAccountIds)(
    'describeAccount answers an accountId with %s with a 400 ERR_INVALID_ARGUMENT without asking the store',
    async (_, accountId) => {
      const findLive = vi.spyOn(store, 'findLive');

      const error = await rejection(manager.describeAccount(accountId, 'sandbox'));

      expectInvalidArgument(error, 'accountId');
      expect(findLive).not.toHaveBeenCalled();
    },
  );

  it('describeAccount answers an accountId issue would refuse for its length or type with ERR_INVALID_ARGUMENT', async () => {
    expectInvalidArgument(await rejection(manager.describeAccount('a'.repeat(201), 'sandbox')), 'accountId');
    expectInvalidArgument(await rejection(manager.describeAccount(42 as never, 'sandbox')), 'accountId');
  });

  it('accepts account ids with non-ASCII letters, inner spaces and surrogate pairs', async () => {
    for (const accountId of ['Zürich Ltd', 'acct_\u{1F600}', '\u5317\u4eac', 'two  spaces']) {
      const { card } = await manager.issue({ accountId, environment: 'sandbox' });
      expect((await manager.describeAccount(accountId, 'sandbox'))!.keyId).toBe(card.keyId);
    }
    expect(store.allRows().map((row) => row.account_id).sort()).toEqual(
      ['Zürich Ltd', 'acct_\u{1F600}', '\u5317\u4eac', 'two  spaces'].sort(),
    );
  });

  it.each([
    ['the earliest JavaScript date', new Date(-8.64e15)],
    ['the latest JavaScript date', new Date(8.64e15)],
    ['one millisecond before 1970', new Date(Date.UTC(1970, 0, 1) - 1)],
    ['the first moment of year 10000', new Date(Date.UTC(10000, 0, 1))],
  ])('issue answers an expiresAt of %s with a 400 ERR_INVALID_ARGUMENT naming the range', async (_, expiresAt) => {
    const error = await rejection(manager.issue({ ...valid, expiresAt }));

    expectInvalidArgument(error, 'expiresAt');
    expect(error.message).toContain('1970-01-01T00:00:00.000Z through 9999-12-31T23:59:59.999Z');
    expect(store.allRows()).toEqual([]);
  });

  it('accepts an expiresAt at either end of the range', async () => {
    const first = new Date('1970-01-01T00:00:00.000Z');
    const last = new Date('9999-12-31T23:59:59.999Z');

    expect((await manager.issue({ accountId: 'acct_1', environment: 'sandbox', expiresAt: first })).card.expiresAt).toEqual(first);
    expect((await manager.issue({ accountId: 'acct_2', environment: 'sandbox', expiresAt: last })).card.expiresAt).toEqual(last);
  });

  it.each([
    ['expires_at', { ...valid, expires_at: new Date(Date.now() - 1000) }, 'expiresAt'],
    ['accountID', { accountID: 'acct_2', accountId: 'acct_2', environment: 'sandbox' }, 'accountId'],
    ['keytype', { ...valid, keytype: 'sms_api' }, 'keyType'],
    ['env', { ...valid, env: 'production' }, undefined],
    // Inherited from a prototype of the caller's, which issue reads (an expiry there is honoured).
    ['expires_at', Object.assign(Object.create({ expires_at: new Date(Date.now() + 60_000) }), valid), 'expiresAt'],
  ])(
    'issue answers the unknown property %s with a 400 ERR_INVALID_ARGUMENT and a did-you-mean (or the known names), and writes nothing',
    async (name, input, suggestion) => {
      const error = await rejection(manager.issue(input as never));

      expect(error.code).toBe('ERR_INVALID_ARGUMENT');
      expect(error.status).toBe(400);
      expect(error.expose).toBe(true);
      const hint = suggestion === undefined ? ' The options are accountId, environment, keyType, status, expiresAt.' : ` Did you mean "${suggestion}"?`;
      expect(error.message).toBe(`issue: unknown option "${name}".${hint}`);
      expect(store.allRows()).toEqual([]);
    },
  );

  it('issue names a misspelt accountId as unknown rather than only reporting accountId missing', async () => {
    const error = await rejection(manager.issue({ accountid: 'acct_2', environment: 'sandbox' } as never));

    expect(error.message).toBe('issue: unknown option "accountid". Did you mean "accountId"?');
  });

  it('never repeats the refused value in the message', async () => {
    const long = 'x'.repeat(201);
    const errors = [
      await rejection(manager.issue({ accountId: long, environment: 'sandbox' })),
      await rejection(manager.issue({ accountId: 'acct_1', environment: 'staging' as never })),
      await rejection(manager.issue({ ...valid, keyType: 'Secret_Type' })),
      await rejection(manager.setStatus('key_1', 'Activated' as never)),
    ];

    expect(errors.map((e) => e.message).join('\n')).not.toMatch(/xxxx|staging|Secret_Type|Activated/);
  });
});

describe('createKeyManager: key ids that cannot be stored', () => {
  const impossibleKeyIds: [string, unknown][] = [
    ['a NUL character', 'key_\u0000'],
    ['a lone surrogate', 'key_\ud800'],
    ['a newline', 'key_\nabc'],
    ['a C1 control', 'key_\u009f'],
    ['201 characters', `key_${'a'.repeat(197)}`],
    ['an empty string', ''],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
  ];

  /** Fails the test if the manager asks the store about anything. */
  const untouchedStore = () => {
    const calls = ['findById', 'findLive', 'modify', 'insert'].map((name) => vi.spyOn(store, name as never));
    return () => calls.forEach((call) => expect(call).not.toHaveBeenCalled());
  };

  it.each(impossibleKeyIds)('describe answers a key id with %s with null without asking the store', async (_, keyId) => {
    const expectUntouched = untouchedStore();

    expect(await manager.describe(keyId as string)).toBeNull();
    expectUntouched();
  });

  const changes: [string, (keyId: string) => Promise<unknown>][] = [
    ['regenerate', (keyId) => manager.regenerate(keyId)],
    ['revoke', (keyId) => manager.revoke(keyId)],
    ['softDelete', (keyId) => manager.softDelete(keyId)],
    ['setStatus', (keyId) => manager.setStatus(keyId, 'suspended')],
    ['setWebhook', (keyId) => manager.setWebhook(keyId, { url: 'https://hooks.example.com/in' })],
    ['clearWebhook', (keyId) => manager.clearWebhook(keyId)],
    ['webhookAuthorization', (keyId) => manager.webhookAuthorization(keyId)],
    ['resealWebhookPassword', (keyId) => manager.resealWebhookPassword(keyId)],
  ];

  it.each(changes)('%s answers every impossible key id with ERR_KEY_NOT_FOUND without asking the store', async (_, act) => {
    await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const before = store.allRows();
    const expectUntouched = untouchedStore();

    for (const [, keyId] of impossibleKeyIds) {
      const error = await rejection(act(keyId as string));
      expect(error.code).toBe('ERR_KEY_NOT_FOUND');
      expect(error.status).toBe(404);
    }
    expectUntouched();
    expect(store.allRows()).toEqual(before);
  });

  it.each([...changes, ['describe', (keyId: string) => manager.describe(keyId)] as const])(
    '%s refuses the API key itself, pasted where its id goes, with ERR_INVALID_ARGUMENT, and never hands it to the store',
    async (_, act) => {
      const { key } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
      const before = store.allRows();
      const expectUntouched = untouchedStore();

      // Whole, after the scheme, in other letter case, its first 20 characters, its body alone.
      for (const pasted of [key, `Bearer ${key}`, key.toUpperCase(), key.slice(0, 20), key.slice(8)]) {
        const error = await rejection(act(pasted));
        expect([error.code, error.status]).toEqual(['ERR_INVALID_ARGUMENT', 400]);
        expect(error.message).toBe(
          'keyId holds an API key, not an id; it was not sent to the store. Pass the key\'s id (a card\'s keyId); README: "A key\'s id, from the key itself"',
        );
      }
      expectUntouched();
      expect(store.allRows()).toEqual(before);
    },
  );

  it('refuses an API key given as an account id, and takes ids that only hold a prefix inside a word', async () => {
    const { key } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const expectUntouched = untouchedStore();
    const error = await rejection(manager.describeAccount(key, 'sandbox'));
    expect([error.code, error.status]).toEqual(['ERR_INVALID_ARGUMENT', 400]);
    // The advice names the account's id: a key's id there would name an account "key_…".
    expect(error.message).toBe(
      "accountId holds an API key, not an id; it was not sent to the store. Pass the account's id: the accountId given to issue, or an authenticated request's apiKey.accountId",
    );
    expectUntouched();
    expect(await manager.describe('task_test_12345678')).toBeNull();
    // 50 letters and digits whose last 6 are no checksum of the rest: an id, not a key's body.
    expect(await manager.describe(`${'a'.repeat(44)}AAAAAA`)).toBeNull();
    const issued = await manager.issue({ accountId: 'desk_live_12345678', environment: 'sandbox' });
    expect(store.allRows().find((row) => row.id === issued.card.keyId)!.account_id).toBe('desk_live_12345678');
  });

  it('refuses an account id longer than 200 characters for its length, without searching it for a key', async () => {
    const { key } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const long = `${key.slice(8)}${'a'.repeat(100_000)}`;

    const error = await rejection(manager.describeAccount(long, 'sandbox'));

    expect([error.code, error.message]).toEqual([
      'ERR_INVALID_ARGUMENT',
      'accountId must be a string of 1 to 200 characters without whitespace at either end, of well-formed Unicode in normalization form C without control, invisible or line-separator characters',
    ]);
  });

  it('still finds and changes a stored key whose id is not key_ + base62, as other tools may write', async () => {
    const row = sampleRow({ id: 'legacy-Key.42/\u00e9', account_id: 'acct_legacy' });
    await store.insert(row);

    expect((await manager.describe(row.id))!.keyId).toBe(row.id);
    expect((await manager.setStatus(row.id, 'suspended')).status).toBe('suspended');
    await manager.revoke(row.id);
    expect(await manager.describe(row.id)).toBeNull();
  });
});

describe('createKeyManager: options', () => {
  it('refuses a misspelt option with a suggestion', () => {
    expect(() => createKeyManager({ store, webhookKey: SEALING } as never)).toThrow(
      /unknown option "webhookKey". Did you mean "webhookKeys"\?/,
    );
  });

  it('refuses sealing keys that are not 32 bytes, or a current id that is not among them', () => {
    const bad = [
      { current: 'k1', keys: { k1: Buffer.alloc(16) } },
      { current: 'k2', keys: { k1: testSecretBytes(0) } },
      { current: 'k1', keys: {} },
      { current: 'k.1', keys: { 'k.1': testSecretBytes(0) } },
      { current: 'k1', keys: { k1: 'a'.repeat(32) } },
    ];
    for (const webhookKeys of bad) {
      let thrown: unknown;
      try {
        createKeyManager({ store, webhookKeys: webhookKeys as never });
      } catch (error) {
        thrown = error;
      }
      expect((thrown as ApiKeyAuthError).code).toBe('ERR_OPTIONS_INVALID');
    }
  });
});

/** A Date holding `time` whose getTime() claims `claimed`: keyward must read the real time. */
function lyingDate(time: number, claimed: number): Date {
  return new (class extends Date {
    override getTime(): number {
      return claimed;
    }
  })(time);
}

describe('createKeyManager: a clock with no valid Date', () => {
  const badClocks: [string, () => unknown][] = [
    ['an invalid Date', () => new Date(Number.NaN)],
    ['a number', () => Date.now()],
    ['an ISO string', () => new Date().toISOString()],
    ['null', () => null],
  ];
  const verbs: [string, (m: KeyManager, keyId: string) => Promise<unknown>][] = [
    ['issue', (m) => m.issue({ accountId: 'acct_new', environment: 'sandbox' })],
    ['regenerate', (m, keyId) => m.regenerate(keyId)],
    ['revoke', (m, keyId) => m.revoke(keyId)],
    ['setStatus', (m, keyId) => m.setStatus(keyId, 'suspended')],
    ['setWebhook', (m, keyId) => m.setWebhook(keyId, { url: 'https://hooks.example.com/in' })],
    ['clearWebhook', (m, keyId) => m.clearWebhook(keyId)],
    ['describe', (m, keyId) => m.describe(keyId)],
    ['describeAccount', (m) => m.describeAccount('acct_1', 'sandbox')],
  ];

  describe.each(badClocks)('from %s', (_name, clock) => {
    it.each(verbs)('%s throws 500 ERR_OPTIONS_INVALID, not exposed, and writes nothing', async (_verb, act) => {
      const { card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
      const before = structuredClone(store.allRows());
      const broken = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: SEALING, clock: clock as () => Date });

      const error = await rejection(act(broken, card.keyId));

      expect(error).toMatchObject({ code: 'ERR_OPTIONS_INVALID', status: 500, expose: false });
      expect(error.message).toBe('createKeyManager: clock() returned no valid Date.');
      expect(store.allRows()).toEqual(before);
    });
  });

  it.each(verbs)('%s with a clock that throws: 500 ERR_OPTIONS_INVALID carrying the thrown error as cause, and writes nothing', async (_verb, act) => {
    const { card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const before = structuredClone(store.allRows());
    const thrown = new Error('NTP daemon unreachable');
    const broken = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: SEALING, clock: () => { throw thrown; } });

    const error = await rejection(act(broken, card.keyId));

    expect(error).toMatchObject({ code: 'ERR_OPTIONS_INVALID', status: 500, expose: false, cause: thrown });
    expect(error.message).toBe('createKeyManager: clock() threw (see cause).');
    expect(store.allRows()).toEqual(before);
  });

  it('issue dates its row and judges its card at the insert, not when the call began waiting for its Argon2 run', async () => {
    const times = [new Date('2026-03-01T10:00:00Z'), new Date('2026-03-01T10:00:02Z')];
    const timed = createKeyManager({ store, argon2: TEST_ARGON2, clock: () => times.shift() ?? new Date(Number.NaN) });
    const { card } = await timed.issue({ accountId: 'acct_1', environment: 'sandbox', expiresAt: new Date('2026-03-01T10:00:01Z') });
    expect([card.createdAt, card.statusLabel]).toEqual([new Date('2026-03-01T10:00:02Z'), 'EXPIRED']);
    expect(store.allRows()[0]!.created_at).toEqual(new Date('2026-03-01T10:00:02Z'));
  });

  it('issue stores nothing when the clock breaks between its first reading and the insert', async () => {
    const times = [new Date('2026-03-01T10:00:00Z')];
    const once = createKeyManager({ store, argon2: TEST_ARGON2, clock: () => times.shift() ?? new Date(Number.NaN) });
    const error = await rejection(once.issue({ accountId: 'acct_1', environment: 'sandbox' }));
    expect(error.code).toBe('ERR_OPTIONS_INVALID');
    expect(store.allRows()).toEqual([]);
  });

  it('regenerate judges an expiry at its write: one that passed while the call waited is lifted, and the new key works', async () => {
    const setup = createKeyManager({ store, argon2: TEST_ARGON2, clock: () => new Date('2026-03-01T09:00:00Z') });
    const issued = await setup.issue({ accountId: 'acct_1', environment: 'sandbox', expiresAt: new Date('2026-03-01T10:00:01Z') });
    const times = [new Date('2026-03-01T10:00:00Z'), new Date('2026-03-01T10:00:02Z')];
    const timed = createKeyManager({ store, argon2: TEST_ARGON2, clock: () => times.shift() ?? new Date(Number.NaN) });

    const { key, card } = await timed.regenerate(issued.card.keyId);

    expect([card.expiresAt, card.statusLabel]).toEqual([null, 'ACTIVE']);
    expect(store.allRows()[0]!.expires_at).toBeNull();
    const auth = createApiKeyAuth({ store, argon2Pool: false, clock: () => new Date('2026-03-01T10:00:03Z') });
    try {
      expect((await auth.authenticate({ headers: { authorization: `Bearer ${key}` } })).ok).toBe(true);
    } finally {
      await auth.close();
    }
  });
});

/** A store whose key ids and account ids ignore letter case, as a citext column would. */
class CaseFoldingStore extends MemoryKeyStore {
  readonly #ids = new Map<string, string>();
  readonly #accounts = new Map<string, string>();

  override async insert(row: ApiKeyRow): Promise<void> {
    await super.insert(row);
    this.#ids.set(row.id.toLowerCase(), row.id);
    this.#accounts.set(row.account_id.toLowerCase(), row.account_id);
  }

  override findById(id: string): Promise<ApiKeyRow | null> {
    return super.findById(this.#ids.get(id.toLowerCase()) ?? id);
  }

  override findLive(accountId: string, environment: 'production' | 'sandbox'): Promise<ApiKeyRow | null> {
    return super.findLive(this.#accounts.get(accountId.toLowerCase()) ?? accountId, environment);
  }

  override modify(...[id, change]: Parameters<MemoryKeyStore['modify']>): Promise<ApiKeyRow | null> {
    return super.modify(this.#ids.get(id.toLowerCase()) ?? id, change);
  }
}

describe('createKeyManager on a store that ignores letter case (one that fails the conformance suite)', () => {
  it('never shows, changes or counts another account\'s key for an id that differs in case only', async () => {
    const store = new CaseFoldingStore();
    const cased = createKeyManager({ store, argon2: TEST_ARGON2 });
    const { card } = await cased.issue({ accountId: 'acct_Ab', environment: 'sandbox' });
    const otherCase = card.keyId.replace(/[a-z]/, (letter) => letter.toUpperCase());

    expect(await cased.describeAccount('acct_aB', 'sandbox')).toBeNull();
    expect(await cased.describe(otherCase)).toBeNull();
    expect((await rejection(cased.regenerate(otherCase))).code).toBe('ERR_KEY_NOT_FOUND');
    expect((await rejection(cased.revoke(otherCase))).code).toBe('ERR_KEY_NOT_FOUND');
    expect((await rejection(cased.setStatus(otherCase, 'suspended'))).code).toBe('ERR_KEY_NOT_FOUND');
    expect((await cased.describe(card.keyId))?.status).toBe('allowed');
    // Another account, not a second key of acct_Ab.
    expect((await cased.issue({ accountId: 'acct_aB', environment: 'sandbox' })).card.keyId).not.toBe(card.keyId);
  });
});
