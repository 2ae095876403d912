import { expect, it, vi } from 'vitest';
import type { KeyUsage } from 'keyward';
import { PostgresKeyStore } from 'keyward/postgres';
import { rejection } from './helpers/errors.js';
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
});
