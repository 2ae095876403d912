import { MemoryKeyStore, type KeyStore } from 'keyward';

/** The demo's store, and what to close on shutdown. */
export interface DemoStore {
  store: KeyStore;
  close(): Promise<void>;
}

const DEMO_TABLE = 'keyward_demo.api_keys';

/**
 * A MemoryKeyStore, or the PostgreSQL store when `DATABASE_URL` is set. On PostgreSQL the
 * demo's own accounts are cleared at start, so each run issues fresh keys the same way.
 */
export async function openDemoStore(databaseUrl = process.env.DATABASE_URL): Promise<DemoStore> {
  if (!databaseUrl) return { store: new MemoryKeyStore(), close: async () => {} };

  const { default: pg } = await import('pg');
  const { PostgresKeyStore } = await import('keyward/postgres');
  const pool = new pg.Pool({ connectionString: databaseUrl, connectionTimeoutMillis: 2_000 });
  pool.on('error', (error) => console.warn(`demo: idle PostgreSQL connection lost (${error.message})`));

  const store = new PostgresKeyStore({ pool, table: DEMO_TABLE });
  await pool.query('CREATE SCHEMA IF NOT EXISTS keyward_demo');
  await store.migrate();
  await pool.query(`DELETE FROM ${DEMO_TABLE} WHERE account_id LIKE 'acct_demo_%'`);
  return { store, close: () => pool.end() };
}
