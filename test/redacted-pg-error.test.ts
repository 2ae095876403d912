import { inspect } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import type { ApiKeyAuthError, ApiKeyRow } from 'keyward';
import { PostgresKeyStore } from 'keyward/postgres';
import { sampleRow } from 'keyward/store-conformance';
import { rejection } from './helpers/errors.js';
import { describePostgres } from './support/postgres.js';

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

  it('gives a check violation a cause naming SQLSTATE 23514 and the constraint, and no value of the row', async () => {
    const row = await live();

    const error = await rejection(store.modify(row.id, () => ({ status: 'bogus' })));

    expect(error.message).toContain(`(error 23514: check violation of constraint "${bare}_status_check" on table "${store.table}")`);
    expect(error.cause).toMatchObject({ code: '23514', severity: 'ERROR', constraint: `${bare}_status_check`, table: bare });
    expect(error.cause).not.toHaveProperty('detail');
    expectNoMarker(error, 'bogus');
    expect((await store.findById(row.id))?.status).toBe('allowed');
  });

  it('gives a not-null violation a cause naming the column, and no value of the row', async () => {
    const error = await rejection(store.insert(sampleRow({ ...MARKERS, key_type: null as never })));

    expect(error.message).toMatch(/\(error 23502: not-null violation in column "key_type" on table ".*"\)/);
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

  it('gives a value of the wrong type a cause naming SQLSTATE 22007, without the value pg quotes in its message and its where', async () => {
    const row = await live();

    const error = await rejection(store.modify(row.id, () => ({ expires_at: 'ExpiryMarker-not-a-time' as never })));

    expect(error.message).toContain('(error 22007: data exception: the refused value is not repeated here)');
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

      expect(error.message).toContain('(error 23514: check violation)');
      expectNoMarker(error);
    } finally {
      await db.admin.query(`DROP TRIGGER guard ON ${store.table}`);
    }
  });

  it('keeps the stack frames of the call, with the safe text in place of pg\'s first line', async () => {
    const row = await live();

    const error = await rejection(store.modify(row.id, () => ({ status: 'bogus' })));

    const stack = (error.cause as Error).stack!;
    expect(stack.split('\n')[0]).toBe(`error: ${(error.cause as Error).message}`);
    expect(stack).toMatch(/\n {4}at /);
  });

  it('keeps the text of an error that quotes no value: a missing table names 42P01 and the table', async () => {
    const missing = new PostgresKeyStore({ pool, table: db.table('missing') });

    const error = await rejection(missing.findById('key_none'));

    expect(error.message).toContain(`(error 42P01: relation "${missing.table}" does not exist)`);
  });
});
