import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ApiKeyAuthError,
  MemoryKeyStore,
  createApiKeyAuth,
  createKeyManager,
  type ApiKeyAuth,
  type ApiKeyRow,
  type KeyManager,
} from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { rejection } from './helpers/errors.js';
import { statusFor } from './helpers/keys.js';
import { testSecretBytes } from './helpers/secret-bytes.js';

const SEALING = { current: 'k1', keys: { k1: testSecretBytes(7) } };

/**
 * A store over a driver that fails with its own errors, as a team's store passing them on
 * would: every call while `down`, or the next write (`insert` or `modify`) before it is
 * written, or once it has landed (its COMMIT done, the answer lost on the way back).
 */
class DriverErrorStore extends MemoryKeyStore {
  down: { thrown: unknown } | undefined;
  nextWrite: { thrown: unknown; landed: boolean } | undefined;

  override async findById(id: string): Promise<ApiKeyRow | null> {
    if (this.down) throw this.down.thrown;
    return super.findById(id);
  }

  override async findLive(...args: Parameters<MemoryKeyStore['findLive']>): Promise<ApiKeyRow | null> {
    if (this.down) throw this.down.thrown;
    return super.findLive(...args);
  }

  override async insert(row: ApiKeyRow): Promise<void> {
    await this.#write(() => super.insert(row));
  }

  override async modify(...args: Parameters<MemoryKeyStore['modify']>): Promise<ApiKeyRow | null> {
    return this.#write(() => super.modify(...args));
  }

  async #write<T>(write: () => Promise<T>): Promise<T> {
    if (this.down) throw this.down.thrown;
    const fault = this.nextWrite;
    this.nextWrite = undefined;
    if (fault && !fault.landed) throw fault.thrown;
    const result = await write();
    if (fault) throw fault.thrown;
    return result;
  }
}

/** A driver's error after the COMMIT: the connection dropped before the answer came back. */
function connectionReset(): Error {
  return Object.assign(new Error('read ECONNRESET (driver-message-text)'), { code: 'ECONNRESET' });
}

let store: DriverErrorStore;
let auth: ApiKeyAuth;
let manager: KeyManager;

beforeEach(() => {
  store = new DriverErrorStore();
  auth = createApiKeyAuth({ store });
  manager = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: SEALING });
});

afterEach(async () => {
  await auth.close();
});

const status = (key: string) => statusFor(auth, key);

/** `error` and every cause down its chain, to the first that is not an Error (undefined at the end). */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let at = error; chain.length < 5; at = (at as Error).cause) {
    chain.push(at);
    if (!(at instanceof Error)) break;
  }
  return chain;
}

describe('createKeyManager on a store that throws what is not an ApiKeyAuthError', () => {
  it('regenerate returns the new key when modify landed and then rejected with the driver\'s Error: the old key is dead, the new one works', async () => {
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    store.nextWrite = { thrown: connectionReset(), landed: true };

    const regenerated = await manager.regenerate(issued.card.keyId);

    expect(await status(regenerated.key)).toBe(200);
    expect(await status(issued.key)).toBe(401);
    expect(regenerated.card.maskedKey).toBe(store.allRows()[0]!.masked_key);
  });

  it('issue returns the key when the insert landed and then rejected with the driver\'s Error', async () => {
    store.nextWrite = { thrown: connectionReset(), landed: true };

    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });

    expect(await status(issued.key)).toBe(200);
    expect(store.allRows()).toHaveLength(1);
  });

  it('says nothing was written, 503 ERR_STORE_UNAVAILABLE with the driver\'s Error down its causes, when modify failed before it had the row', async () => {
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const thrown = connectionReset();
    store.nextWrite = { thrown, landed: false };

    const error = await rejection(manager.regenerate(issued.card.keyId));

    expect([error.code, error.status, error.expose, error.message]).toEqual([
      'ERR_STORE_UNAVAILABLE',
      503,
      false,
      'The store did not confirm the regenerate: it was not written, and the old key still works. Trying again is safe.',
    ]);
    const storeFailure = error.cause as ApiKeyAuthError;
    expect([storeFailure.code, storeFailure.message, storeFailure.cause]).toEqual([
      'ERR_STORE_UNAVAILABLE',
      'The key store\'s modify failed; what it threw is this error\'s cause.',
      thrown,
    ]);
    expect(await status(issued.key)).toBe(200);
  });

  it.each([
    ['an Error', connectionReset()],
    ['a string', 'db down (driver-message-text)'],
    ['undefined', undefined],
    ['a number', 42],
  ])('answers every verb with 503 ERR_STORE_UNAVAILABLE, not exposed, when the store throws %s, which is down its causes and never in its message', async (_what, thrown) => {
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const keyId = issued.card.keyId;
    store.down = { thrown };

    const verbs: [string, () => Promise<unknown>][] = [
      ['issue', () => manager.issue({ accountId: 'acct_2', environment: 'sandbox' })],
      ['describe', () => manager.describe(keyId)],
      ['describeAccount', () => manager.describeAccount('acct_1', 'sandbox')],
      ['regenerate', () => manager.regenerate(keyId)],
      ['revoke', () => manager.revoke(keyId)],
      ['softDelete', () => manager.softDelete(keyId)],
      ['setStatus', () => manager.setStatus(keyId, 'suspended')],
      ['setWebhook', () => manager.setWebhook(keyId, { url: 'https://hooks.example.com/in' })],
      ['clearWebhook', () => manager.clearWebhook(keyId)],
      ['webhookAuthorization', () => manager.webhookAuthorization(keyId)],
      ['resealWebhookPassword', () => manager.resealWebhookPassword(keyId)],
    ];
    for (const [verb, run] of verbs) {
      const error = await rejection(run());
      expect([verb, error.code, error.status, error.expose]).toEqual([verb, 'ERR_STORE_UNAVAILABLE', 503, false]);
      expect(causes(error), verb).toContain(thrown);
      expect(error.message, verb).not.toContain('driver-message-text');
      expect(error.message, verb).not.toContain('ECONNRESET');
    }
    store.down = undefined;
    expect(await status(issued.key)).toBe(200);
  });

  it('passes an ApiKeyAuthError the store throws on as it is', async () => {
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const refused = new ApiKeyAuthError('ERR_STORE_REFUSED', 'keyward test store: refused', { status: 500, expose: false });
    store.nextWrite = { thrown: refused, landed: false };

    expect(await rejection(manager.setStatus(issued.card.keyId, 'suspended'))).toBe(refused);
  });

  it('answers 409 for a taken key the store threw as ERR_KEY_EXISTS without a status, as for its own', async () => {
    await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    store.nextWrite = { thrown: new ApiKeyAuthError('ERR_KEY_EXISTS', 'keyward test store: taken'), landed: false };

    const error = await rejection(manager.issue({ accountId: 'acct_2', environment: 'sandbox' }));
    expect([error.code, error.status, error.statusCode, error.expose, error.message]).toEqual(['ERR_KEY_EXISTS', 409, 409, true, 'keyward test store: taken']);
  });

  it('passes on as it is what its own change throws under the store\'s lock: a kept webhook password that does not open', async () => {
    const a = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const b = await manager.issue({ accountId: 'acct_2', environment: 'sandbox' });
    await manager.setWebhook(a.card.keyId, { url: 'https://hooks.example.com/in', password: 'relay-password-1' });
    // A password sealed for another key, copied onto this one by hand.
    const sealed = (await store.findById(a.card.keyId))!.webhook_basic_auth_password_sealed;
    await store.modify(b.card.keyId, () => ({ webhook_url: 'https://hooks.example.com/in', webhook_basic_auth_password_sealed: sealed }));

    const error = await rejection(manager.setWebhook(b.card.keyId, { url: 'https://hooks.example.com/other' }));

    expect([error.code, error.status]).toEqual(['ERR_WEBHOOK_SECRET', 409]);
  });
});

describe('createKeyManager on a store whose row throws when a field is read', () => {
  /** A store handing out rows whose `status` getter throws, as a broken ORM's lazy field would. */
  class ThrowingFieldStore extends MemoryKeyStore {
    readonly fault = new Error('lazy field failed (driver-message-text)');
    armed = false;

    override async findById(id: string): Promise<ApiKeyRow | null> {
      return this.#throwing(await super.findById(id));
    }

    override async findLive(...args: Parameters<MemoryKeyStore['findLive']>): Promise<ApiKeyRow | null> {
      return this.#throwing(await super.findLive(...args));
    }

    #throwing(row: ApiKeyRow | null): ApiKeyRow | null {
      if (!row || !this.armed) return row;
      const fault = this.fault;
      return Object.defineProperty({ ...row }, 'status', { get: () => { throw fault; }, enumerable: true });
    }
  }

  it.each([
    ['describe', (manager: KeyManager, keyId: string) => manager.describe(keyId), 'findById'],
    ['describeAccount', (manager: KeyManager) => manager.describeAccount('acct_1', 'sandbox'), 'findLive'],
  ])('%s answers 503 ERR_STORE_UNAVAILABLE with the thrown error as its cause, as for a store that throws', async (_verb, read, method) => {
    const throwing = new ThrowingFieldStore();
    const onThrowing = createKeyManager({ store: throwing, argon2: TEST_ARGON2 });
    const { card } = await onThrowing.issue({ accountId: 'acct_1', environment: 'sandbox' });
    throwing.armed = true;

    const error = await rejection(read(onThrowing, card.keyId));

    expect([error.code, error.status, error.expose, error.message]).toEqual([
      'ERR_STORE_UNAVAILABLE',
      503,
      false,
      `The key store's ${method} failed; what it threw is this error's cause.`,
    ]);
    expect(error.cause).toBe(throwing.fault);
  });
});
