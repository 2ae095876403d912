import { expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager } from 'keyward';
import { PostgresKeyStore } from 'keyward/postgres';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { bearer } from './helpers/keys.js';
import { endOfReadyForQuery, fatalErrorResponse } from './support/pg-wire.js';
import { describePostgres } from './support/postgres.js';
import { startTcpProxy } from './support/tcp-proxy.js';

// pg-pool takes its own 'error' listener off a client as it hands it over. When the server
// ends that session right then (pg_terminate_backend, a fast shutdown) and its FATAL comes in
// the same TCP chunk as the ReadyForQuery that completed the connection, pg emits 'error' on
// the client while still reading that chunk: a client without a listener by then crashes the
// process. The proxy puts the two in one chunk, so the moment is hit every time.
describePostgres('a pool connection whose session the server ends as it is handed over', (db) => {
  it('answers that request 503 ERR_STORE_UNAVAILABLE, with the process up, and the next request 200', async () => {
    const table = db.table('handover');
    const direct = new PostgresKeyStore({ pool: db.pool(), table });
    await direct.migrate();
    const manager = createKeyManager({ store: direct, argon2: TEST_ARGON2 });
    const { key } = await manager.issue({ accountId: 'acct_handover', environment: 'production' });

    const server = new URL(db.url);
    const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    server.hostname = '127.0.0.1';
    server.port = String(proxy.port);
    const store = new PostgresKeyStore({ pool: db.pool({ connectionString: server.href, max: 1 }), table });
    const auth = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: 3_600_000 });
    // An 'error' event nobody listens to is thrown from pg's socket handler: uncaught, it would
    // end a real process.
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', record);
    try {
      const terminated = fatalErrorResponse('57P01', 'terminating connection due to administrator command');
      proxy.endNextConnection((replies) => {
        const ready = endOfReadyForQuery(replies);
        return ready === undefined ? undefined : Buffer.concat([replies.subarray(0, ready), terminated]);
      });

      const first = await auth.authenticate({ headers: bearer(key) });
      expect(first.ok).toBe(false);
      if (!first.ok) {
        expect(first.response.status).toBe(503);
        expect(JSON.parse(first.response.body)).toMatchObject({ error: { code: 'ERR_STORE_UNAVAILABLE' } });
      }
      expect((await auth.authenticate({ headers: bearer(key) })).ok).toBe(true);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', record);
      await auth.close();
      await proxy.close();
    }
  });
});

// A pool, or a thin wrapper of one, that has only the promise form of connect() ignores the
// callback the store passes: the store takes the client from the promise instead of waiting
// for ever with the client checked out.
describePostgres('a pool whose connect() has only the promise form', (db) => {
  it('serves lookups and migrations, and leaves no client checked out', async () => {
    const real = db.pool({ max: 2 });
    const promiseOnly = {
      connect: () => real.connect(),
      on: real.on.bind(real),
      listenerCount: real.listenerCount.bind(real),
      options: real.options,
    };
    const store = new PostgresKeyStore({ pool: promiseOnly, table: db.table('promise_pool') });

    await store.migrate();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const { card } = await manager.issue({ accountId: 'acct_promise', environment: 'sandbox' });

    expect((await store.findById(card.keyId))?.account_id).toBe('acct_promise');
    expect(real.totalCount - real.idleCount).toBe(0);
  });
});
