import { ApiKeyAuthError } from './errors.js';
import type { ApiKeyRow, KeyStore } from './store.js';
import { sameFieldValue } from './written-row.js';

/** The key manager's writes through {@link KeyStore.modify} of a patch. */
export type ChangeVerb = 'revoke' | 'softDelete' | 'setStatus' | 'setWebhook' | 'clearWebhook';

/** Every verb whose write the key manager checks when the store does not confirm it. */
export type WriteVerb = 'issue' | 'regenerate' | ChangeVerb;

/**
 * Whether the store failed without saying the write was refused: its outcome needs checking.
 * `ERR_STORE_REFUSED` is not such a failure: the database answered the write with a refusal
 * and rolled it back, so nothing landed, and the same write would be refused again. It is
 * passed on as it is, never read again nor called safe to repeat.
 */
export function isUnavailable(error: unknown): error is ApiKeyAuthError {
  return error instanceof ApiKeyAuthError && error.code === 'ERR_STORE_UNAVAILABLE';
}

/** Whether `row` holds the lookup id and hash one call generated (they are random). */
export function isWrittenBy(row: ApiKeyRow, written: Pick<ApiKeyRow, 'lookup_id' | 'key_hash'>): boolean {
  return row.lookup_id === written.lookup_id && row.key_hash === written.key_hash;
}

/**
 * After a write the store could not confirm, reads the row again, twice at most (each read is
 * bounded by the store): the row as read (null when there is no live row), or undefined when no
 * read succeeded.
 */
export async function readAgain(read: () => Promise<ApiKeyRow | null>): Promise<ApiKeyRow | null | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (!isUnavailable(error)) return undefined;
    }
  }
  return undefined;
}

/** How the messages below name each write that reads the row again. */
const WRITE_NAMES: Record<ChangeVerb | 'regenerate', string> = {
  regenerate: 'the regenerate',
  revoke: 'the revoke',
  softDelete: 'the soft delete',
  setStatus: 'the new status',
  setWebhook: 'the webhook settings',
  clearWebhook: 'clearing the webhook settings',
};

/**
 * The store failed to confirm a write that, read again, is known not to have landed: the
 * store's own message may still call the outcome unknown (a COMMIT that timed out), so this
 * one says what the read showed: `ERR_STORE_UNAVAILABLE` (503, not exposed), with the store's
 * error as its cause.
 */
export function notWritten(verb: ChangeVerb | 'regenerate', cause: ApiKeyAuthError): ApiKeyAuthError {
  const outcome: Record<typeof verb, string> = {
    regenerate: 'it was not written, and the old key still works',
    revoke: 'it was not written, and the key still works',
    softDelete: 'it was not written, and the key still works',
    setStatus: 'it was not written',
    setWebhook: 'they were not written',
    clearWebhook: 'it was not written, and the row keeps the settings it had',
  };
  return new ApiKeyAuthError('ERR_STORE_UNAVAILABLE', `The store did not confirm ${WRITE_NAMES[verb]}: ${outcome[verb]}. Trying again is safe.`, { status: 503, expose: false, cause });
}

/** A row's fields by name. */
type Fields = Record<string, unknown>;

/**
 * Whether the row, read again after a write the store did not confirm and found without the
 * write's patch, shows that the write never landed: a field the patch changes still holds the
 * value it had in the row the write set out from (`before`), where a landed write would have
 * left the patch's value, and no such field holds the patch's value. Otherwise another request
 * wrote some of those fields meanwhile, and this write may have landed before it: its outcome
 * is unknown. So it is when the patch changes no field at all (it set the values the row
 * already held) and the row now holds others.
 *
 * Rows carry no version, so another request that wrote back the very value every field it
 * touched had cannot be told from no write at all: a status set and set back, or, for a patch
 * of several fields, another request that left the ones it shares with this one as they were.
 */
export function provesNotWritten(row: ApiKeyRow, before: Partial<ApiKeyRow>, patch: Partial<ApiKeyRow>): boolean {
  const [now, then, wanted] = [row, before, patch] as unknown as [Fields, Fields, Fields];
  const changed = Object.keys(wanted).filter((name) => wanted[name] !== undefined && !sameFieldValue(name, then[name], wanted[name]));
  return changed.some((name) => sameFieldValue(name, now[name], then[name])) && !changed.some((name) => sameFieldValue(name, now[name], wanted[name]));
}

/**
 * A write the store did not confirm, whose row read again does not show that it never landed
 * (see {@link provesNotWritten}): another request changed the same fields meanwhile, and
 * whether this write landed first is unknown, so the caller is told to read the key rather
 * than that nothing was written. `ERR_KEY_CONFLICT` (409), as for a regenerate that lost a
 * race, with the store's error as its cause.
 */
export function overtaken(verb: ChangeVerb, cause: ApiKeyAuthError): ApiKeyAuthError {
  return new ApiKeyAuthError(
    'ERR_KEY_CONFLICT',
    `The store did not confirm ${WRITE_NAMES[verb]}, and another request changed the same fields meanwhile: whether this write landed before it is unknown. Read the key before trying again.`,
    { status: 409, cause },
  );
}

/**
 * A write the store did not confirm and that could not be checked afterwards. Every call is
 * safe to repeat: a repeated `issue` finds a key that landed after all (ERR_KEY_EXISTS, and
 * regenerate replaces it), a repeated `regenerate` replaces whichever key is current (a write
 * still under way makes it ERR_KEY_CONFLICT instead, never a second live key), a repeated
 * `revoke` or `softDelete` answers ERR_KEY_NOT_FOUND once the key has ended, and the other
 * writes set the same values again.
 */
export function outcomeUnknown(verb: WriteVerb, cause: ApiKeyAuthError): ApiKeyAuthError {
  const messages: Record<typeof verb, string> = {
    issue: 'The store did not confirm the new key and could not be read again: it may have been stored, and nobody holds it. Issuing again is safe: if it was stored, issue answers ERR_KEY_EXISTS, and regenerate replaces it.',
    regenerate: 'The store did not confirm the regenerate and could not be read again: the old key may already have stopped working, and the new key was not returned. Regenerating again is safe: it replaces whichever key is current.',
    revoke: 'The store did not confirm the revoke and could not be read again: the key may already have stopped working. Revoking again is safe: if it was revoked, revoke answers ERR_KEY_NOT_FOUND.',
    softDelete: 'The store did not confirm the soft delete and could not be read again: the key may already have stopped working. Deleting again is safe: if it was deleted, softDelete answers ERR_KEY_NOT_FOUND.',
    setStatus: 'The store did not confirm the new status and could not be read again: it may have been written. Setting it again is safe.',
    setWebhook: 'The store did not confirm the webhook settings and could not be read again: they may have been written. Setting them again is safe.',
    clearWebhook: 'The store did not confirm clearing the webhook settings and could not be read again: they may have been cleared. Clearing them again is safe.',
  };
  return new ApiKeyAuthError('ERR_STORE_UNAVAILABLE', messages[verb], { status: 503, expose: false, cause });
}
