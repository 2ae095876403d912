import type { KeyTable } from './postgres-schema.js';

/**
 * SQL for a key table that may already be there: finding it as the store's queries do, and
 * creating its indexes unless they are there. The blocks only read the catalog until something
 * is missing, so on an up-to-date schema they need no privilege beyond reading it and run in a
 * read-only session.
 */

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
