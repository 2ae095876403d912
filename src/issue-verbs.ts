import { ApiKeyAuthError } from './errors.js';
import { randomBase62 } from './base62.js';
import { ChangeCall } from './change-call.js';
import { hashSecret } from './hash.js';
import { InThreadArgon2 } from './in-thread-argon2.js';
import { toCard, type KeyCard } from './key-card.js';
import { generateApiKey } from './key-format.js';
import { checkedIssueInput, type IssueKeyInput } from './key-manager-arguments.js';
import type { ResolvedKeyManagerOptions } from './key-manager-options.js';
import { notFound, type KeyRows } from './key-rows.js';
import { rowPepper, sameBoundFields, type BoundRowFields } from './row-binding.js';
import { checkRow, type RowProblem } from './row-check.js';
import type { ApiKeyRow } from './store.js';
import { isUnavailable, isWrittenBy, notWritten, outcomeUnknown, readAgain } from './unconfirmed-write.js';
import { expiryState } from './valid-date.js';
import { assertHolds, faultyInsert, unheldFields } from './written-row.js';

/** What issue and regenerate return: the only moment the cleartext exists. */
export interface IssuedKey {
  /** The full key. Show it once; keyward keeps no copy. */
  key: string;
  card: KeyCard;
}

/** Statuses a regenerate lifts back to `allowed`; every other status is kept. */
const LIFTED_BY_REGENERATE: ReadonlySet<string> = new Set(['expired', 'revoqued', 'revoked']);

/** `KeyManager.issue` and `KeyManager.regenerate`: the verbs that make a key's secret. */
export function issueVerbs(options: ResolvedKeyManagerOptions, rows: KeyRows) {
  const { argon2, defaultKeyType, now, pepper: ring } = options;
  const { insert, byId, liveOf, liveRow, lockedRow, modifyExact } = rows;
  // A peppered hash is bound to its row's ids (see rowPepper).
  const pepperFor = (row: BoundRowFields) => ring && { id: ring.currentId, secret: rowPepper(ring.current, row) };
  // One hash at a time, however many calls run at once (a provisioning script's
  // Promise.all, say): each takes its whole memory cost as it starts, and on one thread they
  // would not finish any sooner side by side. Nothing is refused; calls wait their turn.
  const argon2Run = new InThreadArgon2(Number.POSITIVE_INFINITY).run;

  /**
   * Revokes a new row that is not returned, so that it does not stay live with nobody holding
   * it (and block the account's next issue). `stored` is the row as read back, which a faulty
   * store may have altered: the row is this call's while it still holds that lookup id and
   * hash. Read again after the revoke, whatever the store answered (a revoke whose answer was
   * lost may have landed): `revoked` once no live row has its id, `replaced` when another call
   * regenerated it first (its key is someone's: left alone), `failed` when the store could not
   * revoke it, keeps it live all the same, or cannot be read.
   */
  const withdraw = async (stored: ApiKeyRow): Promise<'revoked' | 'replaced' | 'failed'> => {
    try {
      await modifyExact(stored.id, (current) => (isWrittenBy(current, stored) ? { revoked_at: now() } : null));
    } catch {
      // Told by the read below.
    }
    const after = await readAgain(() => byId(stored.id));
    if (after === null) return 'revoked';
    return after === undefined || isWrittenBy(after, stored) ? 'failed' : 'replaced';
  };

  return {
    async issue(given: IssueKeyInput): Promise<IssuedKey> {
      const input = checkedIssueInput(given);
      // Read first, so a bad clock costs no Argon2 run.
      now();
      // The store enforces this too (two racing issues); asking first spares an Argon2 run.
      if (await liveOf(input.accountId, input.environment)) throw exists();
      const generated = generateApiKey(input.environment);
      const ids: BoundRowFields = {
        id: `key_${randomBase62(20)}`,
        lookup_id: generated.lookupId,
        account_id: input.accountId,
        environment: input.environment,
      };
      const keyHash = await hashSecret(generated.secret, argon2, pepperFor(ids), argon2Run);
      // Read again once hashed: a call may have waited its turn behind many others, and its
      // row's date and its card (EXPIRED once expiresAt has passed) are the write's.
      const at = now();
      const row: ApiKeyRow = {
        ...ids,
        key_type: input.keyType ?? defaultKeyType,
        status: input.status ?? 'allowed',
        created_at: at,
        last_used_at: null,
        expires_at: input.expiresAt,
        soft_deleted: false,
        revoked_at: null,
        key_hash: keyHash,
        masked_key: generated.masked,
        webhook_url: null,
        webhook_basic_auth_username: null,
        webhook_basic_auth_password_sealed: null,
      };
      let unconfirmed: ApiKeyAuthError | undefined;
      try {
        await insert(row);
      } catch (error) {
        if (!isUnavailable(error)) throw error;
        unconfirmed = error;
      }
      // The row is read back either way. After a failure, the row may have landed all the same
      // (the answer lost on the way back): one with this call's random id, lookup id and hash
      // can only be its own. After a success, insert gave nothing back to check, and a store
      // that leaves a field alone would otherwise go unnoticed.
      const found = await readAgain(() => byId(row.id));
      if (found === undefined) {
        if (unconfirmed !== undefined) throw outcomeUnknown('issue', unconfirmed);
        // The store confirmed the insert; a read that fails after it says nothing against the
        // store's writes, and refusing the key would leave a live row nobody holds.
        return { key: generated.key, card: toCard(row, at) };
      }
      // No live row: after a failure, the insert may not have landed (or not yet), or another
      // call may have found the new key and revoked or deleted it at once; nobody holds it.
      if (found === null && unconfirmed !== undefined) throw notLive(unconfirmed);
      // Another call may already have found the new key as the account's live one, and
      // revoked, deleted or regenerated it: this key no longer works. A regenerate replaces
      // the lookup id, the hash and the masked key together; a row with this call's random id
      // that keeps any of them is the store's fault (a column that cuts text short), checked
      // below.
      if (found === null || regeneratedSince(found, row)) throw changedAtOnce();
      // Only what no other call changes: the row may already have been written since, by a
      // setStatus, setWebhook or revoke of another caller that found it. So not the status
      // either: a key issued inactive may have been let in by then, and refusing it would
      // leave a live key nobody holds (the conformance suite checks that inserts keep it).
      const unheld = unheldFields(found, ownFieldsOf(row));
      if (unheld.length > 0) {
        const withdrawn = await withdraw(found);
        if (withdrawn === 'replaced') throw changedAtOnce();
        throw faultyInsert(unheld, row.id, withdrawn === 'revoked');
      }
      return { key: generated.key, card: toCard(found, at) };
    },

    async regenerate(keyId: string): Promise<IssuedKey> {
      // Read first, so a bad clock costs no Argon2 run; read again at the write (below).
      now();
      const before = await liveRow(keyId);
      // A row the gateways refuse (an environment keyward does not know, no account, an expiry
      // it cannot read) would get a key that never works, made from whatever its fields hold,
      // and the old key would be gone: the row is the fault, and is left alone.
      const problem = checkRow(before, before.lookup_id);
      if (problem !== undefined) throw rowInvalid(problem);
      const generated = generateApiKey(before.environment);
      // Hash outside the store's critical section: Argon2 is slow and needs no lock.
      const ids: BoundRowFields = { id: before.id, lookup_id: generated.lookupId, account_id: before.account_id, environment: before.environment };
      const keyHash = await hashSecret(generated.secret, argon2, pepperFor(ids), argon2Run);
      const written = { lookup_id: generated.lookupId, key_hash: keyHash };
      let after: ApiKeyRow | null;
      // What a row read again must hold, when the store's answer was lost; otherwise the row
      // given back must hold the whole patch, as the store wrote it.
      let checked: Partial<ApiKeyRow> | undefined;
      // The time of the write: an expiry is judged at it (the call may have waited its turn
      // for the Argon2 run, or for the row lock), and so is the card.
      let at = new Date(Number.NaN);
      const call = new ChangeCall((current: ApiKeyRow): Partial<ApiKeyRow> => {
        at = now();
        // The new hash is bound to the ids read: a row that changed meanwhile is another's now,
        // unless it holds this call's own random lookup id and hash (a store that retried its
        // transaction after the first attempt had landed, its COMMIT answer lost).
        if (!sameBoundFields(current, before) && !isWrittenBy(current, written)) throw conflict();
        // The row as it is now, not only as first read: another writer may have made it one
        // the gateways refuse meanwhile.
        const problemNow = checkRow(current, current.lookup_id);
        if (problemNow !== undefined) throw rowInvalid(problemNow);
        return {
          ...written,
          masked_key: generated.masked,
          last_used_at: null,
          // The status and a passed expiry are lifted on their own: a date still ahead is the
          // key's agreed lifetime, whatever its status, and stays.
          ...(LIFTED_BY_REGENERATE.has(current.status ?? '') ? { status: 'allowed' } : {}),
          // Only an expiry known to have passed is lifted: one that cannot be read might still
          // be ahead, and lifting it would make the key permanent.
          ...(expiryState(current.expires_at, at.getTime()) === 'passed' ? { expires_at: null } : {}),
        };
      });
      try {
        after = await modifyExact(keyId, call.change);
      } catch (error) {
        if (!isUnavailable(error)) throw error;
        // A store that failed before it handed over the row (a row lock held elsewhere ran
        // out its wait) wrote nothing: the old key still works.
        if (!call.ran) throw notWritten('regenerate', error);
        // The store gave up, but its COMMIT may have landed (its answer lost or late): the old
        // key would then be dead, and the new one must not be thrown away.
        const current = await readAgain(() => lockedRow(keyId));
        if (current === undefined) throw outcomeUnknown('regenerate', error);
        if (current === null) throw notFound();
        // Still the key this call read: nothing changed, and the old key still works.
        if (current.lookup_id === before.lookup_id) throw notWritten('regenerate', error);
        if (!isWrittenBy(current, written)) throw conflict();
        // Read after the write, not given back by it: another write may have set the status
        // or the expiry since. Only this key's own fields are the write's alone.
        checked = { ...written, masked_key: generated.masked, last_used_at: null };
        after = current;
      }
      if (!after) {
        call.rethrow();
        throw notFound();
      }
      assertHolds('regenerate', after, checked ?? call.patchOf('regenerate'));
      return { key: generated.key, card: toCard(after, at) };
    },
  };
}

function exists(): ApiKeyAuthError {
  return new ApiKeyAuthError(
    'ERR_KEY_EXISTS',
    'This account already has a live key in this environment; regenerate it instead.',
    { status: 409 },
  );
}

/** A stored row the gateways would refuse; the message names the fault, never a value. */
function rowInvalid(problem: RowProblem): ApiKeyAuthError {
  return new ApiKeyAuthError('ERR_STORED_ROW_INVALID', `stored row invalid (${problem})`, { status: 500, expose: false });
}

/** Whether `found`, read back by the id of the new `row`, holds none of its key: a regenerate's. */
function regeneratedSince(found: ApiKeyRow, row: ApiKeyRow): boolean {
  return found.lookup_id !== row.lookup_id && found.key_hash !== row.key_hash && found.masked_key !== row.masked_key;
}

/** The fields of a new row that no call but a regenerate (checked apart) writes again. */
function ownFieldsOf(row: ApiKeyRow): Partial<ApiKeyRow> {
  const { id, lookup_id, key_hash, masked_key, account_id, environment, key_type, created_at, expires_at } = row;
  return { id, lookup_id, key_hash, masked_key, account_id, environment, key_type, created_at, expires_at };
}

function changedAtOnce(): ApiKeyAuthError {
  return new ApiKeyAuthError(
    'ERR_KEY_CONFLICT',
    'The new key was revoked, deleted or regenerated by another request as soon as it was stored (or the store did not keep it): it no longer works; read the account again.',
    { status: 409 },
  );
}

/**
 * An insert the store did not confirm, after which no live row holds the new key: it was not
 * stored, or another call revoked or deleted it at once, or its write is still under way (a
 * COMMIT waiting for a replica), which a later issue would meet as ERR_KEY_EXISTS.
 */
function notLive(cause: ApiKeyAuthError): ApiKeyAuthError {
  return new ApiKeyAuthError(
    'ERR_STORE_UNAVAILABLE',
    'The store did not confirm the new key, and no live row holds it: it was not stored, or another request revoked or deleted it at once. Nobody holds it. Issuing again is safe: should the write still land, issue answers ERR_KEY_EXISTS, and regenerate replaces it.',
    { status: 503, expose: false, cause },
  );
}

function conflict(): ApiKeyAuthError {
  return new ApiKeyAuthError(
    'ERR_KEY_CONFLICT',
    'The key was regenerated by another request at the same time; read it again.',
    { status: 409 },
  );
}
