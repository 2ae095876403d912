import { ChangeCall } from './change-call.js';
import { isPossibleKeyId } from './key-manager-arguments.js';
import { notFound, type KeyRows } from './key-rows.js';
import type { ApiKeyRow } from './store.js';
import { isUnavailable, notWritten, outcomeUnknown, overtaken, provesNotWritten, readAgain, type ChangeVerb } from './unconfirmed-write.js';
import { assertHolds, unheldFields } from './written-row.js';

/** A patch for a key's row, or how to make it from the row as the store hands it over. */
export type RowPatch = Partial<ApiKeyRow> | ((current: ApiKeyRow) => Partial<ApiKeyRow>);

/** The key manager's writes of a patch to a key's live row. */
export interface RowWriter {
  /** See {@link rowWriter}: the row as written, or null when the patch ended the key. */
  write: (keyId: string, given: RowPatch, verb: ChangeVerb) => Promise<ApiKeyRow | null>;
  /** A write of a patch that leaves the key live: the row as written. */
  change: (keyId: string, given: RowPatch, verb: ChangeVerb) => Promise<ApiKeyRow>;
}

/** The writes of patches through the checked reads of `rows`. */
export function rowWriter({ modifyExact, lockedRow }: KeyRows): RowWriter {
  /**
   * Writes a patch to the key's live row: the row as written, or null when the patch ended the
   * key (`revoked_at`, `soft_deleted`) and the store could not confirm it but no live row is
   * left. A function makes the patch from the row as the store hands it over, under its lock.
   * A write the store did not confirm after it had the row in hand may have landed all the
   * same (its COMMIT answer lost or late), so the row is read again: the call succeeds if the
   * row holds the patch, fails saying nothing was written if it shows the write never landed,
   * with a conflict if another request wrote the same fields meanwhile (this write may have
   * landed before it: see {@link provesNotWritten}), and says the outcome is unknown if it
   * cannot be read. A row the store gave back as written must hold
   * the patch too, or the store's write is faulty (`ERR_STORED_ROW_INVALID`), as is one given
   * back by a `modify` that never called `change` (see {@link ChangeCall}).
   */
  const write = async (keyId: string, given: RowPatch, verb: ChangeVerb): Promise<ApiKeyRow | null> => {
    if (!isPossibleKeyId(keyId)) throw notFound();
    const call = new ChangeCall((current: ApiKeyRow) => (typeof given === 'function' ? given(current) : given));
    let row: ApiKeyRow | null;
    try {
      row = await modifyExact(keyId, call.change);
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      const { first, patches } = call;
      // A store that failed before any call of `change` returned a patch wrote nothing.
      if (first === undefined) throw notWritten(verb, error);
      const current = await readAgain(() => lockedRow(keyId));
      if (current === undefined) throw outcomeUnknown(verb, error);
      // The row was live when the store handed it over: gone now, the key has ended, by this
      // call or by another, which is what a revoke or a soft delete asked for.
      if (current === null) {
        if (patches.some(endsKey)) return null;
        throw notFound();
      }
      // A store that ran its transaction again may have landed any of the patches.
      if (!patches.some((patch) => unheldFields(current, patch).length === 0)) {
        throw provesNotWritten(current, first.before, first.patch) ? notWritten(verb, error) : overtaken(verb, error);
      }
      return current;
    }
    if (!row) {
      call.rethrow();
      // No live row after `change` gave a patch that ends the key: a store that retried its
      // transaction once the first attempt had landed (its COMMIT answer lost) found the key
      // ended, by this call or by another, which is what a revoke or a soft delete asked for.
      if (call.patch !== undefined && endsKey(call.patch)) return null;
      throw notFound();
    }
    assertHolds(verb, row, call.patchOf(verb));
    return row;
  };

  /** {@link write} of a patch that leaves the key live: the row as written. */
  const change = async (keyId: string, given: RowPatch, verb: ChangeVerb): Promise<ApiKeyRow> => {
    const row = await write(keyId, given, verb);
    if (!row) throw notFound();
    return row;
  };

  return { write, change };
}

/** Whether a patch ends the key, so that no live row is left once it has landed. */
function endsKey(patch: Partial<ApiKeyRow>): boolean {
  return (patch.revoked_at !== undefined && patch.revoked_at !== null) || patch.soft_deleted === true;
}
