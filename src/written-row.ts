import { ApiKeyAuthError } from './errors.js';
import { normalizeStatus } from './statuses.js';
import type { ApiKeyRow } from './store.js';
import type { WriteVerb } from './unconfirmed-write.js';
import { storedTimeOf } from './valid-date.js';

/** Every key manager verb that writes a row, and so checks the row it gets back. */
export type CheckedWrite = WriteVerb | 'resealWebhookPassword';

/**
 * The fields of `written` that `row` does not hold. Text, booleans and null are compared by
 * identity, a status as keyward reads it (`revoked` holds `revoqued`: a legacy enum may spell
 * it so); a Date by the time it holds, to the second, since a store hands out Dates of its own
 * (or a time as text naming the same moment) and a column may keep whole seconds only
 * (`timestamptz(0)`, MySQL's `DATETIME`), rounding the milliseconds away. A field written as
 * undefined was left alone, and is not compared.
 *
 * @param row - a row the store gave back after a write.
 * @param written - the fields the write set.
 */
export function unheldFields(row: ApiKeyRow, written: Partial<ApiKeyRow>): string[] {
  return Object.entries(written).flatMap(([field, value]) =>
    value === undefined || holdsValue(field, row[field as keyof ApiKeyRow], value) ? [] : [field],
  );
}

/**
 * Whether two values of one field hold the same, as {@link unheldFields} compares them, either
 * way round (a Date and the text of its time alike), with undefined read as null: the values
 * compared here come from rows read at different times, and a field read as neither is empty.
 */
export function sameFieldValue(field: string, one: unknown, other: unknown): boolean {
  const [a, b] = [one ?? null, other ?? null];
  return holdsValue(field, a, b) || holdsValue(field, b, a);
}

/** How far a time a store holds may be from the one written: a column of whole seconds rounds. */
const TIME_PRECISION_MS = 1_000;

function holdsValue(field: string, held: unknown, written: unknown): boolean {
  if (field === 'status') return held === written || (normalizeStatus(held) !== undefined && normalizeStatus(held) === normalizeStatus(written));
  if (!(written instanceof Date)) return held === written;
  const time = held === null || held === undefined ? undefined : storedTimeOf(held);
  return time !== undefined && Math.abs(time - written.getTime()) < TIME_PRECISION_MS;
}

/**
 * Checks that a row the store gave back as written holds what was written. A store whose
 * write leaves values alone without a word (a hand-written `UPDATE` with a fixed column list,
 * a status column that cannot hold every status) would otherwise have the manager report a
 * change that never happened: a regenerate's card with the old masked key, a `setStatus` that
 * resolves while the key keeps passing.
 *
 * @throws {ApiKeyAuthError} `ERR_STORED_ROW_INVALID` (500, not exposed) naming the fields that
 *   do not hold, never their values (they include hashes and sealed passwords).
 */
export function assertHolds(verb: CheckedWrite, row: ApiKeyRow, written: Partial<ApiKeyRow>): void {
  const unheld = unheldFields(row, written);
  if (unheld.length > 0) {
    throw faultyWrite(`after ${verb}, the row it gave back does not hold what was written to ${unheld.join(', ')}${CONSEQUENCES[verb] ?? ''}`);
  }
}

/** What the caller of a write that held only in part has lost, where that is more than the change. */
const CONSEQUENCES: Partial<Record<CheckedWrite, string>> = {
  regenerate: ': the new key is not returned, and the old one may no longer work',
  // A trigger or rule that undoes the write: the operator must know the key was not stopped.
  revoke: ': the key may still work',
  softDelete: ': the key may still work',
  setStatus: ': the key may still be decided by its old status',
};

/**
 * The error of a `modify` that gave back a row without calling `change`: the store cannot
 * have written the patch, which only `change` could give it, yet answered as if it had.
 *
 * @returns an `ERR_STORED_ROW_INVALID` error (500, not exposed).
 */
export function changeNotCalled(verb: CheckedWrite): ApiKeyAuthError {
  return faultyWrite(`for ${verb}, modify gave back a row without calling change, so it cannot have written the ${verb}`);
}

/**
 * The error of an `issue` whose new row, read back, does not hold what was inserted. The key
 * is not returned, so its row was revoked (when `revoked`) lest it stay live with nobody
 * holding it and block the account's next `issue`; if that failed too, the message names the
 * row's id (public) so that an operator can revoke it.
 *
 * @param unheld - the fields that do not hold.
 * @param keyId - the new row's id.
 * @param revoked - whether the row was revoked.
 * @returns an `ERR_STORED_ROW_INVALID` error (500, not exposed).
 */
export function faultyInsert(unheld: readonly string[], keyId: string, revoked: boolean): ApiKeyAuthError {
  const outcome = revoked
    ? 'the new key is not returned, and its row has been revoked'
    : `the new key is not returned, nobody holds it, and its row could not be revoked: revoke ${keyId} once the store is fixed`;
  return faultyWrite(`after issue, the row it gave back does not hold what was written to ${unheld.join(', ')}: ${outcome}`);
}

function faultyWrite(detail: string): ApiKeyAuthError {
  return new ApiKeyAuthError(
    'ERR_STORED_ROW_INVALID',
    `The store's write is faulty: ${detail}. Check the store with keyward's store conformance suite.`,
    { status: 500, expose: false },
  );
}
