import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiKeyAuthError, createApiKeyAuth, createKeyManager, type ApiKeyRow } from 'keyward';
import { PostgresKeyStore, postgresSchemaSql } from 'keyward/postgres';
import { sampleRow } from 'keyward/store-conformance';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { rejection } from './helpers/errors.js';
import { describePostgres } from './support/postgres.js';

/** A pool that is never connected: option checks need none. */
const idlePool = (config: pg.PoolConfig = { connectionTimeoutMillis: 1_000 }) => new pg.Pool(config);

describe('PostgresKeyStore options', () => {
  const invalid = (make: () => unknown, message: RegExp) => {
    expect(make).toThrow(ApiKeyAuthError);
    expect(make).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message: expect.stringMatching(message) }));
  };

  it('requires a pool, and says so when given a pg.Client', () => {
    invalid(() => new PostgresKeyStore({} as never), /^PostgresKeyStore: "pool" is required/);
    invalid(() => new PostgresKeyStore({ pool: { query: () => {} } } as never), /"pool" is required/);
    const client = new pg.Client({ connectionString: 'postgres://127.0.0.1:1/none', connectionTimeoutMillis: 1000 });
    invalid(() => new PostgresKeyStore({ pool: client as never }), /^PostgresKeyStore: "pool" is a pg\.Client; pass a pg\.Pool/);
  });

  it('says it takes options, not the pool itself, when given the pool (or a client) in their place', () => {
    const message = /^PostgresKeyStore takes options, not the pool itself: new PostgresKeyStore\(\{ pool \}\)\.$/;
    invalid(() => new PostgresKeyStore(idlePool() as never), message);
    invalid(() => new PostgresKeyStore(new pg.Client({ connectionTimeoutMillis: 1000 }) as never), message);
  });

  it('refuses a pool without connectionTimeoutMillis, whose connection waits are unbounded', () => {
    invalid(() => new PostgresKeyStore({ pool: idlePool({}) }), /connectionTimeoutMillis/);
    invalid(() => new PostgresKeyStore({ pool: idlePool({ connectionTimeoutMillis: 0 }) }), /connectionTimeoutMillis/);
  });

  it.each(['Api_Keys', 'a.b.c', 'keys; DROP TABLE x', '', 'keyward.', '1keys', `k${'x'.repeat(40)}`])(
    'refuses the table name %j',
    (table) => invalid(() => new PostgresKeyStore({ pool: idlePool(), table }), /^PostgresKeyStore: "table" must be/),
  );

  it('says that a name may not start with a digit, as the rule it states would otherwise allow', () => {
    invalid(
      () => new PostgresKeyStore({ pool: idlePool(), table: '1keys' }),
      /^PostgresKeyStore: "table" must be "name" or "schema\.name" of lower-case letters, digits and "_", each starting with a letter or "_" \(name at most 40 characters\)\.$/,
    );
  });

  it('accepts a schema-qualified table name and defaults to api_keys', () => {
    expect(new PostgresKeyStore({ pool: idlePool(), table: 'billing.keys_v2' }).table).toBe('billing.keys_v2');
    expect(new PostgresKeyStore({ pool: idlePool() }).table).toBe('api_keys');
  });

  it('refuses an unknown option with a did-you-mean and an out-of-range timeout', () => {
    invalid(() => new PostgresKeyStore({ pool: idlePool(), statementTimeout: 5 } as never), /Did you mean "statementTimeoutMs"/);
    invalid(() => new PostgresKeyStore({ pool: idlePool(), statementTimeoutMs: 0 }), /^PostgresKeyStore: "statementTimeoutMs" must be an integer/);
    invalid(() => new PostgresKeyStore({ pool: idlePool(), statementTimeoutMs: 1.5 }), /"statementTimeoutMs"/);
  });

  const LOGGER_SHAPE = 'PostgresKeyStore: "logger" must be an object (or a function) with a warn method (pool errors are logged at warn)';

  it.each<[string, unknown, string]>([
    ['console.log', console.log, `${LOGGER_SHAPE}; the function given has none (pass console, not console.log).`],
    ['a (fields, message) function', (_fields: unknown, _message: string) => {}, `${LOGGER_SHAPE}; the function given has none (pass console, not console.log).`],
    ['an object without methods', {}, `${LOGGER_SHAPE}; it has none.`],
    ['a logger with only an error method, which pool errors never reach', { error() {} }, `${LOGGER_SHAPE}; it has none.`],
    ['a logger whose warn is misspelt', { wran() {} }, `${LOGGER_SHAPE}; it has none ("wran" is not one). Did you mean "warn"?`],
    ['a logger whose warn is a class', { warn: class {} }, `${LOGGER_SHAPE}; it has none ("warn" is a class, which cannot be called).`],
    ["winston's syslog levels, whose methods live on the prototype", Object.create({ warning() {}, error() {} }), `${LOGGER_SHAPE}; it has none ("warning" is not one). Did you mean "warn"? (winston with syslog levels needs a warn method added.)`],
    ['a string', 'console', `${LOGGER_SHAPE}; got a string.`],
  ])('refuses %s as the logger with ERR_OPTIONS_INVALID', (_name, logger, message) => {
    const make = () => new PostgresKeyStore({ pool: idlePool(), logger: logger as never });
    expect(make).toThrow(ApiKeyAuthError);
    expect(make).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message }));
  });

  it('accepts console as the logger and logs an idle connection error to console.warn', () => {
    const pool = idlePool();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      new PostgresKeyStore({ pool, logger: console });
      pool.emit('error', Object.assign(new Error('terminating connection'), { code: '57P01' }));
      expect(warn).toHaveBeenCalledWith({ event: 'keyward.postgres_pool_error', error: 'Error 57P01: terminating connection' }, expect.any(String));
    } finally {
      warn.mockRestore();
    }
  });

  it("attaches a logging 'error' listener to a pool that has none, and leaves the app's own alone", () => {
    const bare = idlePool();
    new PostgresKeyStore({ pool: bare });
    expect(bare.listenerCount('error')).toBe(1);

    const handled = idlePool();
    const own = () => {};
    handled.on('error', own);
    new PostgresKeyStore({ pool: handled });
    expect(handled.listeners('error')).toEqual([own]);
  });

  it.each([
    ['whose warn returns a rejected promise', () => ({ warn: () => Promise.reject(new Error('log shipper down')) })],
    ['whose warn is async and throws', () => ({ warn: async () => { throw new Error('log shipper down'); } })],
    ['whose warn throws', () => ({ warn: () => { throw new Error('log shipper down'); } })],
    ['whose warn getter throws', () => Object.defineProperty({}, 'warn', { get: () => { throw new Error('log shipper down'); } })],
  ])('survives an idle connection error with a logger %s: no throw, no unhandled rejection', async (_name, make) => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const pool = idlePool();
      new PostgresKeyStore({ pool, logger: make() as never });
      expect(() => pool.emit('error', new Error('terminating connection due to administrator command'))).not.toThrow();
      // Unhandled rejections are reported after the microtask queue drains.
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('accepts a logger that is a function with a warn method, and logs through it', () => {
    const pool = idlePool();
    const warnings: unknown[] = [];
    const logger = Object.assign(() => {}, { warn: (fields: unknown) => void warnings.push(fields) });
    new PostgresKeyStore({ pool, logger });
    pool.emit('error', Object.assign(new Error('terminating connection'), { code: '57P01' }));
    expect(warnings).toEqual([{ event: 'keyward.postgres_pool_error', error: 'Error 57P01: terminating connection' }]);
  });

  it('logs an idle connection error through the logger as it is at write time', () => {
    const pool = idlePool();
    const warnings: unknown[] = [];
    const logger: { warn: (fields: unknown) => void } = { warn: () => {} };
    new PostgresKeyStore({ pool, logger });
    logger.warn = (fields) => warnings.push(fields);
    pool.emit('error', Object.assign(new Error('terminating connection'), { code: '57P01' }));
    expect(warnings).toEqual([{ event: 'keyward.postgres_pool_error', error: 'Error 57P01: terminating connection' }]);
  });
});

describe('sql/keyward-schema.sql', () => {
  it('is exactly what the code generates (run `npm run schema:sql` after changing the schema)', () => {
    const shipped = readFileSync(new URL('../sql/keyward-schema.sql', import.meta.url), 'utf8');
    expect(shipped).toBe(postgresSchemaSql());
  });

  it('names a custom table everywhere and refuses a bad one', () => {
    const sql = postgresSchemaSql('billing.keys');
    expect(sql).toContain('CREATE SCHEMA IF NOT EXISTS "billing";');
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "billing"."keys"');
    expect(sql).toContain('"keys_one_live_key" ON "billing"."keys"');
    expect(sql).not.toContain('api_keys');
    expect(() => postgresSchemaSql('x"; DROP')).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS_INVALID' }));
  });
});

describePostgres('PostgresKeyStore on a real server', (db) => {
  const pool = db.pool();
  const migrated = async (options: { statementTimeoutMs?: number } = {}) => {
    const store = new PostgresKeyStore({ pool, table: db.table(), ...options });
    await store.migrate();
    return store;
  };

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('works on a table created by the shipped SQL file', async () => {
    const schema = `${db.schema}_file`;
    const client = await pool.connect();
    try {
      await client.query(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}`);
      await client.query(readFileSync(new URL('../sql/keyward-schema.sql', import.meta.url), 'utf8'));
      await client.query('RESET search_path');
    } finally {
      client.release();
    }
    try {
      const store = new PostgresKeyStore({ pool, table: `${schema}.api_keys` });
      const row = sampleRow();
      await store.insert(row);
      expect(await store.findByLookupId(row.lookup_id)).toEqual(row);
      await expect(store.insert(sampleRow({ account_id: row.account_id }))).rejects.toMatchObject({
        code: 'ERR_KEY_EXISTS',
      });
    } finally {
      await pool.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it('answers a read whose time an app\'s type parser made unreadable with ERR_STORE_UNAVAILABLE, as a store fault', async () => {
    const store = await migrated();
    const row = sampleRow();
    await store.insert(row);
    // A parser for text that changes every value: keyward's times come back as text.
    const garbled = db.pool({ types: { getTypeParser: () => (value: string) => `x${value}` } });
    const reader = new PostgresKeyStore({ pool: garbled, table: store.table });

    const error = await rejection(reader.findByLookupId(row.lookup_id));

    expect(error).toBeInstanceOf(ApiKeyAuthError);
    expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });
    expect(error.message).toMatch(/^keyward postgres store: findByLookupId failed \(TypeError: created_at came back in a form keyward cannot read\)/);
  });

  describe('on a table without keyward\'s unique indexes (made by hand, migrate() never run)', () => {
    /** A table with keyward's columns and none of its indexes, holding `rows`. */
    const unindexed = async (rows: ApiKeyRow[]) => {
      const source = await migrated();
      const table = db.table('unindexed');
      await pool.query(`CREATE TABLE ${table} (LIKE ${source.table} INCLUDING ALL EXCLUDING INDEXES)`);
      const store = new PostgresKeyStore({ pool, table });
      for (const row of rows) await store.insert(row);
      return store;
    };
    const duplicateMessage = (operation: string) =>
      `keyward postgres store: ${operation} found more than one live row where keyward's unique indexes allow one; none is used. Run migrate() to create the indexes; it fails until the extra rows are gone.`;

    it('refuses two live rows with one lookup id with ERR_STORED_ROW_INVALID rather than give either', async () => {
      const row = sampleRow();
      const store = await unindexed([row, sampleRow({ lookup_id: row.lookup_id, key_hash: row.key_hash })]);

      const error = await rejection(store.findByLookupId(row.lookup_id));

      expect(error).toBeInstanceOf(ApiKeyAuthError);
      expect(error).toMatchObject({ code: 'ERR_STORED_ROW_INVALID', status: 500, expose: false, message: duplicateMessage('findByLookupId') });
    });

    it('refuses two live rows for one account and environment, and still gives a lone row', async () => {
      const row = sampleRow();
      const alone = sampleRow();
      const store = await unindexed([row, sampleRow({ account_id: row.account_id }), alone]);

      await expect(store.findLive(row.account_id, 'sandbox')).rejects.toMatchObject({ code: 'ERR_STORED_ROW_INVALID', message: duplicateMessage('findLive') });
      await expect(createKeyManager({ store }).describeAccount(row.account_id, 'sandbox')).rejects.toMatchObject({ code: 'ERR_STORED_ROW_INVALID' });
      expect(await store.findLive(alone.account_id, 'sandbox')).toEqual(alone);
      expect(await store.findByLookupId(alone.lookup_id)).toEqual(alone);
    });

    it('never lets a key pass as the account of a copy of its row: the authenticator answers 503', async () => {
      const store = await unindexed([]);
      const { key, card } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_owner', environment: 'sandbox' });
      const [original] = await db.rows(store.table);
      await store.insert({ ...original!, id: `${card.keyId}_copy`, account_id: 'acct_other' });
      const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false, logger: { error: () => undefined } });
      try {
        const result = await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });

        expect(result.ok).toBe(false);
        expect(result.ok === false && [result.response.status, result.error.code]).toEqual([503, 'ERR_STORE_UNAVAILABLE']);
      } finally {
        await auth.close();
      }
    });
  });

  it('keeps the process up and logs keyward.postgres_pool_error when an idle connection is terminated and the async logger rejects', async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const name = `kw_idle_${db.schema}`;
      const own = db.pool({ application_name: name, max: 2 });
      const events: unknown[] = [];
      const logger = { warn: async (fields: { event?: unknown }) => { events.push(fields.event); throw new Error('log shipper down'); } };
      const store = new PostgresKeyStore({ pool: own, table: db.table(), logger: logger as never });
      await store.migrate();
      expect(own.idleCount).toBeGreaterThan(0);
      await db.admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]);
      await vi.waitFor(() => expect(events).toContain('keyward.postgres_pool_error'));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
      expect(await store.findById('no_such_key')).toBeNull();
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('migrates again and from two instances at once without error', async () => {
    const table = db.table();
    const stores = [db.pool(), db.pool(), db.pool()].map((each) => new PostgresKeyStore({ pool: each, table }));
    await Promise.all(stores.map((store) => store.migrate()));
    await stores[0]!.migrate();
    const row = sampleRow();
    await stores[1]!.insert(row);
    expect((await stores[2]!.findById(row.id))?.lookup_id).toBe(row.lookup_id);
  });

  it('migrates one table from two instances at once when one names it with its schema and one without', async () => {
    for (let round = 0; round < 5; round++) {
      const qualified = db.table('spelt');
      const bare = qualified.split('.')[1]!;
      const onSearchPath = db.pool({ options: `-c search_path=${db.schema}` });
      const stores = [new PostgresKeyStore({ pool: onSearchPath, table: bare }), new PostgresKeyStore({ pool: db.pool(), table: qualified })];
      await Promise.all(stores.map((store) => store.migrate()));
      const row = sampleRow();
      await stores[0]!.insert(row);
      expect((await stores[1]!.findById(row.id))?.id).toBe(row.id);
    }
  });

  it('migrates an up-to-date table at once while a write transaction holds one of its rows', async () => {
    const store = await migrated({ statementTimeoutMs: 1_000 });
    const row = sampleRow();
    await store.insert(row);
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`UPDATE ${store.table} SET status = 'suspended' WHERE id = $1`, [row.id]);
      // CREATE INDEX IF NOT EXISTS would wait for a SHARE lock behind this transaction, and every
      // write queued behind it, until lock_timeout failed the migration.
      const started = Date.now();
      await store.migrate();
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });

  it('migrates two tables of one new schema from two instances at once', async () => {
    const schema = `${db.schema}_fresh`;
    try {
      const stores = ['a', 'b', 'c'].map((name) => new PostgresKeyStore({ pool: db.pool(), table: `${schema}.${name}` }));
      await Promise.all(stores.map((store) => store.migrate()));
      const row = sampleRow();
      await stores[1]!.insert(row);
      expect((await stores[1]!.findById(row.id))?.id).toBe(row.id);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });

  it.each([
    ['one-live-key', '_one_live_key', (row: ApiKeyRow) => sampleRow({ account_id: row.account_id, environment: row.environment })],
    ['lookup id', '_lookup_id_key', (row: ApiKeyRow) => sampleRow({ lookup_id: row.lookup_id })],
  ])('refuses with ERR_STORE_REFUSED, not ERR_KEY_EXISTS, to build the %s index over rows that break it, and says what to do', async (_name, suffix, duplicateOf) => {
    const store = await migrated();
    await pool.query(`DROP INDEX ${store.table}${suffix}`);
    const row = sampleRow();
    await store.insert(row);
    await store.insert(duplicateOf(row));

    const error = await rejection(store.migrate());

    expect([error.code, error.status]).toEqual(['ERR_STORE_REFUSED', 500]);
    expect(error.message).toMatch(/^keyward postgres store: PostgreSQL refused migrate with SQLSTATE 23505 \(unique violation of constraint ".*" on table ".*"\); nothing was written, and the same write is refused again; the table holds rows that a unique index keyward needs forbids .*: resolve them, then migrate again$/);
  });

  it('creates an index missing from an existing table when it migrates', async () => {
    const store = await migrated();
    const row = sampleRow();
    await store.insert(row);
    await pool.query(`DROP INDEX ${store.table}_one_live_key`);
    await store.migrate();
    await expect(store.insert(sampleRow({ account_id: row.account_id }))).rejects.toMatchObject({ code: 'ERR_KEY_EXISTS' });
  });

  it.each([
    ['not unique', (table: string, bare: string) => `CREATE INDEX ${bare}_lookup_id_key ON ${table} (lookup_id)`],
    ['on other columns', (table: string, bare: string) => `CREATE UNIQUE INDEX ${bare}_lookup_id_key ON ${table} (key_hash)`],
    ['partial where keyward\'s is not', (table: string, bare: string) => `CREATE UNIQUE INDEX ${bare}_lookup_id_key ON ${table} (lookup_id) WHERE NOT soft_deleted`],
  ])('refuses to migrate when an index named as keyward\'s lookup id index is %s, and keeps it', async (_what, create) => {
    const store = await migrated();
    const bare = store.table.split('.').pop()!;
    await pool.query(`DROP INDEX ${store.table}_lookup_id_key`);
    await pool.query(create(store.table, bare));

    const error = await rejection(store.migrate());

    expect(error.code).toBe('ERR_STORE_REFUSED');
    expect((error.cause as Error).message).toBe(
      `keyward: "${bare}_lookup_id_key" exists but is not the unique index keyward needs: on ${bare} (lookup_id); drop or rename it, then migrate again`,
    );
    const { rows } = await pool.query('SELECT indexdef FROM pg_indexes WHERE indexname = $1', [`${bare}_lookup_id_key`]);
    expect(rows).toHaveLength(1);
  });

  it('refuses to migrate when the lookup id index is one a failed CREATE INDEX CONCURRENTLY left, which enforces nothing', async () => {
    const store = await migrated();
    const bare = store.table.split('.').pop()!;
    await pool.query(`DROP INDEX ${store.table}_lookup_id_key`);
    const row = sampleRow();
    await store.insert(row);
    await pool.query(`INSERT INTO ${store.table} SELECT 'key_dup', account_id || '_2', key_type, status, environment, created_at, last_used_at, expires_at, soft_deleted, revoked_at, lookup_id, key_hash, masked_key, webhook_url, webhook_basic_auth_username, webhook_basic_auth_password_sealed FROM ${store.table}`);
    await expect(pool.query(`CREATE UNIQUE INDEX CONCURRENTLY ${bare}_lookup_id_key ON ${store.table} (lookup_id)`)).rejects.toMatchObject({ code: '23505' });

    await expect(store.migrate()).rejects.toMatchObject({ code: 'ERR_STORE_REFUSED' });
  });

  it('refuses to migrate when the one-live-key index is there without its WHERE clause', async () => {
    const store = await migrated();
    const bare = store.table.split('.').pop()!;
    await pool.query(`DROP INDEX ${store.table}_one_live_key`);
    await pool.query(`CREATE UNIQUE INDEX ${bare}_one_live_key ON ${store.table} (account_id, environment)`);

    await expect(store.migrate()).rejects.toMatchObject({ code: 'ERR_STORE_REFUSED' });
  });

  it('has a check constraint that admits the seven statuses and the alias revoked, nothing else', async () => {
    const store = await migrated();
    for (const status of ['allowed', 'pending_validation', 'suspended', 'revoqued', 'locked', 'expired', 'rejected', 'revoked']) {
      await store.insert(sampleRow({ status }));
    }
    for (const status of ['Allowed', 'active', 'revoke']) {
      await expect(store.insert(sampleRow({ status }))).rejects.toMatchObject({ code: 'ERR_STORE_REFUSED' });
    }
    await expect(
      pool.query(`UPDATE ${store.table} SET status = 'ALLOWED'`),
    ).rejects.toMatchObject({ code: '23514', constraint: expect.stringMatching(/_status_check$/) });
  });

  it('derives webhook_basic_auth_configured from the sealed password, and keeps it out of rows', async () => {
    const store = await migrated();
    const row = sampleRow();
    await store.insert(row);
    const flag = async () =>
      (await pool.query(`SELECT webhook_basic_auth_configured AS v FROM ${store.table} WHERE id = $1`, [row.id])).rows[0].v;
    expect(await flag()).toBe(true);
    const written = await store.modify(row.id, () => ({ webhook_basic_auth_password_sealed: null }));
    expect(await flag()).toBe(false);
    expect(written).not.toHaveProperty('webhook_basic_auth_configured');
  });

  it('maps each unique violation to ERR_KEY_EXISTS with its reason, as keyward’s own error class', async () => {
    const store = await migrated();
    const row = sampleRow();
    await store.insert(row);
    const cases: [ReturnType<typeof sampleRow>, string][] = [
      [sampleRow({ id: row.id }), 'A key with this id already exists.'],
      [sampleRow({ lookup_id: row.lookup_id }), 'A key with this lookup id already exists.'],
      [
        sampleRow({ account_id: row.account_id }),
        'This account already has a live key in this environment; regenerate it instead.',
      ],
    ];
    for (const [duplicate, message] of cases) {
      const error = await store.insert(duplicate).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ApiKeyAuthError);
      expect(error).toMatchObject({ code: 'ERR_KEY_EXISTS', status: 409, message });
    }
  });

  it('rejects with ERR_STORE_REFUSED (500) naming the operation and saying to migrate when the table is missing', async () => {
    const store = new PostgresKeyStore({ pool, table: db.table('missing') });
    const error = await store.findByLookupId('AAAAAAAAAAAA').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiKeyAuthError);
    expect(error).toMatchObject({ code: 'ERR_STORE_REFUSED', status: 500, expose: false });
    expect((error as Error).message).toMatch(
      /^keyward postgres store: PostgreSQL refused findByLookupId with SQLSTATE 42P01 \(relation ".*" does not exist\); the same read is refused again; create the table first: await store\.migrate\(\), or sql\/keyward-schema\.sql$/,
    );
  });

  it('gives up on a row lock held elsewhere after statementTimeoutMs and writes nothing', async () => {
    const store = await migrated({ statementTimeoutMs: 200 });
    const row = sampleRow();
    await store.insert(row);
    const holder = await pool.connect();
    try {
      await holder.query(`BEGIN; SELECT 1 FROM ${store.table} WHERE id = '${row.id}' FOR UPDATE`);
      const change = vi.fn(() => ({ status: 'locked' }));
      await expect(store.modify(row.id, change)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });
      expect(change).not.toHaveBeenCalled();
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    expect((await store.findById(row.id))?.status).toBe('allowed');
    expect((await store.modify(row.id, () => ({ status: 'locked' })))?.status).toBe('locked');
  });

  it('refuses a change that sets an identity field, a field it does not know, a required field to null or a field to a value of another type, or gives a promise, writing nothing', async () => {
    const store = await migrated();
    const row = sampleRow();
    await store.insert(row);
    const thenable = { then: (resolve: (value: unknown) => void) => resolve({ status: 'locked' }) };
    const patches = [{ id: 'key_other' }, { account_id: 'acct_other' }, { colour: 'red' }, { status: null }, { key_hash: null }, { soft_deleted: 'false' }, { last_used_at: '2020-01-01T00:00:00Z' }, Promise.resolve({ status: 'locked' }), thenable];
    for (const patch of patches) {
      await expect(store.modify(row.id, () => patch as never)).rejects.toThrow(TypeError);
    }
    expect(await store.findById(row.id)).toEqual(row);
  });

  it('sends one statement per lookup, four per modify, and one transaction of three for a whole usage batch', async () => {
    const store = await migrated();
    const rows = Array.from({ length: 40 }, () => sampleRow());
    for (const row of rows) await store.insert(row);
    const queries = vi.spyOn(pg.Client.prototype, 'query');

    await store.findByLookupId(rows[0]!.lookup_id);
    expect(queries).toHaveBeenCalledTimes(1);

    queries.mockClear();
    await store.modify(rows[0]!.id, () => ({ status: 'suspended' }));
    expect(queries).toHaveBeenCalledTimes(4);

    queries.mockClear();
    const usedAt = new Date('2026-03-01T10:00:00.000Z');
    await store.recordUsage(rows.map((row) => ({ id: row.id, lookup_id: row.lookup_id, used_at: usedAt })));
    // BEGIN with its server-side bounds, the one UPDATE, COMMIT.
    expect(queries).toHaveBeenCalledTimes(3);
    const { rows: used } = await pool.query(`SELECT count(*)::int AS n FROM ${store.table} WHERE last_used_at = $1`, [usedAt]);
    expect(used[0].n).toBe(40);
  });
});

// The database, the role or the app's pool may set default_transaction_isolation. modify
// compares the row it locked with what its caller read, so it must see the latest committed
// version after a lock wait, whatever that default is.
describePostgres('PostgresKeyStore under a default isolation level above READ COMMITTED', (db) => {
  it.each([
    ['repeatable read', 'repeatable\\ read'],
    ['serializable', 'serializable'],
  ])('modify waits for a row lock under %s and then reads the committed change, no 503', async (level, option) => {
    const applicationName = `kw_iso_${level.replace(' ', '_')}_${db.schema}`;
    const pool = db.pool({ options: `-c default_transaction_isolation=${option}`, application_name: applicationName });
    expect((await pool.query('SHOW default_transaction_isolation')).rows[0].default_transaction_isolation).toBe(level);
    const store = new PostgresKeyStore({ pool, table: db.table('isolation'), statementTimeoutMs: 5_000 });
    await store.migrate();
    const row = sampleRow();
    await store.insert(row);

    const holder = await db.admin.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`UPDATE ${store.table} SET status = 'suspended' WHERE id = $1`, [row.id]);
      const seen: (string | null)[] = [];
      const modified = store.modify(row.id, (current) => {
        seen.push(current.status);
        return current.status === 'allowed' ? { status: 'locked' } : null;
      });
      await vi.waitFor(async () => expect((await db.backends(applicationName)).waitingOnLock).toBe(1));
      await holder.query('COMMIT');

      expect(await modified).toBeNull();
      expect(seen).toEqual(['suspended']);
    } finally {
      holder.release();
    }
  });
});

// While a fault of the server's own lasts (a table missing after a restore, a revoked grant),
// closing the connection after each refused statement would open one new backend per request.
describePostgres('PostgresKeyStore connections after a statement fails', (db) => {
  /** A pool that counts the connections it opens, and a name to find its backends by. */
  const countedPool = (config: pg.PoolConfig = {}) => {
    const applicationName = `kw_conn_${db.schema}_${Math.random().toString(36).slice(2, 8)}`;
    const pool = db.pool({ application_name: applicationName, ...config });
    const counter = { opened: 0 };
    pool.on('connect', () => counter.opened++);
    return { pool, applicationName, counter };
  };

  it('keeps the connection when the server answers with an error (a missing table): no new backend per request', async () => {
    const { pool, counter } = countedPool({ max: 2 });
    const store = new PostgresKeyStore({ pool, table: db.table('missing') });
    for (let i = 0; i < 10; i++) {
      await expect(store.findByLookupId('AAAAAAAAAAAA')).rejects.toMatchObject({ code: 'ERR_STORE_REFUSED' });
    }
    await Promise.all(Array.from({ length: 10 }, () => expect(store.findById('key_x')).rejects.toMatchObject({ code: 'ERR_STORE_REFUSED' })));
    expect(counter.opened).toBeLessThanOrEqual(2);
  });

  it('rolls back on the same connection when the server refuses a statement inside modify, and keeps it', async () => {
    const { pool, applicationName, counter } = countedPool({ max: 1 });
    const store = new PostgresKeyStore({ pool, table: db.table('refused') });
    await store.migrate();
    const [first, second] = [sampleRow(), sampleRow()];
    await store.insert(first);
    await store.insert(second);

    await expect(store.modify(first.id, () => ({ lookup_id: second.lookup_id }))).rejects.toMatchObject({ code: 'ERR_KEY_EXISTS' });
    const { rows } = await db.admin.query('SELECT state FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
    expect(rows).toEqual([{ state: 'idle' }]);
    expect((await store.modify(first.id, () => ({ status: 'locked' })))?.status).toBe('locked');
    expect(counter.opened).toBe(1);
  });

  it('closes the connection when the server ends the session mid-statement (57P01), and the next call works on a new one', async () => {
    const { pool, applicationName, counter } = countedPool({ max: 1 });
    const store = new PostgresKeyStore({ pool, table: db.table('ended'), statementTimeoutMs: 5_000 });
    await store.migrate();
    const row = sampleRow();
    await store.insert(row);

    const holder = await db.admin.connect();
    try {
      await holder.query(`BEGIN; LOCK TABLE ${store.table} IN ACCESS EXCLUSIVE MODE`);
      const lookup = rejection(store.findById(row.id));
      await vi.waitFor(async () => expect((await db.backends(applicationName)).waitingOnLock).toBe(1));
      await db.admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
      expect(await lookup).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', message: expect.stringContaining('57P01') });
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    expect((await store.findById(row.id))?.id).toBe(row.id);
    expect(counter.opened).toBe(2);
  });
});
