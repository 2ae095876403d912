/**
 * Item 1 again, and item 5's forgeries, on the PostgreSQL store: memo-hit `authenticate()`
 * with the row read from PostgreSQL on every request (requests per second and statements per
 * request), and a run of forged keys for one lookup id (statements per forged request, which
 * the attempt throttle keeps near zero once the limit is reached). Runs against
 * KEYWARD_TEST_DATABASE_URL (the test database) in a schema of its own, which it drops
 * afterwards.
 */
import pg from 'pg';
import { checksumOf, createApiKeyAuth, createKeyManager, type ApiKeyAuth } from 'keyward';
import { PostgresKeyStore } from 'keyward/postgres';

const IN_FLIGHT = 32;
const POOL_SIZE = 10;
const FORGERIES = 2_000;

export interface PostgresMemoHit {
  requestsPerSecond: number;
  queriesPerRequest: number;
  requests: number;
  inFlight: number;
  poolSize: number;
}

export interface PostgresForgeries {
  forgedRequests: number;
  queriesPerForgedRequest: number;
  statusCodes: Record<string, number>;
}

/** What a measurement gets: the authenticator on a fresh store with one key, and a statement counter. */
interface Setup {
  auth: ApiKeyAuth;
  key: string;
  /** Statements sent since the last call. */
  countQueries(): number;
}

/** Runs a measurement on a schema of its own, or says why it could not (no reachable database). */
async function onPostgres<T>(measure: (setup: Setup) => Promise<T>): Promise<T | { skipped: string }> {
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
  const auth = createApiKeyAuth({ store });
  try {
    await store.migrate();
    const { key } = await createKeyManager({ store }).issue({ accountId: 'acct_bench', environment: 'production' });
    if (!(await auth.authenticate({ headers: { authorization: `Bearer ${key}` } })).ok) {
      throw new Error('PostgreSQL bench: the key did not pass');
    }
    // Count every statement the store sends from here on, the usage flush included.
    let queries = 0;
    pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
      queries++;
      return (queryOfClient as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof queryOfClient;
    const countQueries = () => {
      const counted = queries;
      queries = 0;
      return counted;
    };
    return await measure({ auth, key, countQueries });
  } finally {
    await auth.close();
    pg.Client.prototype.query = queryOfClient;
    await pool.query(`DROP SCHEMA ${schema} CASCADE`);
    await pool.end();
  }
}

/** Memo hits, {@link IN_FLIGHT} at a time, for `seconds`. */
export function memoHitOnPostgres(seconds: number): Promise<PostgresMemoHit | { skipped: string }> {
  return onPostgres(async ({ auth, key, countQueries }) => {
    const request = { headers: { authorization: `Bearer ${key}` } };
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
    await auth.flushUsage();
    return {
      requestsPerSecond: Math.round(requests / elapsed),
      queriesPerRequest: Math.round((countQueries() / requests) * 10_000) / 10_000,
      requests,
      inFlight: IN_FLIGHT,
      poolSize: POOL_SIZE,
    };
  });
}

/**
 * {@link FORGERIES} distinct forged keys for the real key's lookup id, one after the other,
 * from one client: the first few cost an Argon2 run each and a row read, the rest get 429.
 */
export function forgeriesOnPostgres(): Promise<PostgresForgeries | { skipped: string }> {
  return onPostgres(async ({ auth, key, countQueries }) => {
    const statusCodes: Record<string, number> = {};
    const head = key.slice(0, -38);
    for (let i = 0; i < FORGERIES; i++) {
      const body = head + String(i).padStart(32, 'F');
      const result = await auth.authenticate({ headers: { authorization: `Bearer ${body}${checksumOf(body)}` } });
      const status = String(result.ok ? 200 : result.response.status);
      statusCodes[status] = (statusCodes[status] ?? 0) + 1;
    }
    return {
      forgedRequests: FORGERIES,
      queriesPerForgedRequest: Math.round((countQueries() / FORGERIES) * 10_000) / 10_000,
      statusCodes,
    };
  });
}
