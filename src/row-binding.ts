import { createHmac } from 'node:crypto';
import { ENVIRONMENTS } from './key-format.js';
import { isPepperSecret, MAX_PEPPER_BYTES, MIN_PEPPER_BYTES } from './pepper.js';
import type { ApiKeyRow } from './store.js';

/**
 * The fields of a row that a peppered hash is bound to: what says whose key it is. The key
 * type, status, expiry and webhook settings are not among them; they are the table's to change.
 */
export type BoundRowFields = Pick<ApiKeyRow, 'id' | 'lookup_id' | 'account_id' | 'environment'>;

/**
 * The pepper a row's hash is computed with: an HMAC-SHA256 of the row's bound fields under the
 * app's pepper, given to Argon2id as its secret input. A hash made this way verifies only on
 * the row it was made for, so someone who can write to the key table but does not hold the
 * pepper cannot move a hash they know the key of (their own key's) onto another account's
 * row, nor point their own row at another account. Without a pepper there is nothing to bind
 * with: such a writer can compute any hash anyway.
 *
 * @param pepper - the app's pepper secret (from `pepper.secrets`).
 * @param row - the row the hash is for.
 * @returns 32 bytes for Argon2id's secret input.
 * @throws {TypeError} unless `pepper` is a pepper secret's bytes (a `Uint8Array` of 16 to
 *   1,024 bytes: a string, such as the base64 text of an environment variable, would key the
 *   HMAC with its text and give a hash that never verifies), and unless `row` has the four
 *   fields, each a non-empty string, and a known environment: a row read through an ORM's
 *   camel-case names would bind nothing but its id.
 * @example
 * ```ts
 * // A hash the authenticator accepts for `row`, written by hand (the key manager does this).
 * const key_hash = await hashSecret(secret, DEFAULT_ARGON2_PARAMS, { id: 'p2', secret: rowPepper(p2, row) });
 * ```
 */
export function rowPepper(pepper: Uint8Array, row: BoundRowFields): Uint8Array {
  if (!isPepperSecret(pepper)) {
    throw new TypeError(`rowPepper needs the pepper's bytes, a Uint8Array of ${MIN_PEPPER_BYTES} to ${MAX_PEPPER_BYTES} bytes as in pepper.secrets`);
  }
  const ids = [row?.id, row?.lookup_id, row?.account_id];
  if (!ids.every((id) => typeof id === 'string' && id.length > 0) || !ENVIRONMENTS.includes(row.environment)) {
    throw new TypeError('rowPepper needs the row\'s id, lookup_id, account_id and environment');
  }
  // JSON keeps the fields apart whatever they contain: no two rows give the same text.
  const fields = JSON.stringify(['keyward.row.v1', row.id, row.lookup_id, row.account_id, row.environment]);
  return new Uint8Array(createHmac('sha256', pepper).update(fields).digest());
}

/**
 * Whether two rows have the same bound fields: whether an Argon2 answer for one holds for the
 * other, given the same stored hash.
 */
export function sameBoundFields(a: BoundRowFields, b: BoundRowFields): boolean {
  return a.id === b.id && a.lookup_id === b.lookup_id && a.account_id === b.account_id && a.environment === b.environment;
}
