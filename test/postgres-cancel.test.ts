import pg from 'pg';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type { LogFields } from 'keyward';
import { PostgresKeyStore } from 'keyward/postgres';
import { sampleRow } from 'keyward/store-conformance';
import { rejection } from './helpers/errors.js';
import { describePostgres } from './support/postgres.js';
import { rowBehindProxy } from './support/proxied-row.js';
import { startTcpProxy } from './support/tcp-proxy.js';

const TIMEOUT_MS = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A statement the store gave up on must not keep running on the server: closing the
// connection alone leaves a backend that waits on a lock (it does not read its socket) to run
// the statement once the lock goes, and leaves one such backend per request.
describePostgres('PostgresKeyStore statements that run out of time', (db) => {
  let applicationName: string;
  let store: PostgresKeyStore;
  let holder: pg.PoolClient;
  let row: ReturnType<typeof sampleRow>;

  beforeEach(async () => {
    applicationName = `kw_cancel_${db.schema}_${Math.random().toString(36).slice(2, 8)}`;
    const pool = db.pool({ application_name: applicationName, max: 5 });
    store = new PostgresKeyStore({ pool, table: db.table('cancel'), statementTimeoutMs: TIMEOUT_MS });
    await store.migrate();
    row = sampleRow();
    await store.insert(row);
    holder = await db.admin.connect();
    await holder.query('BEGIN');
  });
  afterEach(async () => {
    await holder.query('ROLLBACK');
    holder.release();
  });

  const noneWaiting = () =>
    vi.waitFor(async () => expect((await db.backends(applicationName)).waitingOnLock).toBe(0), { timeout: 2_000 });

  it('cancels lookups blocked by a table lock: each answers 503 and no backend of the store is left waiting', async () => {
    await holder.query(`LOCK TABLE ${store.table} IN ACCESS EXCLUSIVE MODE`);
    for (let round = 0; round < 2; round++) {
      const errors = await Promise.all(Array.from({ length: 8 }, () => rejection(store.findByLookupId(row.lookup_id))));
      for (const error of errors) expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });
      await noneWaiting();
      for (const error of errors) {
        expect(error.message).toMatch(/^keyward postgres store: findByLookupId failed \(Error: Query read timeout: no answer within 300 ms; cancel requested\)$/);
      }
    }
  });

  it('ends an insert blocked by a table lock on the server: 503 naming 57014, and the row never lands once the lock goes', async () => {
    await holder.query(`LOCK TABLE ${store.table} IN SHARE MODE`);
    const fresh = sampleRow();
    const error = await rejection(store.insert(fresh));
    expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });
    // Ended on the server (its statement_timeout, or the cancel): nothing of it is left waiting.
    const waiting = (await db.backends(applicationName)).waitingOnLock;

    await holder.query('COMMIT');
    await holder.query('BEGIN');
    await sleep(200);
    expect(await store.findById(fresh.id)).toBeNull();
    expect(waiting).toBe(0);
    expect(error.message).toMatch(/^keyward postgres store: insert failed \(error (?:57014|55P03): canceling statement due to (?:statement timeout|lock timeout|user request)\)$/);
    await store.insert(fresh);
    expect((await store.findById(fresh.id))?.lookup_id).toBe(fresh.lookup_id);
  });

  it('ends a usage flush blocked by a table lock on the server: 503, and last_used_at is never written once the lock goes', async () => {
    // A row lock does not hold a flush up (the row is left for the next one); a table lock does.
    await holder.query(`LOCK TABLE ${store.table} IN SHARE MODE`);
    const usedAt = new Date('2026-03-01T10:00:00.000Z');
    const error = await rejection(store.recordUsage([{ id: row.id, lookup_id: row.lookup_id, used_at: usedAt }]));
    const waiting = (await db.backends(applicationName)).waitingOnLock;

    await holder.query('COMMIT');
    await holder.query('BEGIN');
    await sleep(200);
    expect((await store.findById(row.id))?.last_used_at).toBeNull();
    expect(waiting).toBe(0);
    expect(error.message).toMatch(/^keyward postgres store: recordUsage failed \(error (?:57014|55P03): canceling statement due to (?:statement timeout|lock timeout|user request)\)$/);
  });
});

describePostgres('PostgresKeyStore writes that no cancel can reach', (db) => {
  it("ends an insert waiting behind another session's uncommitted live key on the server: it never lands after issue failed", async () => {
    const applicationName = `kw_nocancel_${db.schema}`;
    const pool = db.pool({ application_name: applicationName, max: 2 });
    // Clients without a backend key, as pg-native's are: the store cannot cancel.
    pool.on('connect', (client) => Object.defineProperty(client, 'processID', { value: null }));
    const store = new PostgresKeyStore({ pool, table: db.table('nocancel'), statementTimeoutMs: TIMEOUT_MS });
    await store.migrate();
    const first = sampleRow();
    const second = sampleRow({ account_id: first.account_id, environment: first.environment });
    const other = await db.admin.connect();
    try {
      await other.query('BEGIN');
      await other.query(`INSERT INTO ${store.table} (id, account_id, key_type, status, environment, lookup_id, key_hash, masked_key) VALUES ($1, $2, 'sms_api', 'allowed', $3, $4, 'x', 'm')`, [first.id, first.account_id, first.environment, first.lookup_id]);
      const error = await rejection(store.insert(second));
      expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });
      expect((await db.backends(applicationName)).waitingOnLock).toBe(0);
      await other.query('ROLLBACK');
      await sleep(200);
      expect(await store.findById(second.id)).toBeNull();
    } finally {
      other.release();
    }
  });

  it("cancels a read that pg's own query_timeout (set on the app's pool, below statementTimeoutMs) gave up on", async () => {
    const applicationName = `kw_pgtimeout_${db.schema}`;
    const pool = db.pool({ application_name: applicationName, max: 2, query_timeout: 100 });
    const store = new PostgresKeyStore({ pool, table: db.table('pgtimeout'), statementTimeoutMs: 2_000 });
    await store.migrate();
    const holder = await db.admin.connect();
    try {
      await holder.query(`BEGIN; LOCK TABLE ${store.table} IN ACCESS EXCLUSIVE MODE`);
      const error = await rejection(store.findById('key_none'));
      expect(error.message).toMatch(/Query read timeout/);
      await vi.waitFor(async () => expect((await db.backends(applicationName)).waitingOnLock).toBe(0), { timeout: 2_000 });
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });
});

describePostgres('PostgresKeyStore when a statement cannot be cancelled', (db) => {
  it('logs keyward.postgres_cancel_failed at warn, without the backend secret, and still answers 503 within its bounds', async () => {
    const table = db.table('uncancelled');
    const direct = new PostgresKeyStore({ pool: db.pool(), table });
    await direct.migrate();

    const server = new URL(db.url);
    const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    server.hostname = '127.0.0.1';
    server.port = String(proxy.port);
    try {
      const pool = db.pool({ connectionString: server.href, max: 1 });
      const secrets: string[] = [];
      pool.on('connect', (client) => secrets.push(String((client as unknown as { secretKey: number }).secretKey)));
      const warnings: LogFields[] = [];
      const messages: string[] = [];
      const warn = (fields: LogFields, message: string) => {
        warnings.push(fields);
        messages.push(message);
      };
      const store = new PostgresKeyStore({ pool, table, statementTimeoutMs: TIMEOUT_MS, logger: { warn } });
      expect(await store.findById('key_none')).toBeNull();

      // The proxy stops answering: the statement runs out of time, and so does the cancel
      // request, which also goes through the proxy.
      proxy.set('hung');
      const started = Date.now();
      const error = await rejection(store.findById('key_none'));
      // The read waits for its cancel request to be delivered (or to run out), so that a pooler
      // still has the client connected when the cancel arrives.
      expect(Date.now() - started).toBeLessThan(2 * TIMEOUT_MS + 200);
      expect(error.message).toMatch(/Query read timeout/);
      await vi.waitFor(() => expect(warnings).toHaveLength(1));
      expect(warnings[0]).toEqual({
        event: 'keyward.postgres_cancel_failed',
        operation: 'findById',
        error: `Error: the cancel request got no answer within ${TIMEOUT_MS} ms`,
      });
      expect(messages).toEqual([
        "keyward: a PostgreSQL statement ran out of time and could not be cancelled; it may keep running on the server until it ends (set a server-side statement_timeout for the store's role to bound it)",
      ]);
      expect(secrets).toHaveLength(1);
      expect(JSON.stringify(warnings)).not.toContain(secrets[0]);
    } finally {
      await proxy.close();
    }
  });
});

// A write whose answer comes after statementTimeoutMs, but before the server could act on the
// cancel (the statement had already finished): the store waits for that answer and reports the
// write as done, rather than as failed while it landed.
describePostgres('PostgresKeyStore writes whose answer comes late', (db) => {
  it('resolves a modify whose COMMIT answer arrives after the timeout but within the wait that follows the cancel', async () => {
    const { row, direct, proxy, store } = await rowBehindProxy(db, 'late', TIMEOUT_MS);
    try {
      proxy.muteRepliesAfter((chunk) => chunk[0] === 0x51 && chunk.includes('COMMIT\u0000'), TIMEOUT_MS + 150);

      const started = Date.now();
      const written = await store.modify(row.id, () => ({ status: 'suspended' }));
      expect(Date.now() - started).toBeGreaterThan(TIMEOUT_MS);
      expect(written?.status).toBe('suspended');
      expect((await direct.findById(row.id))?.status).toBe('suspended');
    } finally {
      await proxy.close();
    }
  });
});
