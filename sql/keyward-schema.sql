-- keyward: API key table for PostgreSQL 12 or newer (generated columns).
-- Generated from keyward's own source (src/postgres-schema.ts in its repository); for another
-- table name, postgresSchemaSql("schema.table") from keyward/postgres gives this script for it.
-- Safe to run again, and from several sessions at once (they take turns on an advisory lock):
-- it creates only what the catalog lacks, so on an up-to-date schema it issues no DDL, needs no
-- CREATE privilege, runs in a read-only session and locks no table. A relation of the same name
-- that keyward cannot use (a table of other columns, a view) makes it fail, changing nothing.
-- With psql, pass -v ON_ERROR_STOP=1: without it psql goes on after an error, ends the
-- transaction with a ROLLBACK at COMMIT, and exits 0 all the same.
BEGIN ISOLATION LEVEL READ COMMITTED;
DO $$ BEGIN PERFORM pg_advisory_xact_lock(hashtext('keyward:migrate')); END $$;
DO $$
BEGIN
  IF (SELECT c.oid FROM unnest(current_schemas(true)) WITH ORDINALITY AS path(schema, position)
    JOIN pg_namespace AS n ON n.nspname = path.schema
    JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = 'api_keys'
    ORDER BY path.position LIMIT 1) IS NULL THEN
    CREATE TABLE IF NOT EXISTS "api_keys" (
      id text NOT NULL CONSTRAINT "api_keys_pkey" PRIMARY KEY,
      account_id text NOT NULL,
      key_type text NOT NULL,
      -- The seven statuses keyward knows, plus "revoked", accepted as an alias of "revoqued".
      status text NOT NULL CONSTRAINT "api_keys_status_check" CHECK (status IN ('allowed', 'pending_validation', 'suspended', 'revoqued', 'locked', 'expired', 'rejected', 'revoked')),
      environment text NOT NULL CONSTRAINT "api_keys_environment_check" CHECK (environment IN ('production', 'sandbox')),
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
$$;
DO $$
DECLARE
  keys oid := (SELECT c.oid FROM unnest(current_schemas(true)) WITH ORDINALITY AS path(schema, position)
    JOIN pg_namespace AS n ON n.nspname = path.schema
    JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = 'api_keys'
    ORDER BY path.position LIMIT 1);
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
      (1, 'id', 'text'),
      (2, 'account_id', 'text'),
      (3, 'key_type', 'text'),
      (4, 'status', 'text'),
      (5, 'environment', 'text'),
      (6, 'created_at', 'timestamp with time zone'),
      (7, 'last_used_at', 'timestamp with time zone'),
      (8, 'expires_at', 'timestamp with time zone'),
      (9, 'soft_deleted', 'boolean'),
      (10, 'revoked_at', 'timestamp with time zone'),
      (11, 'lookup_id', 'text'),
      (12, 'key_hash', 'text'),
      (13, 'masked_key', 'text'),
      (14, 'webhook_url', 'text'),
      (15, 'webhook_basic_auth_username', 'text'),
      (16, 'webhook_basic_auth_password_sealed', 'text')
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
$$;
DO $$
DECLARE
  keys oid := (SELECT c.oid FROM unnest(current_schemas(true)) WITH ORDINALITY AS path(schema, position)
    JOIN pg_namespace AS n ON n.nspname = path.schema
    JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = 'api_keys'
    ORDER BY path.position LIMIT 1);
BEGIN
  IF NOT EXISTS (
    SELECT FROM pg_class
    WHERE relname = 'api_keys_lookup_id_key'
      AND relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = keys)
  ) THEN
    CREATE UNIQUE INDEX "api_keys_lookup_id_key" ON "api_keys" (lookup_id);
  ELSIF NOT EXISTS (
    SELECT FROM pg_index JOIN pg_class ON pg_class.oid = pg_index.indexrelid
    WHERE pg_class.relname = 'api_keys_lookup_id_key'
      AND pg_index.indrelid = keys
      AND pg_index.indisunique
      -- A CREATE INDEX CONCURRENTLY that failed leaves an index that enforces nothing.
      AND pg_index.indisvalid AND pg_index.indisready
      AND (pg_index.indpred IS NOT NULL) = false
      -- indkey is an int2vector, written as its column numbers with spaces between.
      AND pg_index.indkey::text = array_to_string(ARRAY(
        SELECT attnum FROM pg_attribute
        WHERE attrelid = keys AND attname = ANY (ARRAY['lookup_id'])
        ORDER BY array_position(ARRAY['lookup_id'], attname::text)
      ), ' ')
  ) THEN
    RAISE EXCEPTION 'keyward: "api_keys_lookup_id_key" exists but is not the unique index keyward needs: on api_keys (lookup_id); drop or rename it, then migrate again';
  END IF;
END
$$;
DO $$
DECLARE
  keys oid := (SELECT c.oid FROM unnest(current_schemas(true)) WITH ORDINALITY AS path(schema, position)
    JOIN pg_namespace AS n ON n.nspname = path.schema
    JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = 'api_keys'
    ORDER BY path.position LIMIT 1);
BEGIN
  IF NOT EXISTS (
    SELECT FROM pg_class
    WHERE relname = 'api_keys_one_live_key'
      AND relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = keys)
  ) THEN
    CREATE UNIQUE INDEX "api_keys_one_live_key" ON "api_keys" (account_id, environment) WHERE NOT soft_deleted AND revoked_at IS NULL;
  ELSIF NOT EXISTS (
    SELECT FROM pg_index JOIN pg_class ON pg_class.oid = pg_index.indexrelid
    WHERE pg_class.relname = 'api_keys_one_live_key'
      AND pg_index.indrelid = keys
      AND pg_index.indisunique
      -- A CREATE INDEX CONCURRENTLY that failed leaves an index that enforces nothing.
      AND pg_index.indisvalid AND pg_index.indisready
      AND (pg_index.indpred IS NOT NULL) = true
      -- indkey is an int2vector, written as its column numbers with spaces between.
      AND pg_index.indkey::text = array_to_string(ARRAY(
        SELECT attnum FROM pg_attribute
        WHERE attrelid = keys AND attname = ANY (ARRAY['account_id', 'environment'])
        ORDER BY array_position(ARRAY['account_id', 'environment'], attname::text)
      ), ' ')
  ) THEN
    RAISE EXCEPTION 'keyward: "api_keys_one_live_key" exists but is not the unique index keyward needs: on api_keys (account_id, environment) WHERE NOT soft_deleted AND revoked_at IS NULL; drop or rename it, then migrate again';
  END IF;
END
$$;
COMMIT;
