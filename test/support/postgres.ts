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
