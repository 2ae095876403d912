import { ENVIRONMENTS } from './key-format.js';
import type { ApiKeyRow } from './store.js';
import { storedTimeOf } from './valid-date.js';

/** What is wrong with a row a store returned, or `not_live` for one it should have hidden. */
export type RowProblem =
  | 'not_live'
  | 'not_an_object'
  | 'bad_lifecycle_fields'
  | 'bad_id'
  | 'bad_account_id'
  | 'bad_key_type'
  | 'bad_environment'
  | 'lookup_id_mismatch'
  | 'lookup_id_case_differs'
  | 'bad_expires_at';

/** The fields of a row the authenticator reads, each read from the store's row exactly once. */
export type RowView = Pick<
  ApiKeyRow,
  'id' | 'account_id' | 'key_type' | 'status' | 'environment' | 'lookup_id' | 'key_hash' | 'expires_at' | 'soft_deleted' | 'revoked_at'
>;

/**
 * Copies the fields the authenticator reads out of a row a store returned, each read once, so
 * every step of a request sees the same values even when a custom store's row computes them
 * (getters, a Proxy, an ORM's lazy fields). Whatever reading them throws, the caller treats as
 * the store's fault.
 *
 * @param row - what the store returned: an object, or anything else for {@link checkRow} to refuse.
 * @returns the copy, or `row` itself when it is not an object.
 */
export function readRow(row: unknown): RowView {
  if (typeof row !== 'object' || row === null) return row as RowView;
  const { id, account_id, key_type, status, environment, lookup_id, key_hash, expires_at, soft_deleted, revoked_at } = row as RowView;
  return { id, account_id, key_type, status, environment, lookup_id, key_hash, expires_at, soft_deleted, revoked_at };
}

/**
 * Checks a row from a store before it is trusted: a custom store may return rows with
 * missing fields or values of the wrong type, and none of that may turn into a pass. The
 * status and the hash are checked later, in their own steps.
 *
 * @param row - what the store returned for `lookupId`, as {@link readRow} copied it.
 */
export function checkRow(row: RowView, lookupId: string): RowProblem | undefined {
  if (typeof row !== 'object' || row === null) return 'not_an_object';
  // Deleted and revoked rows are refused exactly like unknown ones, even if a store forgot
  // to filter them out.
  if (row.soft_deleted === true || (row.revoked_at !== null && row.revoked_at !== undefined)) {
    return 'not_live';
  }
  if (!showsLive(row)) return 'bad_lifecycle_fields';
  if (!isNonEmptyString(row.id)) return 'bad_id';
  if (!isNonEmptyString(row.account_id)) return 'bad_account_id';
  if (!isNonEmptyString(row.key_type)) return 'bad_key_type';
  if (!ENVIRONMENTS.includes(row.environment)) return 'bad_environment';
  if (row.lookup_id !== lookupId) {
    // A store whose lookup ignores letter case (a case-insensitive collation, citext) finds a
    // row for a lookup id that differs in case only, which anyone can send.
    const caseOnly = typeof row.lookup_id === 'string' && row.lookup_id.toLowerCase() === lookupId.toLowerCase();
    return caseOnly ? 'lookup_id_case_differs' : 'lookup_id_mismatch';
  }
  if (row.expires_at !== null && storedTimeOf(row.expires_at) === undefined) {
    return 'bad_expires_at';
  }
  return undefined;
}

/**
 * Whether a row's lifecycle fields show its key live: `soft_deleted` exactly false and
 * `revoked_at` null. Anything else (a 0 or a 't' a driver gave, a field left out) does not.
 */
export function showsLive(row: Pick<ApiKeyRow, 'soft_deleted' | 'revoked_at'>): boolean {
  return row.soft_deleted === false && row.revoked_at === null;
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

export function idOf(row: unknown): string | undefined {
  const id = (row as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : undefined;
}
