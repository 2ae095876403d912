import { inspect } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, type ApiKeyAuthError, type ApiKeyRow } from 'keyward';
import { PostgresKeyStore } from 'keyward/postgres';
import { sampleRow } from 'keyward/store-conformance';
import { storeFault } from '../src/postgres-client.js';
import { redactedPgError } from '../src/redacted-pg-error.js';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { rejection } from './helpers/errors.js';
import { describePostgres } from './support/postgres.js';
import { testSecretBytes } from './helpers/secret-bytes.js';

// Recognisable values in every row column a refusal's detail can quote.
const MARKERS = {
  account_id: 'acct_MarkerAccount7Q',
  key_hash: '$argon2id$v=19$m=256,t=1,p=1$MarkerSaltMarkerSalt00$MarkerHashMarkerHashMarkerHashMarkerHash123',
  webhook_basic_auth_password_sealed: 'v1.k1.MarkerSealedPasswordMarkerSealedPassword',
  webhook_basic_auth_username: 'marker-receiver',
} as const;

/** Every form of the error an app may log, and its cause as JSON. */
function printed(error: ApiKeyAuthError): string {
  return [inspect(error, { depth: 10 }), String(error.stack), JSON.stringify(error.cause), inspect(error.cause, { depth: 10, showHidden: true })].join('\n');
}

function expectNoMarker(error: ApiKeyAuthError, ...more: string[]): void {
  const text = printed(error);
  expect(text).not.toContain('Failing row');
  for (const marker of [...Object.values(MARKERS), ...more]) expect(text).not.toContain(marker);
}

describePostgres('PostgresKeyStore errors: the cause names no row value', (db) => {
  // The server quotes a refused parameter in `where` once this is set (superuser only).
  const pool = db.pool({ options: '-c log_parameter_max_length_on_error=-1' });
  let store: PostgresKeyStore;
  let bare: string;
  let accounts = 0;
  // One live key per account: each row gets the marker account id with a number after it.
  const live = async (overrides: Partial<ApiKeyRow> = {}) => {
    const row = sampleRow({ ...MARKERS, account_id: `${MARKERS.account_id}${++accounts}`, ...overrides });
    await store.insert(row);
    return row;
  };

  beforeAll(async () => {
    store = new PostgresKeyStore({ pool, table: db.table('keys') });
    await store.migrate();
    bare = store.table.split('.')[1]!;
  });

  it('refuses a check violation with 500 ERR_STORE_REFUSED naming SQLSTATE 23514 and the constraint, and no value of the row', async () => {
    const row = await live();

    const error = await rejection(store.modify(row.id, () => ({ status: 'bogus' })));

    expect([error.code, error.status, error.expose]).toEqual(['ERR_STORE_REFUSED', 500, false]);
    expect(error.message).toBe(
      `keyward postgres store: PostgreSQL refused modify with SQLSTATE 23514 (check violation of constraint "${bare}_status_check" on table "${store.table}"); nothing was written, and the same write is refused again`,
    );
    expect(error.cause).toMatchObject({ code: '23514', severity: 'ERROR', constraint: `${bare}_status_check`, table: bare });
    expect(error.cause).not.toHaveProperty('detail');
    expectNoMarker(error, 'bogus');
    expect((await store.findById(row.id))?.status).toBe('allowed');
  });

  it('refuses a not-null violation naming the column, and no value of the row', async () => {
    const error = await rejection(store.insert(sampleRow({ ...MARKERS, key_type: null as never })));

    expect([error.code, error.status]).toEqual(['ERR_STORE_REFUSED', 500]);
    expect(error.message).toMatch(/^keyward postgres store: PostgreSQL refused insert with SQLSTATE 23502 \(not-null violation in column "key_type" on table ".*"/);
    expect(error.cause).toMatchObject({ code: '23502', column: 'key_type' });
    expectNoMarker(error);
  });

  it('keeps the taken values of a unique violation out of ERR_KEY_EXISTS, naming the constraint', async () => {
    const row = await live();

    const error = await rejection(store.insert(sampleRow({ ...MARKERS, account_id: row.account_id })));

    expect([error.code, error.status]).toEqual(['ERR_KEY_EXISTS', 409]);
    expect(error.cause).toMatchObject({ code: '23505', constraint: `${bare}_one_live_key` });
    expectNoMarker(error);
  });

  it('refuses a value of the wrong type naming SQLSTATE 22007, without the value pg quotes in its message and its where', async () => {
    // Through insert: modify refuses a time that is no Date before PostgreSQL sees it.
    const error = await rejection(store.insert({ ...sampleRow(), expires_at: 'ExpiryMarker-not-a-time' as never }));

    expect([error.code, error.status]).toEqual(['ERR_STORE_REFUSED', 500]);
    expect(error.message).toBe(
      "keyward postgres store: PostgreSQL refused insert with SQLSTATE 22007 (data exception: the refused value is not repeated here); nothing was written, and the same write is refused again",
    );
    expect(error.cause).toMatchObject({ code: '22007', routine: expect.any(String) });
    expect(error.cause).not.toHaveProperty('where');
    expectNoMarker(error, 'ExpiryMarker');
  });

  it('leaves out what a trigger of the operator raises, message and detail, and keeps the SQLSTATE', async () => {
    const row = await live();
    await db.admin.query(`CREATE FUNCTION ${db.schema}.${bare}_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'refused % of %', NEW.key_hash, NEW.account_id USING ERRCODE = 'check_violation', DETAIL = NEW.webhook_basic_auth_password_sealed, HINT = NEW.webhook_basic_auth_username;
      END $$`);
    await db.admin.query(`CREATE TRIGGER guard BEFORE UPDATE ON ${store.table} FOR EACH ROW EXECUTE FUNCTION ${db.schema}.${bare}_guard()`);
    try {
      const error = await rejection(store.modify(row.id, () => ({ status: 'suspended' })));

      expect(error.message).toBe(
        "keyward postgres store: PostgreSQL refused modify with SQLSTATE 23514 (raised in a function of the database: its text is not repeated here, as it may quote a value); nothing was written, and the same write is refused again",
      );
      expectNoMarker(error);
    } finally {
      await db.admin.query(`DROP TRIGGER guard ON ${store.table}`);
    }
  });

  it.each(['insufficient_privilege', 'object_not_in_prerequisite_state', 'serialization_failure', 'internal_error'])(
    'leaves out what a trigger raises under %s, a SQLSTATE whose own messages PostgreSQL builds from names only',
    async (errcode) => {
      const row = await live();
      await db.admin.query(`CREATE OR REPLACE FUNCTION ${db.schema}.${bare}_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'refused % of %', NEW.key_hash, NEW.account_id USING ERRCODE = '${errcode}';
        END $$`);
      await db.admin.query(`CREATE TRIGGER guard BEFORE UPDATE ON ${store.table} FOR EACH ROW EXECUTE FUNCTION ${db.schema}.${bare}_guard()`);
      try {
        const error = await rejection(store.modify(row.id, () => ({ status: 'suspended' })));
        expect(error.message).not.toContain('$argon2id');
        expectNoMarker(error);
      } finally {
        await db.admin.query(`DROP TRIGGER guard ON ${store.table}`);
      }
    },
  );

  it('leaves out the names a trigger sets on its RAISE, and the relation a function\'s own statement names, as a function may write values there', async () => {
    const row = await live();
    const guard = `${db.schema}.${bare}_guard`;
    const raisers = [
      `RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation', COLUMN = NEW.account_id, CONSTRAINT = NEW.key_hash, TABLE = NEW.lookup_id, SCHEMA = NEW.account_id;`,
      `EXECUTE format('SELECT 1 FROM %I', NEW.key_hash);`,
    ];
    for (const body of raisers) {
      await db.admin.query(`CREATE OR REPLACE FUNCTION ${guard}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${body} RETURN NEW; END $$`);
      await db.admin.query(`CREATE TRIGGER guard BEFORE UPDATE ON ${store.table} FOR EACH ROW EXECUTE FUNCTION ${guard}()`);
      try {
        const error = await rejection(store.modify(row.id, () => ({ status: 'suspended' })));
        expect(error.cause).not.toHaveProperty('column');
        expect(error.cause).not.toHaveProperty('constraint');
        expect(error.message).not.toContain('$argon2id');
        expect(error.message).not.toContain('store.migrate()');
        expectNoMarker(error);
      } finally {
        await db.admin.query(`DROP TRIGGER guard ON ${store.table}`);
      }
    }
  });

  it.each([
    ['a cast of key_hash to regclass', 'key_hash::regclass IS NOT NULL', '42P01', 'ERR_STORE_REFUSED'],
    ['a cast of key_hash to regnamespace', 'key_hash::regnamespace IS NOT NULL', '3F000', 'ERR_STORE_UNAVAILABLE'],
    ['current_setting of the sealed webhook password', 'current_setting(webhook_basic_auth_password_sealed) IS NOT NULL', '42704', 'ERR_STORE_REFUSED'],
    ['a cast of the sealed webhook password to regtype, named unquoted', 'webhook_basic_auth_password_sealed::regtype IS NOT NULL', '0A000', 'ERR_STORE_UNAVAILABLE'],
    ['current_setting of the hash in quotes of its own', 'current_setting(quote_ident(key_hash)) IS NOT NULL', '42704', 'ERR_STORE_REFUSED'],
    ['a cast to regclass of dotted names, one with a space, ending in the sealed password', `('"a b"."c"."d".' || quote_ident(webhook_basic_auth_password_sealed))::regclass IS NOT NULL`, '42601', 'ERR_STORE_REFUSED'],
    ['a cast to int of the hash after a line that looks like a stack frame', `(E'\\n    at ' || key_hash)::int IS NOT NULL`, '22P02', 'ERR_STORE_REFUSED'],
  ])('withholds a value a CHECK quotes as a name through %s, and gives no hint about keyward\'s table', async (_, check, sqlState, code) => {
    const guarded = new PostgresKeyStore({ pool, table: db.table(`cast_${sqlState.toLowerCase()}`) });
    await guarded.migrate();
    await db.admin.query(`ALTER TABLE ${guarded.table} ADD CONSTRAINT value_as_name CHECK (${check}) NOT VALID`);

    const error = await rejection(guarded.insert(sampleRow({ ...MARKERS })));

    expect(error.code).toBe(code);
    expect(error.cause).toMatchObject({ code: sqlState });
    expect(error.message).toContain(sqlState);
    expect(error.message).toContain('not repeated here');
    expect(error.message).not.toContain('create the table first');
    // PostgreSQL lower-cases a name it reads, and cuts it to 63 characters.
    const text = printed(error).toLowerCase();
    for (const marker of ['markersalt', 'markerhash', 'markersealedpassword']) expect(text).not.toContain(marker);
    expect((error.cause as Error).stack).toMatch(/\n {4}at /);
    expect(await guarded.findById(sampleRow().id)).toBeNull();
  });

  it('keeps a name PostgreSQL quotes that looks like one, and the migrate hint for keyward\'s own missing table', async () => {
    const missing = new PostgresKeyStore({ pool, table: db.table('never_made') });

    const error = await rejection(missing.findLive('acct_none', 'production'));

    expect(error.message).toBe(
      `keyward postgres store: PostgreSQL refused findLive with SQLSTATE 42P01 (relation "${missing.table}" does not exist); the same read is refused again; create the table first: await store.migrate(), or sql/keyward-schema.sql`,
    );
  });

  it('keeps the stack frames of the call, with the safe text in place of pg\'s first line', async () => {
    const row = await live();

    const error = await rejection(store.modify(row.id, () => ({ status: 'bogus' })));

    const stack = (error.cause as Error).stack!;
    expect(stack.split('\n')[0]).toBe(`error: ${(error.cause as Error).message}`);
    expect(stack).toMatch(/\n {4}at /);
  });

  it('keeps the text of an error that quotes no value: a missing table is ERR_STORE_REFUSED naming 42P01 and the table', async () => {
    const missing = new PostgresKeyStore({ pool, table: db.table('missing') });

    const error = await rejection(missing.findById('key_none'));

    expect([error.code, error.status]).toEqual(['ERR_STORE_REFUSED', 500]);
    expect(error.message).toBe(
      `keyward postgres store: PostgreSQL refused findById with SQLSTATE 42P01 (relation "${missing.table}" does not exist); the same read is refused again; create the table first: await store.migrate(), or sql/keyward-schema.sql`,
    );
  });

  it('still answers a request 503 ERR_STORE_UNAVAILABLE when the lookup is refused, with the store error as its cause', async () => {
    const missing = new PostgresKeyStore({ pool, table: db.table('missing') });
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const { key } = await manager.issue({ accountId: 'acct_request503', environment: 'sandbox' });
    const auth = createApiKeyAuth({ store: missing, environments: ['sandbox'], argon2Pool: false });
    try {
      const result = await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });

      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect([result.response.status, result.error.code]).toEqual([503, 'ERR_STORE_UNAVAILABLE']);
      expect((result.error.cause as ApiKeyAuthError).code).toBe('ERR_STORE_REFUSED');
    } finally {
      await auth.close();
    }
  });
});

describePostgres('createKeyManager over PostgreSQL: a write the database refuses', (db) => {
  const pool = db.pool();
  const table = db.table('keys');
  const webhookKeys = { current: 'k1', keys: { k1: testSecretBytes(7) } };

  beforeAll(async () => {
    await new PostgresKeyStore({ pool, table }).migrate();
    // A rule of the operator's own that keyward does not know.
    await db.admin.query(`ALTER TABLE ${table} ADD CONSTRAINT webhook_host_allowed CHECK (webhook_url LIKE 'https://hooks.allowed.test/%')`);
  });

  it('setWebhook passes on ERR_STORE_REFUSED as it is, never "Trying again is safe", and no value reaches the error', async () => {
    const manager = createKeyManager({ store: new PostgresKeyStore({ pool, table }), argon2: TEST_ARGON2, webhookKeys });
    const { card } = await manager.issue({ accountId: MARKERS.account_id, environment: 'sandbox' });
    const [before] = await db.rows(table);

    const error = await rejection(
      manager.setWebhook(card.keyId, { url: 'https://hooks.elsewhere.test/in', username: MARKERS.webhook_basic_auth_username, password: 'MarkerPassword-42' }),
    );

    expect([error.code, error.status, error.expose]).toEqual(['ERR_STORE_REFUSED', 500, false]);
    expect(error.message).toBe(
      `keyward postgres store: PostgreSQL refused modify with SQLSTATE 23514 (check violation of constraint "webhook_host_allowed" on table "${table}"); nothing was written, and the same write is refused again`,
    );
    expect(error.message).not.toContain('Trying again is safe');
    const [after] = await db.rows(table);
    // The refused row held the password sealed anew (`v1.k1.…`), which the test cannot know.
    expectNoMarker(error, 'MarkerPassword-42', 'v1.k1.', 'hooks.elsewhere.test', 'Failing row', before!.key_hash, before!.lookup_id);
    expect(after).toEqual(before);
  });

  it('still says "Trying again is safe" for a failure a retry can get past: a row lock held elsewhere past the timeout', async () => {
    const manager = createKeyManager({ store: new PostgresKeyStore({ pool, table, statementTimeoutMs: 200 }), argon2: TEST_ARGON2 });
    const { card } = await manager.issue({ accountId: 'acct_locked', environment: 'sandbox' });
    const holder = await db.admin.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM ${table} WHERE id = $1 FOR UPDATE`, [card.keyId]);

      const error = await rejection(manager.setStatus(card.keyId, 'suspended'));

      expect([error.code, error.status]).toEqual(['ERR_STORE_UNAVAILABLE', 503]);
      expect(error.message).toBe('The store did not confirm the new status: it was not written. Trying again is safe.');
      // statement_timeout and lock_timeout are the same bound; either may end the wait first.
      expect((error.cause as Error).message).toMatch(/^keyward postgres store: modify failed \(error (?:57014|55P03): canceling statement due to (?:statement|lock) timeout\)$/);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });
});

describe('PostgresKeyStore errors: a host name that failed to resolve', () => {
  it('is withheld, as a connection string without its user and @ makes pg resolve the password', () => {
    // As Node's dns.lookup makes it for `postgres://<password>:5432/db`.
    const lookupFailure = Object.assign(new Error('getaddrinfo ENOTFOUND correct-horse-battery-staple'), {
      errno: -3008,
      code: 'ENOTFOUND',
      syscall: 'getaddrinfo',
      hostname: 'correct-horse-battery-staple',
    });

    const error = storeFault('findByLookupId', lookupFailure);

    expect([error.code, error.status]).toEqual(['ERR_STORE_UNAVAILABLE', 503]);
    expect(error.message).toBe('keyward postgres store: findByLookupId failed (Error ENOTFOUND: getaddrinfo ENOTFOUND …)');
    expect(printed(error)).not.toContain('correct-horse');
    expect(error.cause).toMatchObject({ code: 'ENOTFOUND', syscall: 'getaddrinfo', errno: -3008 });
  });
});

describe('PostgresKeyStore errors: names an operator acts on', () => {
  const answer = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL' });

  it.each([
    ['3D000', 'database "keyward café" does not exist'],
    ['28000', 'role "app@myserver" does not exist'],
    ['28000', 'no pg_hba.conf entry for host "::1", user "app", database "keyward", no encryption'],
    ['42501', 'permission denied for table api_keys'],
    ['42P01', 'relation "keyward.api_keys" does not exist'],
    ['0A000', 'cross-database references are not implemented: other.public.api_keys'],
  ])('keeps %s "%s" as PostgreSQL wrote it', (code, message) => {
    expect(redactedPgError(answer(code, message)).message).toBe(message);
  });

  it('keeps an error\'s name only when it is an identifier, as pg\'s `error` is', () => {
    const named = (name: string) => Object.assign(answer('42P01', 'relation "api_keys" does not exist'), { name });

    expect(redactedPgError(named('error')).name).toBe('error');
    expect(redactedPgError(named('error $argon2id$v=19$m=19456')).name).toBe('Error');
    expect(redactedPgError(named('error $argon2id$v=19$m=19456')).stack).not.toContain('argon2id');
  });

  it.each([
    ['42704', 'unrecognized configuration parameter ""$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g""'],
    ['42601', 'improper relation name (too many dotted names): a b.c.d.v1.k1.AbCdEfGhIjKlMnOp.QrStUvWxYz012345.ZyXwVuTsRqPoNmLk'],
    ['3F000', 'schema "v1.k1.abcdefghijklmnop.qrstuvwxyz012345.zyxwvutsrqponmlk" does not exist'],
    ['28000', 'role "PrimaryUsEast1Db9q" does not exist'],
    // A sealed value cut at a `--` by the reg* parser, lower-cased: four parts.
    ['42601', 'improper qualified name (too many dotted names): v1.k1.abcdefghijklmnop.qrstuvw'],
    ['0A000', 'cross-database references are not implemented: v1.k1.abcdefgh'],
  ])('leaves %s "%s" out whole, as it names something that may be a value', (code, message) => {
    expect(redactedPgError(answer(code, message)).message).toBe('PostgreSQL error: its text is not repeated here, as it may quote a value');
  });
});
