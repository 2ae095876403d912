import { PostgresKeyStore } from 'keyward/postgres';
import { sampleRow } from 'keyward/store-conformance';
import type { TestDatabase } from './postgres.js';
import { startTcpProxy } from './tcp-proxy.js';

/**
 * A new table holding one sample row, and a store that reaches the server through a TCP proxy
 * the test can stall or mute; `direct` works on the same table without the proxy. The caller
 * closes `proxy`.
 *
 * @param name - the table's prefix, unique within the test file.
 * @param statementTimeoutMs - the proxied store's bound.
 */
export async function rowBehindProxy(db: TestDatabase, name: string, statementTimeoutMs: number) {
  const table = db.table(name);
  const direct = new PostgresKeyStore({ pool: db.pool(), table });
  await direct.migrate();
  const row = sampleRow();
  await direct.insert(row);

  const server = new URL(db.url);
  const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
  server.hostname = '127.0.0.1';
  server.port = String(proxy.port);
  const store = new PostgresKeyStore({ pool: db.pool({ connectionString: server.href }), table, statementTimeoutMs });
  return { table, row, direct, proxy, store };
}
