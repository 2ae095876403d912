import { randomBytes } from 'node:crypto';
import type { ApiKeyRow } from 'keyward';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Random base62 text; uniqueness across tests is all that matters here. */
function base62(length: number): string {
  return [...randomBytes(length)].map((byte) => ALPHABET[byte % 62]).join('');
}

/** A fresh lookup id, shaped like a real one. */
export function lookupIdOf(): string {
  return base62(12);
}

/**
 * A complete, live row with unique identifiers; `overrides` replace fields. Times are whole
 * milliseconds, which every store can hold exactly.
 */
export function sampleRow(overrides: Partial<ApiKeyRow> = {}): ApiKeyRow {
  const lookupId = overrides.lookup_id ?? lookupIdOf();
  return {
    id: `key_${base62(20)}`,
    account_id: `acct_${base62(10)}`,
    key_type: 'sms_api',
    status: 'allowed',
    environment: 'sandbox',
    created_at: new Date(Date.UTC(2026, 0, 15, 9, 30, 0, 123)),
    last_used_at: null,
    expires_at: new Date(Date.UTC(2030, 5, 1)),
    soft_deleted: false,
    revoked_at: null,
    lookup_id: lookupId,
    key_hash: `$argon2id$v=19$m=256,t=1,p=1$${base62(22)}$${base62(43)}`,
    masked_key: `sk_test_${lookupId.slice(0, 4)}…${base62(4)}`,
    webhook_url: 'https://hooks.example.test/receipts',
    webhook_basic_auth_username: 'receiver',
    webhook_basic_auth_password_sealed: `v1.k1.${base62(40)}`,
    ...overrides,
  };
}

const FIELDS: readonly (keyof ApiKeyRow)[] = Object.keys(sampleRow()) as (keyof ApiKeyRow)[];

/**
 * The `ApiKeyRow` fields of what a store returned, so a store that returns extra columns
 * (a derived flag, say) still compares equal. Null stays null for a "not found". A Date made
 * in another realm (a driver running in a `vm` context) becomes one of this realm at the same
 * time: keyward reads both alike, but `assert.deepStrictEqual` compares prototypes.
 */
export function rowFields(row: ApiKeyRow | null): ApiKeyRow | null {
  if (row === null) return null;
  const picked: Record<string, unknown> = {};
  for (const field of FIELDS) picked[field] = inThisRealm(row[field]);
  return picked as unknown as ApiKeyRow;
}

/** A Date of another realm as one of this realm; any other value as it is. */
function inThisRealm(value: unknown): unknown {
  if (value instanceof Date || typeof value !== 'object' || value === null) return value;
  try {
    // Throws for anything but a real Date, whatever its prototype or `Symbol.toStringTag` say.
    return new Date(Date.prototype.getTime.call(value));
  } catch {
    return value;
  }
}

/** A time `offsetMs` after a fixed base, for usage records. */
export function at(offsetMs: number): Date {
  return new Date(Date.UTC(2026, 2, 1) + offsetMs);
}
