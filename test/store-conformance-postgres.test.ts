import { describe, it } from 'vitest';
import { PostgresKeyStore } from 'keyward/postgres';
import { runStoreConformance } from 'keyward/store-conformance';
import { describePostgres } from './support/postgres.js';

describePostgres('PostgresKeyStore', (db) => {
  const pool = db.pool({ max: 12 });
  const peerPool = db.pool({ max: 12 });

  runStoreConformance({ describe, it }, {
    name: 'PostgresKeyStore',
    createStore: async () => {
      const store = new PostgresKeyStore({ pool, table: db.table() });
      await store.migrate();
      return store;
    },
    disposeStore: async (store) => {
      await db.admin.query(`DROP TABLE ${store.table}`);
    },
    readAllRows: (store) => db.rows(store.table),
    // A second gateway instance: its own pool on the same table.
    createPeer: (store) => new PostgresKeyStore({ pool: peerPool, table: store.table }),
  });
});
