import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import pg from 'pg';
import { createApiKeyAuth, createKeyManager, type KeyManager } from 'keyward';
import { PostgresKeyStore } from 'keyward/postgres';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { rejection } from './helpers/errors.js';
import { describePostgres } from './support/postgres.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import { testSecretBytes } from './helpers/secret-bytes.js';

// Values PostgreSQL refuses (NUL, a timestamp out of its range) or silently changes (a lone
// surrogate becomes U+FFFD) must be refused by the manager as bad arguments before they reach
// the server, not come back from it as a 503.
describePostgres('createKeyManager over PostgreSQL: argument values the server cannot hold', (db) => {
  const table = db.table('keys');
  let manager: KeyManager;

  let store: PostgresKeyStore;

  beforeAll(async () => {
    store = new PostgresKeyStore({ pool: db.pool(), table });
    await store.migrate();
    manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
  });

  const expectRefused = async (attempt: () => Promise<unknown>, argument: string) => {
    const before = await db.rows(table);
    const error = await rejection(attempt());
    expect(error.code).toBe('ERR_INVALID_ARGUMENT');
    expect(error.status).toBe(400);
    expect(error.message.startsWith(`${argument} must `)).toBe(true);
    expect(await db.rows(table)).toEqual(before);
  };

  it('issue answers an accountId with NUL with 400 ERR_INVALID_ARGUMENT, not 503, and writes no row', async () => {
    await expectRefused(() => manager.issue({ accountId: 'acct\u0000nul', environment: 'sandbox' }), 'accountId');
  });

  it('issue refuses both lone-surrogate account ids instead of storing them as one U+FFFD account', async () => {
    await expectRefused(() => manager.issue({ accountId: 'acct\ud800', environment: 'sandbox' }), 'accountId');
    await expectRefused(() => manager.issue({ accountId: 'acct\udc00', environment: 'sandbox' }), 'accountId');
  });

  it('describeAccount answers an accountId with NUL or a lone surrogate with 400 ERR_INVALID_ARGUMENT, not 503', async () => {
    await expectRefused(() => manager.describeAccount('acct\u0000nul', 'sandbox'), 'accountId');
    await expectRefused(() => manager.describeAccount('acct\ud800', 'sandbox'), 'accountId');
  });

  it('issue answers an expiresAt outside PostgreSQL-safe range with 400 ERR_INVALID_ARGUMENT, not 503, and writes no row', async () => {
    await expectRefused(
      () => manager.issue({ accountId: 'acct_2', environment: 'sandbox', expiresAt: new Date(-8.64e15) }),
      'expiresAt',
    );
    await expectRefused(
      () => manager.issue({ accountId: 'acct_2', environment: 'sandbox', expiresAt: new Date(8.64e15) }),
      'expiresAt',
    );
  });

  it('stores and reads back an expiresAt at either end of the accepted range', async () => {
    const first = new Date('1970-01-01T00:00:00.000Z');
    const last = new Date('9999-12-31T23:59:59.999Z');
    const a = await manager.issue({ accountId: 'acct_first', environment: 'sandbox', expiresAt: first });
    const b = await manager.issue({ accountId: 'acct_last', environment: 'sandbox', expiresAt: last });

    expect((await manager.describe(a.card.keyId))!.expiresAt).toEqual(first);
    expect((await manager.describe(b.card.keyId))!.expiresAt).toEqual(last);
  });

  it('answers a key id with NUL or a lone surrogate as unknown (null, 404), not 503', async () => {
    for (const keyId of ['key_\u0000', 'key_\ud800']) {
      expect(await manager.describe(keyId)).toBeNull();
      const error = await rejection(manager.revoke(keyId));
      expect(error.code).toBe('ERR_KEY_NOT_FOUND');
      expect(error.status).toBe(404);
      expect((await rejection(manager.regenerate(keyId))).code).toBe('ERR_KEY_NOT_FOUND');
    }
  });

  it.each([
    ['an invalid Date', () => new Date(Number.NaN)],
    ['a number', () => Date.now()],
  ])('issue and revoke with a clock giving %s throw 500 ERR_OPTIONS_INVALID, not 503, and write no row', async (_name, clock) => {
    const broken = createKeyManager({ store, argon2: TEST_ARGON2, clock: clock as () => Date });
    const live = (await db.rows(table)).find((row) => row.revoked_at === null)!;
    const before = await db.rows(table);
    for (const attempt of [broken.issue({ accountId: 'acct_clock', environment: 'sandbox' }), broken.revoke(live.id)]) {
      const error = await rejection(attempt);
      expect(error).toMatchObject({ code: 'ERR_OPTIONS_INVALID', status: 500, expose: false });
      expect(error.message).toBe('createKeyManager: clock() returned no valid Date.');
    }
    expect(await db.rows(table)).toEqual(before);
  });
});

// An app may have pg hand timestamptz values over as text (to keep microseconds, say): the
// rows then carry PostgreSQL's own text form, which must read as the moment it names.
describePostgres('PostgresKeyStore on a pool whose pg type parser keeps timestamptz as text', (db) => {
  it('passes a key whose expiry is ahead, refuses one whose expiry has passed with 403, and labels both cards', async () => {
    const keepText = { getTypeParser: (oid: number, format?: string) => (oid === 1184 ? (text: string) => text : pg.types.getTypeParser(oid, format as 'text')) };
    const store = new PostgresKeyStore({ pool: db.pool({ types: keepText as never }), table: db.table('text_times') });
    await store.migrate();
    let now = Date.now();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2, clock: () => new Date(now) });
    const ahead = await manager.issue({ accountId: 'acct_ahead', environment: 'sandbox', expiresAt: new Date(now + 86_400_000) });
    const soon = await manager.issue({ accountId: 'acct_soon', environment: 'sandbox', expiresAt: new Date(now + 60_000) });
    // The store turns the text back into Dates, as ApiKeyRow promises.
    const row = (await store.findById(ahead.card.keyId))!;
    expect([row.expires_at, row.created_at]).toEqual([ahead.card.expiresAt, ahead.card.createdAt]);
    expect(row.expires_at).toBeInstanceOf(Date);

    now += 120_000; // soon's expiry has passed
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false, clock: () => new Date(now) });
    const statusOf = async (key: string) => {
      const result = await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });
      return result.ok ? 200 : result.response.status;
    };
    expect([await statusOf(ahead.key), await statusOf(soon.key)]).toEqual([200, 403]);
    expect([(await manager.describe(ahead.card.keyId))!.statusLabel, (await manager.describe(soon.card.keyId))!.statusLabel]).toEqual(['ACTIVE', 'EXPIRED']);
    await auth.close();
  });
});

// DateStyle and TimeZone are the server's, the database's, the role's or the pool's to set;
// pg's own timestamptz parser reads only ISO output and gives null for the rest, which would
// read a passed expiry as "never expires".
describePostgres('PostgresKeyStore under any DateStyle and TimeZone', (db) => {
  it.each([
    ['SQL, DMY', '-c DateStyle=SQL,DMY'],
    ['Postgres, MDY', '-c DateStyle=Postgres,MDY'],
    ['German', '-c DateStyle=German'],
    ['ISO with a zone of odd offset (Africa/Monrovia, 1971)', '-c TimeZone=Africa/Monrovia'],
  ])('refuses a key whose expiry has passed with 403 and reads every time as a Date under %s', async (name, options) => {
    const store = new PostgresKeyStore({ pool: db.pool({ options }), table: db.table(`style_${name.replace(/\W+/g, '_').toLowerCase().slice(0, 20)}`) });
    await store.migrate();
    let now = Date.UTC(1971, 4, 31, 12);
    const manager = createKeyManager({ store, argon2: TEST_ARGON2, clock: () => new Date(now) });
    const { key, card } = await manager.issue({ accountId: 'acct_style', environment: 'sandbox', expiresAt: new Date(now + 60_000) });
    now += 120_000;

    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false, clock: () => new Date(now) });
    const result = await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });
    expect(result.ok ? 200 : result.response.status).toBe(403);
    const described = (await manager.describe(card.keyId))!;
    expect(described.statusLabel).toBe('EXPIRED');
    expect([described.createdAt, described.expiresAt]).toEqual([card.createdAt, card.expiresAt]);
    await auth.close();
  });
});

// Times set by hand in SQL that no keyward call writes: PostgreSQL's infinities and BC dates.
describePostgres('PostgresKeyStore with times set by hand in SQL', (db) => {
  const table = db.table('hand_times');
  let store: PostgresKeyStore;
  beforeAll(async () => {
    store = new PostgresKeyStore({ pool: db.pool({ options: '-c DateStyle=SQL,DMY' }), table });
    await store.migrate();
  });

  it.each([
    ["'-infinity'", 403, 'EXPIRED'],
    ["'3000-01-01 BC'", 403, 'EXPIRED'],
    ["'infinity'", 200, 'ACTIVE'],
    ["'10000-01-01 00:00:00+00'", 200, 'ACTIVE'],
  ])('reads an expiry of %s in its order against now: %i, card %s', async (literal, status, label) => {
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const { key, card } = await manager.issue({ accountId: `acct_${status}_${label}_${literal.length}`, environment: 'sandbox' });
    await db.admin.query(`UPDATE ${table} SET expires_at = ${literal}::timestamptz WHERE id = $1`, [card.keyId]);

    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false });
    const result = await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });
    expect(result.ok ? 200 : result.response.status).toBe(status);
    expect((await manager.describe(card.keyId))!.statusLabel).toBe(label);
    await auth.close();
  });

  it('revokes a key whose times were set to infinities by hand', async () => {
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const { key, card } = await manager.issue({ accountId: 'acct_revoke_infinite', environment: 'sandbox' });
    await db.admin.query(`UPDATE ${table} SET expires_at = 'infinity', last_used_at = '-infinity' WHERE id = $1`, [card.keyId]);

    await manager.revoke(card.keyId);
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false });
    const result = await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });
    expect(result.ok ? 200 : result.response.status).toBe(401);
    await auth.close();
  });
});

// An app's own pg type parsers are global: one that makes a value vanish must never make a
// set time read as "not set".
describePostgres('PostgresKeyStore under an app type parser that turns number-looking text into null', (db) => {
  it('answers a key whose expiry has passed with 503 ERR_STORE_UNAVAILABLE, never 200, and describe and revoke with the same typed error', async () => {
    const vanishing = {
      getTypeParser: (oid: number, format?: string) =>
        oid === 25 ? (text: string) => (/^-?[\d.]+$/.test(text) ? null : text) : pg.types.getTypeParser(oid, format as 'text'),
    };
    const table = db.table('vanishing');
    const plain = new PostgresKeyStore({ pool: db.pool(), table });
    await plain.migrate();
    const { key, card } = await createKeyManager({ store: plain, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_vanish', environment: 'sandbox' });
    await db.admin.query(`UPDATE ${table} SET expires_at = now() - interval '1 day' WHERE id = $1`, [card.keyId]);

    const store = new PostgresKeyStore({ pool: db.pool({ types: vanishing as never }), table });
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false });
    const result = await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });
    expect(result.ok ? 200 : [result.response.status, result.error.code]).toEqual([503, 'ERR_STORE_UNAVAILABLE']);
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    for (const attempt of [manager.describe(card.keyId), manager.revoke(card.keyId)]) {
      const error = await rejection(attempt);
      expect([error.code, error.status]).toEqual(['ERR_STORE_UNAVAILABLE', 503]);
      expect(error.message).not.toMatch(/failed \(ApiKeyAuthError/);
    }
    await auth.close();
  });
});

// The server committed a regenerate, but its answer to COMMIT never came back (a dropped
// connection, or a COMMIT slower than statementTimeoutMs): the old key is dead on every
// gateway, so the new one must not be thrown away.
describePostgres('regenerate over PostgreSQL when the answer to its COMMIT is lost', (db) => {
  const STATEMENT_TIMEOUT_MS = 300;
  const isCommit = (chunk: Buffer) => chunk[0] === 0x51 /* simple Query */ && chunk.includes('COMMIT\u0000');
  let proxy: TcpProxy;
  let direct: PostgresKeyStore;
  let manager: KeyManager;
  let table: string;

  beforeEach(async () => {
    table = db.table('commit');
    direct = new PostgresKeyStore({ pool: db.pool(), table });
    await direct.migrate();
    const server = new URL(db.url);
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    server.hostname = '127.0.0.1';
    server.port = String(proxy.port);
    const store = new PostgresKeyStore({
      pool: db.pool({ connectionString: server.href, connectionTimeoutMillis: 500 }),
      table,
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
    });
    manager = createKeyManager({ store, argon2: TEST_ARGON2 });
  });
  afterEach(async () => {
    await proxy.close();
  });

  /** What a gateway on the direct pool answers for this key: 200 or the refusal's status. */
  const statusOf = async (key: string) => {
    const auth = createApiKeyAuth({ store: direct, environments: ['sandbox'], argon2Pool: false });
    const result = await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });
    await auth.close();
    return result.ok ? 200 : result.response.status;
  };

  it('returns the new key, found by reading the row again under its lock; the new key passes and the old one does not', async () => {
    const issued = await manager.issue({ accountId: 'acct_commit', environment: 'sandbox' });
    proxy.muteRepliesAfter(isCommit);

    const regenerated = await manager.regenerate(issued.card.keyId);

    expect(await statusOf(regenerated.key)).toBe(200);
    expect(await statusOf(issued.key)).toBe(401);
    expect(regenerated.card.maskedKey).toBe((await direct.findById(issued.card.keyId))!.masked_key);
  });

  it('reports a revoke and a status change whose COMMIT answer was lost as done, as they are', async () => {
    const issued = await manager.issue({ accountId: 'acct_commit_revoke', environment: 'sandbox' });
    proxy.muteRepliesAfter(isCommit);
    expect((await manager.setStatus(issued.card.keyId, 'suspended')).status).toBe('suspended');
    expect(await statusOf(issued.key)).toBe(403);

    proxy.muteRepliesAfter(isCommit);
    await manager.revoke(issued.card.keyId);

    expect(await statusOf(issued.key)).toBe(401);
    expect(await direct.findById(issued.card.keyId)).toBeNull();
  });

  it('says the outcome is unknown when the row cannot be read again either; regenerating again then gives a working key', async () => {
    const issued = await manager.issue({ accountId: 'acct_commit_down', environment: 'sandbox' });
    proxy.muteRepliesAfter((chunk) => {
      if (!isCommit(chunk)) return false;
      // Once the COMMIT is on its way, the database stops answering anyone.
      setImmediate(() => proxy.set('hung'));
      return true;
    });

    const error = await rejection(manager.regenerate(issued.card.keyId));
    expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });
    expect(error.message).toMatch(/could not be read again: the old key may already have stopped working.*Regenerating again is safe/);

    proxy.muteRepliesAfter(null);
    proxy.set('up');
    const again = await manager.regenerate(issued.card.keyId);
    expect(await statusOf(again.key)).toBe(200);
    expect(await statusOf(issued.key)).toBe(401);
  });
});

// A table made by an app's own migration tool may keep times to the whole second; migrate()
// accepts it, so the manager's check of what a write left must take the rounded time too.
describePostgres('createKeyManager over a PostgreSQL table whose times are timestamptz(0)', (db) => {
  const table = db.table('seconds');
  let manager: KeyManager;

  beforeAll(async () => {
    const store = new PostgresKeyStore({ pool: db.pool(), table });
    await store.migrate();
    for (const column of ['created_at', 'expires_at', 'last_used_at', 'revoked_at']) {
      await db.admin.query(`ALTER TABLE ${table} ALTER COLUMN ${column} TYPE timestamptz(0)`);
    }
    await store.migrate();
    // 700 ms past the second: the column keeps the next one.
    manager = createKeyManager({ store, argon2: TEST_ARGON2, clock: () => new Date('2026-12-05T12:00:00.700Z') });
  });

  it('issues a key (created_at rounded), revokes it (revoked_at rounded) and regenerates another, each reported as done', async () => {
    const issued = await manager.issue({ accountId: 'acct_seconds', environment: 'sandbox', expiresAt: new Date('2030-01-01T00:00:00.400Z') });
    expect(issued.card.createdAt.toISOString()).toBe('2026-12-05T12:00:01.000Z');

    await manager.revoke(issued.card.keyId);
    expect((await db.rows(table))[0]!.revoked_at).toEqual(new Date('2026-12-05T12:00:01.000Z'));

    const next = await manager.issue({ accountId: 'acct_seconds', environment: 'sandbox' });
    expect((await manager.regenerate(next.card.keyId)).card.keyId).toBe(next.card.keyId);
  });
});

describePostgres('createKeyManager over PostgreSQL: webhook settings left out', (db) => {
  const table = db.table('keys');
  let manager: KeyManager;

  beforeAll(async () => {
    const store = new PostgresKeyStore({ pool: db.pool(), table });
    await store.migrate();
    manager = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: { current: 'k1', keys: { k1: testSecretBytes(1) } } });
  });

  it('keeps the stored username and password when both are left out, in the row itself; null clears the username', async () => {
    const { card } = await manager.issue({ accountId: 'acct_hook', environment: 'sandbox' });
    await manager.setWebhook(card.keyId, { url: 'https://hooks.example.com/a', username: 'relay', password: 'keep-me-please' });

    await manager.setWebhook(card.keyId, { url: 'https://hooks.example.com/b' });
    const [kept] = (await db.pool().query(`SELECT webhook_url, webhook_basic_auth_username FROM ${table} WHERE id = $1`, [card.keyId])).rows;
    expect(kept).toEqual({ webhook_url: 'https://hooks.example.com/b', webhook_basic_auth_username: 'relay' });
    expect(await manager.webhookAuthorization(card.keyId)).toBe(`Basic ${Buffer.from('relay:keep-me-please').toString('base64')}`);

    expect((await manager.setWebhook(card.keyId, { url: 'https://hooks.example.com/b', username: null })).webhook.username).toBeNull();
  });
});
