import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createApiKeyAuth,
  createKeyManager,
  generateApiKey,
  parseApiKey,
  type ApiKeyAuth,
  type AuthResult,
  type KeyManager,
} from 'keyward';
import { PostgresKeyStore } from 'keyward/postgres';
import { describePostgres } from './support/postgres.js';

const CHEAP_ARGON2 = { memoryKiB: 256, iterations: 1, parallelism: 1 };

/** One gateway instance: its own pool, store, authenticator and key manager. */
interface Instance {
  store: PostgresKeyStore;
  auth: ApiKeyAuth;
  manager: KeyManager;
}

describePostgres('two gateway instances sharing one PostgreSQL database', (db) => {
  const table = db.table('keys');
  const instance = (): Instance => {
    const store = new PostgresKeyStore({ pool: db.pool(), table });
    return {
      store,
      auth: createApiKeyAuth({ store, usageFlushIntervalMs: 3_600_000 }),
      manager: createKeyManager({ store, argon2: CHEAP_ARGON2 }),
    };
  };
  const a = instance();
  const b = instance();
  let accounts = 0;

  beforeAll(async () => {
    await a.store.migrate();
  });
  afterAll(async () => {
    await Promise.all([a.auth.close(), b.auth.close()]);
  });

  const call = (on: Instance, key: string) => on.auth.authenticate({ headers: { authorization: `Bearer ${key}` } });
  const issue = async () => {
    const accountId = `acct_${++accounts}`;
    return { accountId, ...(await a.manager.issue({ accountId, environment: 'sandbox' })) };
  };

  /** The answer every "invalid key" gets: a well-formed key nobody issued. */
  const invalidAnswer = async () => refusal(await call(b, generateApiKey('sandbox').key));

  it('refuses the old key on the other instance right after regenerate, though it had just passed there', async () => {
    const { key: oldKey, card } = await issue();
    expect((await call(b, oldKey)).ok).toBe(true);
    expect((await call(b, oldKey)).ok).toBe(true);

    const { key: newKey } = await a.manager.regenerate(card.keyId);

    expect(refusal(await call(b, oldKey))).toEqual(await invalidAnswer());
    expect(refusal(await call(b, oldKey)).status).toBe(401);
    expect(await call(b, newKey)).toMatchObject({ ok: true, context: { keyId: card.keyId } });
  });

  it('answers 403 suspended on the other instance at once after setStatus', async () => {
    const { key, card } = await issue();
    expect((await call(b, key)).ok).toBe(true);

    await a.manager.setStatus(card.keyId, 'suspended');

    const answer = refusal(await call(b, key));
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toEqual({
      error: {
        code: 'ERR_API_KEY_INACTIVE',
        message: 'This API key is suspended. Contact your account manager.',
        key_status: 'suspended',
      },
    });
  });

  it('answers the generic 401 on the other instance at once after revoke', async () => {
    const { key, card } = await issue();
    expect((await call(b, key)).ok).toBe(true);

    await a.manager.revoke(card.keyId);

    expect(refusal(await call(b, key))).toEqual(await invalidAnswer());
  });

  it('answers the generic 401 on the other instance at once after soft delete', async () => {
    const { key, card } = await issue();
    expect((await call(b, key)).ok).toBe(true);

    await a.manager.softDelete(card.keyId);

    expect(refusal(await call(b, key))).toEqual(await invalidAnswer());
  });

  it('leaves exactly one live key when both instances regenerate at once; the loser gets ERR_KEY_CONFLICT', async () => {
    const { key: firstKey, card, accountId } = await issue();
    let previous = firstKey;

    for (let round = 0; round < 5; round++) {
      // Neither write starts before both instances have read the key: on a loaded machine, one
      // regenerate could otherwise end before the other began, and both would rightly succeed.
      const results = await bothReadFirst([a.store, b.store], () =>
        Promise.allSettled([a.manager.regenerate(card.keyId), b.manager.regenerate(card.keyId)]),
      );
      const winners = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
      const losers = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
      expect(winners).toHaveLength(1);
      expect(losers).toMatchObject([{ code: 'ERR_KEY_CONFLICT', status: 409 }]);

      const live = await db.admin.query(
        `SELECT id, lookup_id FROM ${table} WHERE account_id = $1 AND NOT soft_deleted AND revoked_at IS NULL`,
        [accountId],
      );
      const winnerKey = winners[0]!.key;
      expect(live.rows).toEqual([{ id: card.keyId, lookup_id: lookupIdOf(winnerKey) }]);
      for (const on of [a, b]) {
        expect((await call(on, winnerKey)).ok).toBe(true);
        expect(refusal(await call(on, previous)).status).toBe(401);
      }
      previous = winnerKey;
    }
  });
});

/**
 * Runs `race` with each store's `modify` held until every store has been asked to modify:
 * a regenerate reads the row before it modifies, so each has read it by then.
 */
async function bothReadFirst<T>(stores: PostgresKeyStore[], race: () => Promise<T>): Promise<T> {
  let arrived = 0;
  let releaseAll = () => {};
  const allArrived = new Promise<void>((resolve) => (releaseAll = resolve));
  const held = stores.map((store) => {
    const modify = store.modify;
    store.modify = async function heldModify(this: PostgresKeyStore, ...args: Parameters<PostgresKeyStore['modify']>) {
      if (++arrived === stores.length) releaseAll();
      await allArrived;
      return modify.apply(this, args);
    };
    return () => delete (store as Partial<PostgresKeyStore>).modify;
  });
  try {
    return await race();
  } finally {
    for (const restore of held) restore();
  }
}

function lookupIdOf(key: string): string {
  const parsed = parseApiKey(key);
  if (!parsed.ok) throw new Error(`issued key does not parse: ${parsed.reason}`);
  return parsed.key.lookupId;
}

/** The refusal's status, headers and body, as an adapter would write them. */
function refusal(result: AuthResult) {
  if (result.ok) throw new Error(`expected a refusal, got a pass for ${result.context.keyId}`);
  return result.response;
}
