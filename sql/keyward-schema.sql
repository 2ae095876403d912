-- keyward: API key table for PostgreSQL 12 or newer (generated columns).
-- Generated from keyward's own source (src/postgres-schema.ts in its repository); for another
-- table name, postgresSchemaSql("schema.table") from keyward/postgres gives this script for it.
-- Safe to run again: it creates only what the catalog lacks, so on an up-to-date schema it
-- issues no DDL, needs no CREATE privilege, runs in a read-only session and locks no table.
BEGIN;
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
