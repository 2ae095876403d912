import { ApiKeyAuthError, ENVIRONMENTS, KEY_STATUSES } from 'keyward';
import {
  literals,
  tableFound,
  uniqueIndexUnlessPresent,
  usableTableCheck,
  type NeededColumn,
} from './postgres-existing-table.js';

/** The table a {@link PostgresKeyStore} uses unless told otherwise. */
export const DEFAULT_TABLE = 'api_keys';

/** A validated table name and the identifiers derived from it, ready to paste into SQL. */
export interface KeyTable {
  /** As given, such as `api_keys` or `keyward.api_keys`. */
  name: string;
  /** The schema, or undefined for the connection's `search_path`. */
  schema: string | undefined;
  /** The table name without its schema. */
  bare: string;
  /** The quoted, possibly schema-qualified name for SQL text. */
  sql: string;
  /** Names of the constraints and indexes the schema creates, to recognise their violations. */
  constraints: { primaryKey: string; lookupId: string; oneLiveKey: string };
}

/** Columns of `ApiKeyRow`, in table order. Each is also the row's field name. */
export const ROW_COLUMNS = [
  'id',
  'account_id',
  'key_type',
  'status',
  'environment',
  'created_at',
  'last_used_at',
  'expires_at',
  'soft_deleted',
  'revoked_at',
  'lookup_id',
  'key_hash',
  'masked_key',
  'webhook_url',
  'webhook_basic_auth_username',
  'webhook_basic_auth_password_sealed',
] as const;

// Longest bare table name: the longest derived name ("_environment_check", 18 characters)
// must stay within PostgreSQL's 63-byte identifier limit, or it would be cut silently.
const MAX_TABLE_NAME = 40;
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * Checks a table name for the store and the migration: `name` or `schema.name`, lower-case
 * letters, digits and `_` only, so it can be written into SQL without any escaping doubts.
 *
 * @param name - the table option.
 * @param factory - the factory given the option, which the message starts with; none for the
 *   argument of a plain function.
 * @returns the table and its derived identifiers.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` for any other shape.
 * @example
 * ```ts
 * keyTable('keyward.api_keys').sql; // '"keyward"."api_keys"'
 * ```
 */
export function keyTable(name: unknown, factory?: string): KeyTable {
  const parts = typeof name === 'string' ? name.split('.') : [];
  const bare = parts.at(-1) ?? '';
  const schema = parts.length === 2 ? parts[0] : undefined;
  const valid =
    (parts.length === 1 || parts.length === 2) &&
    parts.every((part) => IDENTIFIER.test(part) && part.length <= 63) &&
    bare.length <= MAX_TABLE_NAME;
  if (!valid) {
    throw new ApiKeyAuthError(
      'ERR_OPTIONS_INVALID',
      `${factory === undefined ? '' : `${factory}: `}"table" must be "name" or "schema.name" of lower-case letters, digits and "_", each starting with a letter or "_" (name at most ${MAX_TABLE_NAME} characters).`,
    );
  }
  const quoted = (identifier: string) => `"${identifier}"`;
  return {
    name: name as string,
    schema,
    bare,
    sql: schema === undefined ? quoted(bare) : `${quoted(schema)}.${quoted(bare)}`,
    constraints: {
      primaryKey: `${bare}_pkey`,
      lookupId: `${bare}_lookup_id_key`,
      oneLiveKey: `${bare}_one_live_key`,
    },
  };
}

/**
 * The type each of {@link ROW_COLUMNS} has in the table keyward creates, which a table that is
 * already there must match. The check runs after every migration, so a table keyward has just
 * created would fail it if the two ever disagreed.
 */
const COLUMN_TYPES: Readonly<Record<(typeof ROW_COLUMNS)[number], NeededColumn['type']>> = {
  id: 'text',
  account_id: 'text',
  key_type: 'text',
  status: 'text',
  environment: 'text',
  created_at: 'timestamp with time zone',
  last_used_at: 'timestamp with time zone',
  expires_at: 'timestamp with time zone',
  soft_deleted: 'boolean',
  revoked_at: 'timestamp with time zone',
  lookup_id: 'text',
  key_hash: 'text',
  masked_key: 'text',
  webhook_url: 'text',
  webhook_basic_auth_username: 'text',
  webhook_basic_auth_password_sealed: 'text',
};
const NEEDED_COLUMNS: readonly NeededColumn[] = ROW_COLUMNS.map((name) => ({
  name,
  type: COLUMN_TYPES[name],
}));

/**
 * The statements that bring a database to keyward's schema, in one transaction: they take the
 * advisory lock every keyward migration takes, create the table (and its schema) when the
 * store's queries would find none, check that the table found is one keyward can use, and
 * create its indexes when missing. Each looks in the catalog before it creates anything, so on
 * an up-to-date schema they issue no DDL, need no CREATE privilege, run in a read-only session
 * and lock no table.
 * This is the one definition of the schema: `migrate()` runs it and
 * `sql/keyward-schema.sql` is generated from it.
 *
 * @param table - from {@link keyTable}.
 * @returns the statements, in order.
 */
export function schemaStatements(table: KeyTable): string[] {
  return [
    // One lock for every keyward table of the database: two sessions creating one table at
    // once (spelt `api_keys` by one, `public.api_keys` by the other), or two tables of one new
    // schema, would otherwise collide on PostgreSQL's catalog. Migrations are short; other
    // tables' merely take turns. A DO block, so psql prints no result row for it.
    "DO $$ BEGIN PERFORM pg_advisory_xact_lock(hashtext('keyward:migrate')); END $$;",
    createTableUnlessFound(table),
    usableTableCheck(table, NEEDED_COLUMNS),
    // Every lookup id ever issued stays unique, also on dead rows: a retired key can never
    // point at a new row.
    uniqueIndexUnlessPresent(table, table.constraints.lookupId, ['lookup_id']),
    // One live key per account and environment; dead rows are kept for history.
    uniqueIndexUnlessPresent(
      table,
      table.constraints.oneLiveKey,
      ['account_id', 'environment'],
      'NOT soft_deleted AND revoked_at IS NULL',
    ),
  ];
}

/**
 * Creates the table only when its name finds no relation where the store's queries look. Not
 * `CREATE … IF NOT EXISTS` alone: PostgreSQL checks the privilege (and a read-only session)
 * before it checks what exists, and for a name without a schema it looks only in the first
 * schema of the search path. A schema named after the role (`"$user"` comes first by default)
 * would get a second, empty table there, which the queries then find instead of the one
 * holding the keys.
 */
function createTableUnlessFound(table: KeyTable): string {
  const statuses = literals([...KEY_STATUSES, 'revoked']);
  // The catalog is read first for the schema too: CREATE SCHEMA IF NOT EXISTS needs the
  // database's CREATE privilege even for a schema that exists. Both keep IF NOT EXISTS for a
  // session that creates them without taking the advisory lock (a tool of the app's own).
  const schema =
    table.schema === undefined
      ? ''
      : `
    IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = '${table.schema}') THEN
      CREATE SCHEMA IF NOT EXISTS "${table.schema}";
    END IF;`;
  return `DO $$
BEGIN
  IF ${tableFound(table)} IS NULL THEN${schema}
    CREATE TABLE IF NOT EXISTS ${table.sql} (
      id text NOT NULL CONSTRAINT "${table.constraints.primaryKey}" PRIMARY KEY,
      account_id text NOT NULL,
      key_type text NOT NULL,
      -- The seven statuses keyward knows, plus "revoked", accepted as an alias of "revoqued".
      status text NOT NULL CONSTRAINT "${table.bare}_status_check" CHECK (status IN (${statuses})),
      environment text NOT NULL CONSTRAINT "${table.bare}_environment_check" CHECK (environment IN (${literals(ENVIRONMENTS)})),
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz,
      expires_at timestamptz,
      soft_deleted boolean NOT NULL DEFAULT false,
      revoked_at timestamptz,
      lookup_id text NOT NULL,
      key_hash text NOT NULL,
      masked_key text NOT NULL,
      webhook_url text,
      webhook_basic_auth_username text,
      -- AES-256-GCM sealed; never the cleartext password.
      webhook_basic_auth_password_sealed text,
      -- Derived, so it can never disagree with the sealed password.
      webhook_basic_auth_configured boolean NOT NULL
        GENERATED ALWAYS AS (webhook_basic_auth_password_sealed IS NOT NULL) STORED
    );
  END IF;
END
$$;`;
}

/**
 * The schema as a plain SQL script in one transaction, for `psql -f` or a migration tool.
 * The package ships it for the default table as `sql/keyward-schema.sql`.
 *
 * @param tableName - the table to create. @default 'api_keys'
 * @returns the script.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` for a bad table name.
 * @example
 * ```ts
 * await fs.writeFile('migrations/001_api_keys.sql', postgresSchemaSql('api_keys'));
 * ```
 */
export function postgresSchemaSql(tableName: string = DEFAULT_TABLE): string {
  const header = [
    '-- keyward: API key table for PostgreSQL 12 or newer (generated columns).',
    "-- Generated from keyward's own source (src/postgres-schema.ts in its repository); for another",
    '-- table name, postgresSchemaSql("schema.table") from keyward/postgres gives this script for it.',
    '-- Safe to run again, and from several sessions at once (they take turns on an advisory lock):',
    '-- it creates only what the catalog lacks, so on an up-to-date schema it issues no DDL, needs no',
    '-- CREATE privilege, runs in a read-only session and locks no table. A relation of the same name',
    '-- that keyward cannot use (a table of other columns, a view) makes it fail, changing nothing.',
    '-- With psql, pass -v ON_ERROR_STOP=1: without it psql goes on after an error, ends the',
    '-- transaction with a ROLLBACK at COMMIT, and exits 0 all the same.',
  ];
  const body = schemaStatements(keyTable(tableName));
  // READ COMMITTED whatever the session's default, as migrate() runs it: under REPEATABLE READ
  // the catalog reads after the lock would not see what the session it waited for created.
  return [...header, 'BEGIN ISOLATION LEVEL READ COMMITTED;', ...body, 'COMMIT;', ''].join('\n');
}
