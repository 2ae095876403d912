/**
 * Writes sql/keyward-schema.sql from the schema definition in src/postgres-schema.ts, so the
 * shipped SQL file and `PostgresKeyStore.migrate()` can never disagree. A test fails when the
 * committed file is stale. Run with `npm run schema:sql`.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { postgresSchemaSql } from '../src/postgres-schema.js';

const target = fileURLToPath(new URL('../sql/keyward-schema.sql', import.meta.url));
writeFileSync(target, postgresSchemaSql());
console.log(`wrote ${target}`);
