import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import type { ApiKeyRow } from 'keyward';

/** One test file's private corner of the test database. */
export interface TestDatabase {
  url: string;
  /** A schema of its own, dropped after the file. */
  schema: string;
  /** A pool for the test's own queries. */
  admin: pg.Pool;
  /** A new pool (ended after the file); bounded connection waits as the store requires. */
  pool(config?: pg.PoolConfig): pg.Pool;
  /** A table name in the file's schema that no other test uses. */
  table(prefix?: string): string;
  /** Every row of a table, live or not. */
  rows(table: string): Promise<ApiKeyRow[]>;
  /**
   * Server backends of pools created with this `application_name`, by state: how many are
   * waiting on a lock, and how many are open at all.
   */
  backends(applicationName: string): Promise<{ waitingOnLock: number; open: number }>;
}

/**
 * `describe` for suites that need PostgreSQL: skipped (global setup said why) when no server
 * is reachable; otherwise gives the body a schema of its own so test files can run in
 * parallel without meeting each other's rows.
 */
export function describePostgres(title: string, body: (db: TestDatabase) => void): void {
  const url = inject('postgresUrl');
  if (url === null) {
    describe.skip(title, () => {
      it('needs PostgreSQL', () => {});
    });
    return;
  }

  const schema = `kw_${randomBytes(6).toString('hex')}`;
  const pools: pg.Pool[] = [];
  let tables = 0;
  const pool = (config: pg.PoolConfig = {}) => {
    const created = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 5_000, max: 6, ...config });
    pools.push(created);
    return created;
  };
  const admin = pool();

  const db: TestDatabase = {
    url,
    schema,
    admin,
    pool,
    table: (prefix = 't') => `${schema}.${prefix}${++tables}`,
    async rows(table) {
      const result = await admin.query(`SELECT * FROM ${table} ORDER BY id`);
      return result.rows as ApiKeyRow[];
    },
    async backends(applicationName) {
      const result = await admin.query(
        `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS "waitingOnLock", count(*)::int AS open
         FROM pg_stat_activity WHERE application_name = $1`,
        [applicationName],
      );
      return result.rows[0] as { waitingOnLock: number; open: number };
    },
  };

  describe(title, () => {
    beforeAll(async () => {
      await admin.query(`CREATE SCHEMA ${schema}`);
    });
    afterAll(async () => {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await Promise.all(pools.map((each) => each.end()));
    });
    body(db);
  });
}
