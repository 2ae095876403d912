import type { KeyTable } from './postgres-schema.js';

/**
 * SQL for a key table that may already be there: finding it as the store's queries do, and
 * checking that what was found is one keyward can use. The blocks only read the catalog until
 * something is missing, so on an up-to-date schema they need no privilege beyond reading it
 * and run in a read-only session.
 */

/** A column keyward reads and writes, and the type it needs there. */
export interface NeededColumn {
  name: string;
  /** As PostgreSQL's `format_type` writes it. */
  type: 'text' | 'timestamp with time zone' | 'boolean';
}

/** SQL list of quoted string literals; the values are keyward's own constants. */
export function literals(values: readonly string[]): string {
  return values.map((value) => `'${value}'`).join(', ');
}

/**
 * An SQL expression for the oid of the relation the store's queries reach under the table's
 * name, or NULL: in the named schema, or else the first schema of the search path that has
 * one, the session's temporary schema and `pg_catalog` included, as PostgreSQL looks.
 *
 * A query of the catalog, not `to_regclass`: that goes through the session's catalog cache.
 * On a pooled connection whose last migration found no table, the cache still says so after
 * waiting for the advisory lock while another instance created it: waiting for an advisory
 * lock does not make the session read the catalog's invalidation messages, as locking a
 * table does. It would then try to create the table, and fail where it may not.
 */
export function tableFound(table: KeyTable): string {
  const schemas = table.schema === undefined ? 'current_schemas(true)' : `ARRAY['${table.schema}']`;
  return `(SELECT c.oid FROM unnest(${schemas}) WITH ORDINALITY AS path(schema, position)
    JOIN pg_namespace AS n ON n.nspname = path.schema
    JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = '${table.bare}'
    ORDER BY path.position LIMIT 1)`;
}

/**
 * A block that fails, altering nothing, when the table found is not one keyward can use: a
 * relation other than a table (a view, say), or a table without one of `columns`, or with one
 * of another type. Without it such a table migrates, and every request then gets 503. A
 * `timestamp` column where keyward needs `timestamptz` is refused too: it keeps a time written
 * as the session's local time, which keyward then reads as UTC. `character varying` passes for
 * `text`: it reads and writes the same strings.
 *
 * Refused as well: a table the session's role may not read, column by column, or whose schema
 * it may not use (every request would fail); a table without a primary key or unique index on `id` alone (two rows of
 * one id would take each other's changes), and a table with child tables (`INHERITS`), whose
 * rows keyward's queries would read but its unique indexes do not cover.
 *
 * Other columns pass, and other constraints and defaults are not compared: keyward writes every
 * column it reads, and a constraint that refuses a row refuses the write that brings it.
 */
export function usableTableCheck(table: KeyTable, columns: readonly NeededColumn[]): string {
  const needed = columns
    .map(({ name, type }, index) => `(${index + 1}, '${name}', '${type}')`)
    .join(',\n      ');
  return `DO $$
DECLARE
  keys oid := ${tableFound(table)};
  found_as text;
  kind "char";
  missing text;
  mistyped text;
  unreadable text;
BEGIN
  SELECT format('%I.%I', n.nspname, c.relname), c.relkind INTO found_as, kind
  FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = keys;
  IF kind <> 'r' THEN
    RAISE EXCEPTION 'keyward: % is %, not a table keyward can use; drop or rename it, or give the store another table name, then migrate again',
      found_as, CASE kind WHEN 'v' THEN 'a view' WHEN 'm' THEN 'a materialized view' WHEN 'f' THEN 'a foreign table'
        WHEN 'p' THEN 'a partitioned table (no partition key can serve both of keyward''s unique indexes)'
        ELSE format('a relation of kind %s', kind) END;
  END IF;
  SELECT
    string_agg(need.name, ', ' ORDER BY need.position) FILTER (WHERE has.attname IS NULL),
    string_agg(format('%s is %s, not %s', need.name, format_type(has.atttypid, NULL), need.type), ', ' ORDER BY need.position)
      FILTER (WHERE has.attname IS NOT NULL
        AND format_type(has.atttypid, NULL) <> need.type
        AND NOT (need.type = 'text' AND format_type(has.atttypid, NULL) = 'character varying')),
    -- migrate() reads only the catalog: a role that may not read the table would pass it,
    -- then fail every request. CASE fixes the order of evaluation: a missing column has no
    -- privilege to ask about.
    string_agg(need.name, ', ' ORDER BY need.position)
      FILTER (WHERE CASE WHEN has.attname IS NULL THEN false ELSE NOT has_column_privilege(keys, has.attnum, 'SELECT') END)
  INTO missing, mistyped, unreadable
  FROM (VALUES
      ${needed}
    ) AS need(position, name, type)
    LEFT JOIN pg_attribute AS has ON has.attrelid = keys AND has.attname = need.name AND has.attnum > 0 AND NOT has.attisdropped;
  IF missing IS NOT NULL OR mistyped IS NOT NULL THEN
    RAISE EXCEPTION 'keyward: table % is not one keyward can use: %; migrate does not alter a table that exists: change it, or give the store a table name of its own, then migrate again',
      found_as, concat_ws('; ', 'it lacks ' || missing, mistyped);
  END IF;
  IF NOT has_schema_privilege((SELECT relnamespace FROM pg_class WHERE oid = keys), 'USAGE') THEN
    RAISE EXCEPTION 'keyward: role % may not use the schema of table %, so every request would fail; grant it USAGE on the schema, then migrate again',
      current_user, found_as;
  END IF;
  IF unreadable IS NOT NULL THEN
    RAISE EXCEPTION 'keyward: role % may not read % of table %, so every request would fail; grant it SELECT on the table, then migrate again',
      current_user, unreadable, found_as;
  END IF;
  -- Every change finds its row by id: two rows of one id would take each other's changes.
  IF NOT EXISTS (
    SELECT FROM pg_index JOIN pg_attribute AS id ON id.attrelid = keys AND id.attname = 'id'
    WHERE pg_index.indrelid = keys AND pg_index.indisunique AND pg_index.indisvalid
      AND pg_index.indpred IS NULL AND pg_index.indexprs IS NULL
      -- Its one key column: an INCLUDE column keeps nothing apart.
      AND pg_index.indnkeyatts = 1 AND pg_index.indkey[0] = id.attnum
  ) THEN
    RAISE EXCEPTION 'keyward: table % has no primary key or unique index on id alone, so two rows could share an id and take each other''s changes; add one (ALTER TABLE % ADD PRIMARY KEY (id)), then migrate again',
      found_as, found_as;
  END IF;
  -- Queries read a parent's child tables too, which its unique indexes do not cover.
  IF EXISTS (SELECT FROM pg_inherits WHERE inhparent = keys) THEN
    RAISE EXCEPTION 'keyward: table % has child tables (INHERITS), whose rows its queries read but its unique indexes do not cover; give the store a table without them, then migrate again',
      found_as;
  END IF;
END
$$;`;
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
export function uniqueIndexUnlessPresent(table: KeyTable, name: string, columns: string[], predicate?: string): string {
  const columnList = `ARRAY[${literals(columns)}]`;
  return `DO $$
DECLARE
  keys oid := ${tableFound(table)};
BEGIN
  IF NOT EXISTS (
    SELECT FROM pg_class
    WHERE relname = '${name}'
      AND relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = keys)
  ) THEN
    CREATE UNIQUE INDEX "${name}" ON ${table.sql} (${columns.join(', ')})${predicate ? ` WHERE ${predicate}` : ''};
  ELSIF NOT EXISTS (
    SELECT FROM pg_index JOIN pg_class ON pg_class.oid = pg_index.indexrelid
    WHERE pg_class.relname = '${name}'
      AND pg_index.indrelid = keys
      AND pg_index.indisunique
      -- A CREATE INDEX CONCURRENTLY that failed leaves an index that enforces nothing.
      AND pg_index.indisvalid AND pg_index.indisready
      AND (pg_index.indpred IS NOT NULL) = ${predicate ? 'true' : 'false'}
      -- indkey is an int2vector, written as its column numbers with spaces between.
      AND pg_index.indkey::text = array_to_string(ARRAY(
        SELECT attnum FROM pg_attribute
        WHERE attrelid = keys AND attname = ANY (${columnList})
        ORDER BY array_position(${columnList}, attname::text)
      ), ' ')
  ) THEN
    RAISE EXCEPTION 'keyward: "${name}" exists but is not the unique index keyward needs: on ${table.bare} (${columns.join(', ')})${predicate ? ` WHERE ${predicate}` : ''}; drop or rename it, then migrate again';
  END IF;
END
$$;`;
}
