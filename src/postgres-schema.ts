import { ApiKeyAuthError, ENVIRONMENTS, KEY_STATUSES } from 'keyward';

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

/** SQL list of quoted string literals; the values are keyward's own constants. */
function literals(values: readonly string[]): string {
  return values.map((value) => `'${value}'`).join(', ');
}

/**
 * The statements that create the schema, the table and its indexes, each only if it is
 * missing, so they can run again at every start.
 * This is the one definition of the schema: `migrate()` runs it and
 * `sql/keyward-schema.sql` is generated from it.
 *
 * @param table - from {@link keyTable}.
 * @returns the statements, in order.
 */
export function schemaStatements(table: KeyTable): string[] {
  const t = table.sql;
  const statuses = literals([...KEY_STATUSES, 'revoked']);
  const statements: string[] = [];
  if (table.schema !== undefined) statements.push(`CREATE SCHEMA IF NOT EXISTS "${table.schema}";`);
  statements.push(
    `CREATE TABLE IF NOT EXISTS ${t} (
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
);`,
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
  );
  return statements;
}

/**
 * Creates a unique index unless a relation of that name is already in the table's schema,
 * which is what `CREATE UNIQUE INDEX IF NOT EXISTS` checks too. Not that statement itself: it
 * takes a SHARE lock on the table before it checks, so on an up-to-date schema it would wait
 * behind any open write transaction (and fail once `lock_timeout` runs out), while every write
 * queued behind it waits too. Looking the name up in the catalog locks no table.
 *
 * A relation of that name that is not a valid unique index of this table on these columns,
 * partial exactly when this one is, fails the migration: keyward's uniqueness rules would otherwise
 * be missing without a word (an index made by hand under the same name, say). The predicate
 * itself is not compared, as PostgreSQL rewrites its text.
 */
function uniqueIndexUnlessPresent(table: KeyTable, name: string, columns: string[], predicate?: string): string {
  const columnList = `ARRAY[${literals(columns)}]`;
  return `DO $$
BEGIN
  IF NOT EXISTS (
    SELECT FROM pg_class
    WHERE relname = '${name}'
      AND relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = '${table.sql}'::regclass)
  ) THEN
    CREATE UNIQUE INDEX "${name}" ON ${table.sql} (${columns.join(', ')})${predicate ? ` WHERE ${predicate}` : ''};
  ELSIF NOT EXISTS (
    SELECT FROM pg_index JOIN pg_class ON pg_class.oid = pg_index.indexrelid
    WHERE pg_class.relname = '${name}'
      AND pg_index.indrelid = '${table.sql}'::regclass
      AND pg_index.indisunique
      -- A CREATE INDEX CONCURRENTLY that failed leaves an index that enforces nothing.
      AND pg_index.indisvalid AND pg_index.indisready
      AND (pg_index.indpred IS NOT NULL) = ${predicate ? 'true' : 'false'}
      -- indkey is an int2vector, written as its column numbers with spaces between.
      AND pg_index.indkey::text = array_to_string(ARRAY(
        SELECT attnum FROM pg_attribute
        WHERE attrelid = '${table.sql}'::regclass AND attname = ANY (${columnList})
        ORDER BY array_position(${columnList}, attname::text)
      ), ' ')
  ) THEN
    RAISE EXCEPTION 'keyward: "${name}" exists but is not the unique index keyward needs: on ${table.bare} (${columns.join(', ')})${predicate ? ` WHERE ${predicate}` : ''}; drop or rename it, then migrate again';
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
    '-- Safe to run again: every statement creates only what is missing, and locks no table that exists.',
  ];
  const body = schemaStatements(keyTable(tableName));
  return [...header, 'BEGIN;', ...body, 'COMMIT;', ''].join('\n');
}
