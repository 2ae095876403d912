/**
 * Item 1 again, on the PostgreSQL store: memo-hit `authenticate()` with the row read from
 * PostgreSQL on every request. Reports requests per second and statements per request.
 * Runs against KEYWARD_TEST_DATABASE_URL (the test database) in a schema of its own, which
 * it drops afterwards.
 */
import pg from 'pg';
import { createApiKeyAuth, createKeyManager } from 'keyward';
import { PostgresKeyStore } from 'keyward/postgres';

const IN_FLIGHT = 32;
const POOL_SIZE = 10;

export interface PostgresMemoHit {
  requestsPerSecond: number;
  queriesPerRequest: number;
  requests: number;
  inFlight: number;
  poolSize: number;
}

/** The measurement, or the reason it could not run (no reachable database). */
export async function memoHitOnPostgres(seconds: number): Promise<PostgresMemoHit | { skipped: string }> {
  const url = process.env.KEYWARD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/keyward_test';
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 2_000, max: POOL_SIZE });
  pool.on('error', () => {});
  const schema = `keyward_bench_${process.pid}`;
  try {
    await pool.query(`CREATE SCHEMA ${schema}`);
  } catch (error) {
    await pool.end();
    return { skipped: `no PostgreSQL at ${new URL(url).host} (${(error as Error).message})` };
  }

  const store = new PostgresKeyStore({ pool, table: `${schema}.api_keys` });
  const queryOfClient = pg.Client.prototype.query;
  try {
    await store.migrate();
    const { key } = await createKeyManager({ store }).issue({ accountId: 'acct_bench', environment: 'production' });
    const auth = createApiKeyAuth({ store });
    const request = { headers: { authorization: `Bearer ${key}` } };
    if (!(await auth.authenticate(request)).ok) throw new Error('PostgreSQL bench: the key did not pass');

    // Count every statement the store sends while the loop runs, the usage flush included.
    let queries = 0;
    pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
      queries++;
      return (queryOfClient as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof queryOfClient;

    let requests = 0;
    const started = performance.now();
    const until = started + seconds * 1000;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (performance.now() < until) {
          if (!(await auth.authenticate(request)).ok) throw new Error('PostgreSQL bench: refused');
          requests++;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    await auth.close();
    return {
      requestsPerSecond: Math.round(requests / elapsed),
      queriesPerRequest: Math.round((queries / requests) * 10_000) / 10_000,
      requests,
      inFlight: IN_FLIGHT,
      poolSize: POOL_SIZE,
    };
  } finally {
    pg.Client.prototype.query = queryOfClient;
    await pool.query(`DROP SCHEMA ${schema} CASCADE`);
    await pool.end();
  }
}
