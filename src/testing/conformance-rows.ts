import assert from 'node:assert/strict';
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
  // Checked first, so a store that answers in another shape learns that, rather than which
  // test its answer happened to fail.
  assert.notEqual(row, undefined, 'the store answered undefined: a find or a modify that has no row answers null');
  if (row === null) return null;
  const picked: Record<string, unknown> = {};
  for (const field of FIELDS) picked[field] = inThisRealm(row[field]);
  for (const field of TIME_FIELDS) {
    const time = picked[field];
    if (time !== null && !(time instanceof Date)) {
      assert.fail(`the store gave ${field} as ${kindOf(time)}: give every time as a Date, or null for none (convert what the driver gives)`);
    }
  }
  if (typeof picked.soft_deleted !== 'boolean') {
    assert.fail(`the store gave soft_deleted as ${kindOf(picked.soft_deleted)}: give it as true or false (a driver may give 0 and 1, or 't' and 'f')`);
  }
  return picked as unknown as ApiKeyRow;
}

const TIME_FIELDS = ['created_at', 'last_used_at', 'expires_at', 'revoked_at'] as const;

/** What a value is, for a message: its type, never the value (a field could hold a secret). */
function kindOf(value: unknown): string {
  if (value === undefined) return 'undefined (left out)';
  if (value === null) return 'null';
  if (typeof value === 'string') return 'text';
  return typeof value === 'object' ? 'an object that is not a Date' : `a ${typeof value}`;
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
