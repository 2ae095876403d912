import { expect, it, vi } from 'vitest';
import { createApiKeyAuth, createKeyManager, type KeyUsage } from 'keyward';
import { PostgresKeyStore } from 'keyward/postgres';
import { sampleRow } from 'keyward/store-conformance';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { rejection } from './helpers/errors.js';
import { bearer } from './helpers/perf-keys.js';
import { completeLogger } from '../src/logger.js';
import { UsageRecorder } from '../src/usage-recorder.js';
import { describePostgres } from './support/postgres.js';

describePostgres('PostgresKeyStore usage flushes', (db) => {
  /** A migrated store on a new table with `keys` rows, key_00000 first, never used. */
  const storeWithKeys = async (keys: number, statementTimeoutMs: number) => {
    const store = new PostgresKeyStore({ pool: db.pool(), table: db.table('usage'), statementTimeoutMs });
    await store.migrate();
    await db.admin.query(
      `INSERT INTO ${store.table} (id, account_id, key_type, status, environment, lookup_id, key_hash, masked_key)
       SELECT 'key_' || lpad(g::text, 5, '0'), 'acct_' || g, 'sms_api', 'allowed', 'sandbox', 'L' || lpad(g::text, 11, '0'), 'x', 'm'
       FROM generate_series(0, $1 - 1) AS g`,
      [keys],
    );
    return store;
  };
  const useOf = (index: number, usedAtMs: number): KeyUsage => ({
    id: `key_${String(index).padStart(5, '0')}`,
    lookup_id: `L${String(index).padStart(11, '0')}`,
    used_at: new Date(usedAtMs),
  });
  const recorderOver = (store: PostgresKeyStore, warn = vi.fn()) => new UsageRecorder(store, 60_000, 5_000, completeLogger({ warn }));
  const usedCount = async (table: string) =>
    (await db.admin.query(`SELECT count(*)::int AS n FROM ${table} WHERE last_used_at IS NOT NULL`)).rows[0].n as number;

  it('writes a backlog whose one UPDATE would outlast statementTimeoutMs, in transactions of 1,000 keys that each finish in time', async () => {
    const store = await storeWithKeys(5_000, 400);
    // Each usage UPDATE sleeps 0.1 ms per row written: 500 ms for all 5,000, 100 ms per 1,000.
    await db.admin.query(`CREATE FUNCTION ${db.schema}.slow_usage() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep((SELECT count(*) FROM written) * 0.0001); RETURN NULL; END $$`);
    await db.admin.query(`CREATE TRIGGER slow_usage AFTER UPDATE ON ${store.table} REFERENCING NEW TABLE AS written
      FOR EACH STATEMENT EXECUTE FUNCTION ${db.schema}.slow_usage()`);
    const all = Array.from({ length: 5_000 }, (_, index) => useOf(index, 1_000));
    // The store alone, given all of them at once, runs out of time every time.
    const error = await rejection(store.recordUsage(all));
    expect(error.message).toMatch(/recordUsage failed \(error 57014/);

    const warn = vi.fn();
    const recorder = recorderOver(store, warn);
    for (const use of all) recorder.record(use.id, use.lookup_id, use.used_at.getTime());
    await recorder.close();

    expect(warn).not.toHaveBeenCalled();
    expect(await usedCount(store.table)).toBe(5_000);
  });

  it('updates each row at most once per flush: a refused transaction costs only its own keys, which the next flush writes', async () => {
    const store = await storeWithKeys(3_000, 2_000);
    const updates = `${db.schema}.updates`;
    const refused = `${db.schema}.refused`;
    await db.admin.query(`CREATE TABLE ${updates} (id text NOT NULL); CREATE TABLE ${refused} (id text NOT NULL)`);
    // Counts the row updates that commit, and refuses (SQLSTATE P0001) a row named in `refused`.
    await db.admin.query(`CREATE FUNCTION ${db.schema}.count_usage() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT FROM ${refused} WHERE id = NEW.id) THEN RAISE EXCEPTION 'refused by the test'; END IF;
        INSERT INTO ${updates} VALUES (NEW.id);
        RETURN NEW;
      END $$`);
    await db.admin.query(`CREATE TRIGGER count_usage BEFORE UPDATE ON ${store.table} FOR EACH ROW EXECUTE FUNCTION ${db.schema}.count_usage()`);
    const flushed = async () => {
      const { rows } = await db.admin.query(`SELECT count(*)::int AS writes, count(DISTINCT id)::int AS keys FROM ${updates}`);
      await db.admin.query(`TRUNCATE ${updates}`);
      return rows[0] as { writes: number; keys: number };
    };
    const warn = vi.fn();
    const recorder = recorderOver(store, warn);
    const useAll = (usedAtMs: number) => {
      for (let index = 0; index < 3_000; index++) recorder.record(useOf(index, 0).id, useOf(index, 0).lookup_id, usedAtMs);
    };

    try {
      // key_01500 is in the second transaction of the flush.
      await db.admin.query(`INSERT INTO ${refused} VALUES ('key_01500')`);
      useAll(1_000);
      await recorder.flush();
      expect(await flushed()).toEqual({ writes: 2_000, keys: 2_000 });
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]![0]).toMatchObject({ keys: 1_000, error: expect.stringMatching(/ERR_STORE_REFUSED|P0001/) });

      await db.admin.query(`TRUNCATE ${refused}`);
      useAll(2_000);
      await recorder.flush();
      expect(await flushed()).toEqual({ writes: 3_000, keys: 3_000 });

      await recorder.flush();
      expect(await flushed()).toEqual({ writes: 0, keys: 0 });
      expect(await usedCount(store.table)).toBe(3_000);
    } finally {
      await recorder.close();
    }
  });

  it('does not wait for a row locked elsewhere: writes the rest at once and defers only that use, which it writes once the lock is gone', async () => {
    const store = new PostgresKeyStore({ pool: db.pool(), table: db.table('locked'), statementTimeoutMs: 2_000 });
    await store.migrate();
    const [first, held, last, heldNewer, heldRevoked] = [sampleRow(), sampleRow(), sampleRow(), sampleRow({ last_used_at: new Date(9_000) }), sampleRow({ revoked_at: new Date(1) })];
    for (const row of [first, held, last, heldNewer, heldRevoked]) await store.insert(row);
    const usage = [first, held, last, heldNewer, heldRevoked].map((row) => ({ id: row.id, lookup_id: row.lookup_id, used_at: new Date(5_000) }));
    const holder = await db.admin.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT FROM ${store.table} WHERE id = ANY ($1) FOR UPDATE`, [[held.id, heldNewer.id, heldRevoked.id]]);
      const started = Date.now();
      const { deferred } = await store.recordUsage(usage);

      expect(Date.now() - started).toBeLessThan(1_000);
      // A held row whose use would change nothing (a later time, a revoked key) is not deferred.
      expect(deferred).toEqual([usage[1]]);
      const lastUsed = async () => (await db.rows(store.table)).map((row) => [row.id, row.last_used_at?.getTime() ?? null] as const);
      expect(new Map(await lastUsed())).toEqual(new Map([[first.id, 5_000], [held.id, null], [last.id, 5_000], [heldNewer.id, 9_000], [heldRevoked.id, null]]));
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    expect(await store.recordUsage([usage[1]!])).toEqual({ deferred: [] });
    expect((await store.findById(held.id))?.last_used_at).toEqual(new Date(5_000));
  });

  it("keeps manager writes of other keys quick while flushes run and one key's row is held locked, and writes that key's use once it is released", async () => {
    const store = new PostgresKeyStore({ pool: db.pool({ max: 4 }), table: db.table('spread'), statementTimeoutMs: 1_500 });
    await store.migrate();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const issued = [];
    for (let account = 0; account < 5; account++) issued.push(await manager.issue({ accountId: `acct_spread_${account}`, environment: 'sandbox' }));
    // The highest id: a flush that locked rows in id order and waited would hold all the others.
    issued.sort((a, b) => (a.card.keyId < b.card.keyId ? -1 : 1));
    const held = issued.at(-1)!;
    let now = Date.UTC(2026, 0, 1);
    const warn = vi.fn();
    const auth = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: 20, clock: () => new Date(now), logger: { warn } });
    const holder = await db.admin.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT FROM ${store.table} WHERE id = $1 FOR UPDATE`, [held.card.keyId]);
      const waits: number[] = [];
      for (let round = 0; round < 8; round++) {
        now += 1_000;
        for (const { key } of issued) expect((await auth.authenticate(bearer(key))).ok).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 40));
        const started = Date.now();
        await manager.setStatus(issued[round % 4]!.card.keyId, 'allowed');
        waits.push(Date.now() - started);
      }

      expect(Math.max(...waits)).toBeLessThan(400);
      expect(warn).not.toHaveBeenCalled();
      expect((await store.findById(issued[0]!.card.keyId))?.last_used_at).toEqual(new Date(now));
      expect((await store.findById(held.card.keyId))?.last_used_at).toBeNull();
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    await auth.flushUsage();
    expect((await store.findById(held.card.keyId))?.last_used_at).toEqual(new Date(now));
    await auth.close();
  });
});
