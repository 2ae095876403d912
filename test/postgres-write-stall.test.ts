import { expect, it } from 'vitest';
import { rejection } from './helpers/errors.js';
import { describePostgres } from './support/postgres.js';
import { rowBehindProxy } from './support/proxied-row.js';

const TIMEOUT_MS = 300;
// Well past the store's give-up on a COMMIT (its bound, then as long again for the cancel's
// outcome), as a link that drops every packet for a while and then comes back.
const STALL_MS = 2 * TIMEOUT_MS + 900;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isCommit = (chunk: Buffer) => chunk[0] === 0x51 /* simple Query */ && chunk.includes('COMMIT\u0000');

// Without a server-side bound on a transaction left idle, a COMMIT (and the close after it)
// held up on the network keeps the transaction open, its row lock held, and lands whenever it
// arrives: after the store has reported the write failed and the key manager has read the row
// to check.
describePostgres('PostgresKeyStore writes whose connection stalls just as they COMMIT', (db) => {
  it('reports the write failed, has released its row lock by then, and the held COMMIT never lands once the link is back', async () => {
    const { table, row, direct, proxy, store } = await rowBehindProxy(db, 'stall', TIMEOUT_MS);
    try {
      proxy.stallAfter(isCommit, STALL_MS);

      const started = Date.now();
      const error = await rejection(store.modify(row.id, () => ({ status: 'suspended' })));
      expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });
      // Another instance can lock the row at once: the server ended the idle transaction.
      const locked = await db.admin.query(`SELECT status FROM ${table} WHERE id = $1 FOR UPDATE NOWAIT`, [row.id]);
      expect(locked.rows).toEqual([{ status: 'allowed' }]);

      await sleep(STALL_MS - (Date.now() - started) + 300);
      expect((await direct.findById(row.id))?.status).toBe('allowed');
    } finally {
      await proxy.close();
    }
  });
});
