import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createApiKeyAuth, createKeyManager } from 'keyward';
import { PostgresKeyStore, postgresSchemaSql } from 'keyward/postgres';
import { sampleRow } from 'keyward/store-conformance';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { rejection } from './helpers/errors.js';
import { describePostgres, type TestDatabase } from './support/postgres.js';

const SCRIPT = fileURLToPath(new URL('../sql/keyward-schema.sql', import.meta.url));
/** The script's tests run it with psql, as the README says to, and are skipped without it. */
const HAS_PSQL = spawnSync('psql', ['--version']).status === 0;

/** Runs the shipped script with psql as the README says to, with `PGOPTIONS` set to `options`. */
function psql(url: string, options: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', SCRIPT], {
      env: { ...process.env, PGOPTIONS: options },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** A table's columns with their types and its indexes, to show that nothing altered it. */
async function shapeOf(db: TestDatabase, schema: string, table: string) {
  const { rows } = await db.admin.query(
    `SELECT
       (SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position)
        FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2) AS columns,
       (SELECT string_agg(indexname, ', ' ORDER BY indexname) FROM pg_indexes WHERE schemaname = $1 AND tablename = $2) AS indexes`,
    [schema, table],
  );
  return rows[0] as { columns: string; indexes: string | null };
}

/** Issues a key through `store` and authenticates it there; whether it passed. */
async function issuedKeyPasses(store: PostgresKeyStore): Promise<boolean> {
  const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
  const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false });
  try {
    const { key } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    return (await auth.authenticate({ headers: { authorization: `Bearer ${key}` } })).ok;
  } finally {
    await auth.close();
  }
}

/**
 * A login role of the file's own, as a gateway gets: USAGE on the file's schema and whatever
 * a test grants on a table, no CREATE anywhere. Dropped after the file.
 */
function gatewayRole(db: TestDatabase) {
  const name = `${db.schema}_gateway`;
  const password = randomBytes(12).toString('hex');
  const pools: pg.Pool[] = [];
  beforeAll(async () => {
    await db.admin.query(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
    await db.admin.query(`GRANT USAGE ON SCHEMA ${db.schema} TO ${name}`);
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await db.admin.query(`DROP OWNED BY ${name}`);
    await db.admin.query(`DROP ROLE ${name}`);
  });
  const url = new URL(db.url);
  url.username = name;
  url.password = password;
  return {
    name,
    url: url.href,
    pool(config: pg.PoolConfig = {}) {
      const pool = new pg.Pool({ connectionString: url.href, connectionTimeoutMillis: 5_000, max: 2, ...config });
      pools.push(pool);
      return pool;
    },
  };
}

describePostgres('PostgresKeyStore.migrate() on a table that is already there', (db) => {
  const role = gatewayRole(db);
  const migratedTable = async (prefix: string) => {
    const table = db.table(prefix);
    await new PostgresKeyStore({ pool: db.admin, table }).migrate();
    return { table, bare: table.split('.')[1]! };
  };
  // The store's name for the table: with its schema, or bare and found through the search path.
  const spellings: [string, (table: string, bare: string) => string, string][] = [
    ['named with its schema', (table) => table, ''],
    ['found through the search path', (_table, bare) => bare, `-c search_path=${db.schema}`],
  ];

  it.each(spellings)('migrates an up-to-date table %s as a role without CREATE privileges, then serves its keys', async (_spelling, spelt, options) => {
    const { table, bare } = await migratedTable('granted');
    await db.admin.query(`GRANT SELECT, INSERT, UPDATE ON ${table} TO ${role.name}`);
    const store = new PostgresKeyStore({ pool: role.pool({ options }), table: spelt(table, bare) });

    await store.migrate();

    expect(await issuedKeyPasses(store)).toBe(true);
  });

  it('refuses with ERR_STORE_REFUSED a role that may not read the table, naming the columns, and takes one granted SELECT column by column', async () => {
    const { table } = await migratedTable('unreadable');
    const store = new PostgresKeyStore({ pool: role.pool(), table });

    const error = await rejection(store.migrate());

    expect(error.code).toBe('ERR_STORE_REFUSED');
    expect((error.cause as Error).message).toBe(
      `keyward: role ${role.name} may not read id, account_id, key_type, status, environment, created_at, last_used_at, expires_at, soft_deleted, revoked_at, lookup_id, key_hash, masked_key, webhook_url, webhook_basic_auth_username, webhook_basic_auth_password_sealed of table ${table}, so every request would fail; grant it SELECT on the table, then migrate again`,
    );

    await db.admin.query(`GRANT SELECT (id, account_id, key_type, status, environment, created_at, last_used_at, expires_at, soft_deleted, revoked_at, lookup_id, key_hash, masked_key, webhook_url, webhook_basic_auth_username, webhook_basic_auth_password_sealed) ON ${table} TO ${role.name}`);
    await store.migrate();
  });

  it('refuses with ERR_STORE_REFUSED a role that may read the table but not use its schema', async () => {
    const schema = `${db.schema}_closed`;
    const table = `${schema}.api_keys`;
    await db.admin.query(`CREATE SCHEMA ${schema}`);
    try {
      await new PostgresKeyStore({ pool: db.admin, table }).migrate();
      await db.admin.query(`GRANT SELECT ON ${table} TO ${role.name}`);

      const error = await rejection(new PostgresKeyStore({ pool: role.pool(), table }).migrate());

      expect(error.code).toBe('ERR_STORE_REFUSED');
      expect((error.cause as Error).message).toBe(
        `keyward: role ${role.name} may not use the schema of table ${table}, so every request would fail; grant it USAGE on the schema, then migrate again`,
      );
    } finally {
      await db.admin.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });

  it.each(spellings)('migrates an up-to-date table %s in a read-only session, as on a standby, then reads its keys', async (_spelling, spelt, options) => {
    const { table, bare } = await migratedTable('readonly');
    const row = sampleRow();
    await new PostgresKeyStore({ pool: db.admin, table }).insert(row);
    const pool = db.pool({ options: `-c default_transaction_read_only=on ${options}` });
    const store = new PostgresKeyStore({ pool, table: spelt(table, bare) });

    await store.migrate();

    expect(await store.findByLookupId(row.lookup_id)).toEqual(row);
  });

  it('still takes its turn on the advisory lock in a read-only session', async () => {
    const { table } = await migratedTable('turns');
    const applicationName = `kw_turns_${db.schema}`;
    const pool = db.pool({ options: '-c default_transaction_read_only=on', application_name: applicationName });
    const store = new PostgresKeyStore({ pool, table, statementTimeoutMs: 5_000 });
    const holder = await db.admin.connect();
    try {
      // Every keyward migration of the test database waits meanwhile: hold it briefly.
      await holder.query("BEGIN; SELECT pg_advisory_xact_lock(hashtext('keyward:migrate'))");
      const migrating = store.migrate();
      await vi.waitFor(async () => expect((await db.backends(applicationName)).waitingOnLock).toBe(1));
      await holder.query('COMMIT');
      await migrating;
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      holder.release();
    }
  });

  it('finds a table another instance created while it waited for the lock, on a connection whose migration found none before', async () => {
    const table = db.table('raced');
    const applicationName = `kw_raced_${db.schema}`;
    const store = new PostgresKeyStore({ pool: role.pool({ max: 1, application_name: applicationName }), table, statementTimeoutMs: 5_000 });
    // Refused, as the role may not create the table. The connection's catalog cache keeps
    // "no such table" until the session next reads its invalidation messages, which waiting
    // for an advisory lock does not make it do.
    await expect(store.migrate()).rejects.toMatchObject({ code: 'ERR_STORE_REFUSED' });
    const holder = await db.admin.connect();
    try {
      await holder.query("BEGIN; SELECT pg_advisory_xact_lock(hashtext('keyward:migrate'))");
      const migrating = store.migrate();
      await vi.waitFor(async () => expect((await db.backends(applicationName)).waitingOnLock).toBe(1));
      const script = postgresSchemaSql(table);
      await holder.query(script.slice(script.indexOf('DO $$'), script.lastIndexOf('COMMIT;')));
      await holder.query(`GRANT SELECT, INSERT, UPDATE ON ${table} TO ${role.name}; COMMIT`);

      await migrating;
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      holder.release();
    }
    expect(await issuedKeyPasses(store)).toBe(true);
  });

  // As when a schema named after the login role appears: "$user" comes first in the default
  // search path, and CREATE TABLE IF NOT EXISTS looks only in the first schema there is.
  it('finds the table through the search path as its queries do, and creates no second one in a schema that appears before it', async () => {
    const [keys, first] = [`${db.schema}_keys`, `${db.schema}_role`];
    const pool = db.pool({ options: `-c search_path=${first},${keys}` });
    const started = async () => {
      const store = new PostgresKeyStore({ pool, table: 'api_keys' });
      await store.migrate();
      return store;
    };
    await db.admin.query(`CREATE SCHEMA ${keys}`);
    try {
      const { key } = await createKeyManager({ store: await started(), argon2: TEST_ARGON2 }).issue({ accountId: 'acct_1', environment: 'sandbox' });
      await db.admin.query(`CREATE SCHEMA ${first}`);

      const restarted = await started();

      const auth = createApiKeyAuth({ store: restarted, environments: ['sandbox'], argon2Pool: false });
      try {
        expect((await auth.authenticate({ headers: { authorization: `Bearer ${key}` } })).ok).toBe(true);
      } finally {
        await auth.close();
      }
      const again = createKeyManager({ store: restarted, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_1', environment: 'sandbox' });
      await expect(again).rejects.toMatchObject({ code: 'ERR_KEY_EXISTS' });
      if (HAS_PSQL) expect(await psql(db.url, `-c search_path=${first},${keys}`)).toEqual({ code: 0, stderr: '' });
      const { rows } = await db.admin.query(
        "SELECT relnamespace::regnamespace::text AS schema FROM pg_class WHERE relname = 'api_keys' AND relnamespace::regnamespace::text = ANY ($1)",
        [[keys, first]],
      );
      expect(rows).toEqual([{ schema: keys }]);
    } finally {
      await db.admin.query(`DROP SCHEMA IF EXISTS ${first}, ${keys} CASCADE`);
    }
  });

  it('refuses with ERR_STORE_REFUSED a table that lacks columns keyward uses or has one of another type, naming them, and leaves it as it was', async () => {
    const table = db.table('foreign');
    const bare = table.split('.')[1]!;
    // An older table: no masked_key, no webhook columns, times without a time zone.
    await db.admin.query(`CREATE TABLE ${table} (
      id text PRIMARY KEY, account_id text NOT NULL, key_type text NOT NULL, status text NOT NULL,
      environment text NOT NULL, created_at timestamp NOT NULL DEFAULT now(), last_used_at timestamptz,
      expires_at timestamp, soft_deleted boolean NOT NULL DEFAULT false, revoked_at timestamptz,
      lookup_id text NOT NULL, key_hash text NOT NULL)`);
    const before = await shapeOf(db, db.schema, bare);

    const error = await rejection(new PostgresKeyStore({ pool: db.admin, table }).migrate());

    expect([error.code, error.status]).toEqual(['ERR_STORE_REFUSED', 500]);
    expect(error.message).toBe(
      `keyward postgres store: PostgreSQL refused migrate with SQLSTATE P0001 (keyward: table ${table} is not one keyward can use: it lacks masked_key, webhook_url, webhook_basic_auth_username, webhook_basic_auth_password_sealed; created_at is timestamp without time zone, not timestamp with time zone, expires_at is timestamp without time zone, not timestamp with time zone; migrate does not alter a table that exists: change it, or give the store a table name of its own, then migrate again); nothing was written, and the same write is refused again`,
    );
    expect(await shapeOf(db, db.schema, bare)).toEqual(before);
  });

  it('refuses a view of that name with ERR_STORE_REFUSED, saying what it is', async () => {
    const { table } = await migratedTable('behind');
    const view = db.table('view');
    await db.admin.query(`CREATE VIEW ${view} AS SELECT * FROM ${table}`);

    const error = await rejection(new PostgresKeyStore({ pool: db.admin, table: view }).migrate());

    expect(error.code).toBe('ERR_STORE_REFUSED');
    expect((error.cause as Error).message).toBe(
      `keyward: ${view} is a view, not a table keyward can use; drop or rename it, or give the store another table name, then migrate again`,
    );
  });

  it('refuses a partitioned table of that name with ERR_STORE_REFUSED, as no partition key serves both unique indexes', async () => {
    const partitioned = db.table('parts');
    await db.admin.query(`CREATE TABLE ${partitioned} (LIKE ${(await migratedTable('model')).table}) PARTITION BY HASH (id)`);

    const error = await rejection(new PostgresKeyStore({ pool: db.admin, table: partitioned }).migrate());

    expect(error.code).toBe('ERR_STORE_REFUSED');
    expect((error.cause as Error).message).toBe(
      `keyward: ${partitioned} is a partitioned table (no partition key can serve both of keyward's unique indexes), not a table keyward can use; drop or rename it, or give the store another table name, then migrate again`,
    );
  });

  it('refuses with ERR_STORE_REFUSED a table with no primary key or unique index on id alone, and leaves it as it was', async () => {
    const { table, bare } = await migratedTable('nokey');
    const primaryKey = (await db.admin.query(`SELECT conname FROM pg_constraint WHERE conrelid = '${table}'::regclass AND contype = 'p'`)).rows[0]!.conname as string;
    // A unique index on id and another column does not keep two rows of one id apart.
    await db.admin.query(`ALTER TABLE ${table} DROP CONSTRAINT "${primaryKey}"`);
    await db.admin.query(`CREATE UNIQUE INDEX ${bare}_id_account ON ${table} (id, account_id)`);
    const before = await shapeOf(db, db.schema, bare);

    const error = await rejection(new PostgresKeyStore({ pool: db.admin, table }).migrate());

    expect(error.code).toBe('ERR_STORE_REFUSED');
    expect((error.cause as Error).message).toBe(
      `keyward: table ${table} has no primary key or unique index on id alone, so two rows could share an id and take each other's changes; add one (ALTER TABLE ${table} ADD PRIMARY KEY (id)), then migrate again`,
    );
    expect(await shapeOf(db, db.schema, bare)).toEqual(before);

    // A unique index on id alone serves as well as the primary key, other columns INCLUDEd too.
    await db.admin.query(`CREATE UNIQUE INDEX ${bare}_id ON ${table} (id) INCLUDE (account_id)`);
    await new PostgresKeyStore({ pool: db.admin, table }).migrate();
  });

  it('refuses with ERR_STORE_REFUSED a table with child tables, whose rows its unique indexes do not cover', async () => {
    const { table } = await migratedTable('parent');
    const child = db.table('child');
    await db.admin.query(`CREATE TABLE ${child} () INHERITS (${table})`);

    const error = await rejection(new PostgresKeyStore({ pool: db.admin, table }).migrate());

    expect(error.code).toBe('ERR_STORE_REFUSED');
    expect((error.cause as Error).message).toBe(
      `keyward: table ${table} has child tables (INHERITS), whose rows its queries read but its unique indexes do not cover; give the store a table without them, then migrate again`,
    );
  });

  it('takes character varying where keyward creates text, as it reads and writes the same strings', async () => {
    const { table } = await migratedTable('varchar');
    await db.admin.query(`ALTER TABLE ${table} ALTER COLUMN masked_key TYPE varchar(64), ALTER COLUMN account_id TYPE varchar`);
    const store = new PostgresKeyStore({ pool: db.admin, table });

    await store.migrate();

    expect(await issuedKeyPasses(store)).toBe(true);
  });

  it('sends the statements of sql/keyward-schema.sql, between its BEGIN and COMMIT', async () => {
    const schema = `${db.schema}_sent`;
    const store = new PostgresKeyStore({ pool: db.pool({ options: `-c search_path=${schema}` }), table: 'api_keys' });
    await db.admin.query(`CREATE SCHEMA ${schema}`);
    const queries = vi.spyOn(pg.Client.prototype, 'query');
    try {
      await store.migrate();
      const sent = queries.mock.calls.map(([config]) => (config as unknown as { text: string }).text);
      const [script, begin] = [readFileSync(SCRIPT, 'utf8'), 'BEGIN ISOLATION LEVEL READ COMMITTED;\n'];
      const body = script.slice(script.indexOf(begin) + begin.length, script.lastIndexOf('COMMIT;'));
      expect(sent).toContain(body.trimEnd());
    } finally {
      queries.mockRestore();
      await db.admin.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  });
});

describePostgres('sql/keyward-schema.sql run with psql', (db) => {
  const role = gatewayRole(db);
  /** A schema of the test's own, put first in the search path of the psql runs. */
  const inSchema = async <T>(suffix: string, work: (schema: string, options: string) => Promise<T>) => {
    const schema = `${db.schema}_${suffix}`;
    await db.admin.query(`CREATE SCHEMA ${schema}`);
    try {
      return await work(schema, `-c search_path=${schema}`);
    } finally {
      await db.admin.query(`DROP SCHEMA ${schema} CASCADE`);
    }
  };

  it.skipIf(!HAS_PSQL)('succeeds twice at once where the table is missing, leaving one table with its indexes', async () => {
    for (let round = 0; round < 3; round++) {
      await inSchema(`twice${round}`, async (schema, options) => {
        const runs = await Promise.all([psql(db.url, options), psql(db.url, options)]);

        expect(runs).toEqual([{ code: 0, stderr: '' }, { code: 0, stderr: '' }]);
        expect((await shapeOf(db, schema, 'api_keys')).indexes).toBe('api_keys_lookup_id_key, api_keys_one_live_key, api_keys_pkey');
      });
    }
  });

  it.skipIf(!HAS_PSQL)('makes psql exit non-zero on a table keyward cannot use, naming what it lacks, and changes nothing', async () => {
    await inSchema('foreign', async (schema, options) => {
      await db.admin.query(`CREATE TABLE ${schema}.api_keys (
        id text PRIMARY KEY, account_id text NOT NULL, key_type text NOT NULL, status text NOT NULL,
        environment text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), last_used_at timestamptz,
        expires_at timestamptz, soft_deleted boolean NOT NULL DEFAULT false, revoked_at timestamptz,
        lookup_id text NOT NULL, key_hash text NOT NULL)`);
      const before = await shapeOf(db, schema, 'api_keys');

      const run = await psql(db.url, options);

      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain(
        `ERROR:  keyward: table ${schema}.api_keys is not one keyward can use: it lacks masked_key, webhook_url, webhook_basic_auth_username, webhook_basic_auth_password_sealed;`,
      );
      expect(await shapeOf(db, schema, 'api_keys')).toEqual(before);
    });
  });

  it.skipIf(!HAS_PSQL)('runs again on an up-to-date table as a role without CREATE privileges, and in a read-only session', async () => {
    await inSchema('again', async (schema, options) => {
      expect(await psql(db.url, options)).toEqual({ code: 0, stderr: '' });
      await db.admin.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role.name}; GRANT SELECT ON ${schema}.api_keys TO ${role.name}`);

      expect(await psql(role.url, options)).toEqual({ code: 0, stderr: '' });
      expect(await psql(db.url, `${options} -c default_transaction_read_only=on`)).toEqual({ code: 0, stderr: '' });
    });
  });
});
