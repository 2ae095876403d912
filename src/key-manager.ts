import { describeVerbs } from './describe-verbs.js';
import { issueVerbs, type IssuedKey } from './issue-verbs.js';
import type { KeyCard } from './key-card.js';
import type { Environment } from './key-format.js';
import type { IssueKeyInput } from './key-manager-arguments.js';
import { resolveKeyManagerOptions, type KeyManagerOptions } from './key-manager-options.js';
import { keyRows } from './key-rows.js';
import { rowWriter } from './row-write.js';
import type { KeyStatusInput } from './statuses.js';
import { statusVerbs } from './status-verbs.js';
import type { ApiKeyRow, KeyStore } from './store.js';
import { webhookVerbs } from './webhook-verbs.js';
import type { WebhookSettingsInput } from './webhook-settings.js';

// The types of the manager's signature are defined beside the code that uses them; index.ts
// exports them from here, with the manager.
export type { IssuedKey, IssueKeyInput, KeyCard, KeyManagerOptions };

/**
 * The portal's verbs over a {@link KeyStore}. Whatever the store throws that is not an
 * `ApiKeyAuthError` (a driver's own error, a string) counts as `ERR_STORE_UNAVAILABLE` (503),
 * with what was thrown as the cause: what the store does reaches the caller as an
 * `ApiKeyAuthError` only (an argument of the app's own that throws as it is read, such as a
 * Proxy, rejects with what it threw). The manager does not bound how long a store call takes:
 * a write given up on might still land.
 *
 * Every write checks the row the store gives back (for `issue`, the new row read back by id)
 * and fails with `ERR_STORED_ROW_INVALID` (500), naming the fields, when it does not hold what
 * was written, or when `modify` gave a row back without calling `change`: the store's write is
 * faulty, and the change is not reported as made. A new row `issue` does not return is revoked.
 */
export interface KeyManager {
  /**
   * Creates the account's key for an environment and returns its cleartext, once.
   *
   * The new row is read back by id, to check that the store holds what was written (when that
   * read fails after a confirmed insert, the key is returned unchecked). When the store fails
   * with `ERR_STORE_UNAVAILABLE`, that read also tells whether the row landed after all (its
   * answer lost): if it did, the key is returned as usual.
   *
   * @throws {ApiKeyAuthError} `ERR_KEY_EXISTS` when a live key exists: regenerate it instead;
   *   `ERR_INVALID_ARGUMENT` (400) for an account id, environment, key type, status or expiry
   *   date it cannot use, or a property name it does not know (a misspelt `expires_at` would
   *   otherwise issue a key that never expires), before anything is written;
   *   `ERR_STORE_UNAVAILABLE` (503) when the store failed, with a message saying that the
   *   outcome is unknown when the row could not be read again either (issuing again is safe);
   *   the store's `ERR_STORE_REFUSED` (500), as it is, when its database refused the row;
   *   `ERR_KEY_CONFLICT` (409) when another call revoked, deleted or regenerated the new key
   *   before it was read back; `ERR_STORED_ROW_INVALID` (500) when the row read back does not
   *   hold what was written.
   */
  issue(input: IssueKeyInput): Promise<IssuedKey>;
  /**
   * The card of a live key, or null when there is none. Every key-id method treats a value
   * that cannot be a key id (not a string, not well-formed, control characters, over 200
   * characters) as an unknown id without asking the store.
   */
  describe(keyId: string): Promise<KeyCard | null>;
  /**
   * The card of an account's live key in an environment, or null (the empty state).
   *
   * @throws {ApiKeyAuthError} `ERR_INVALID_ARGUMENT` (400) for an account id `issue` would refuse.
   */
  describeAccount(accountId: string, environment: Environment): Promise<KeyCard | null>;
  /**
   * Replaces the key's secret in one atomic store step: the old key fails from the moment
   * this returns. Key id, created date and webhook settings stay; `last_used_at` resets to
   * never. `expired` and `revoqued` come back `allowed` (and an expiry date that has passed is
   * cleared); `suspended`, `locked`, `pending_validation`, `rejected` and unknown values are
   * kept, so regenerating never lifts a suspension. An expiry date still in the future is kept.
   *
   * Two regenerates of the same key at once: the store step compares the lookup id read before
   * hashing, so exactly one wins and the other gets `ERR_KEY_CONFLICT` and no key (its
   * cleartext was never stored and never works).
   *
   * When the store step fails with `ERR_STORE_UNAVAILABLE`, the row is read again under its
   * lock: if it holds this call's new key (the COMMIT landed, its answer did not), the key is
   * returned as usual; if it still holds the old one, nothing changed, and the call fails
   * saying so (the store's error is its `cause`).
   *
   * @throws {ApiKeyAuthError} `ERR_KEY_NOT_FOUND`, or `ERR_KEY_CONFLICT` (409) when a concurrent
   *   regenerate of the same key won; `ERR_STORE_UNAVAILABLE` (503) when the store failed,
   *   with a message saying that the outcome is unknown when the row could not be read again
   *   either (regenerating again is safe); the store's `ERR_STORE_REFUSED` (500), as it is,
   *   when its database refused the write; `ERR_STORED_ROW_INVALID` (500) for a row the
   *   gateways refuse as invalid (an unknown environment, say), which is left as it is, or a
   *   row given back that does not hold what was written (the new key is then not returned).
   */
  regenerate(keyId: string): Promise<IssuedKey>;
  /** Sets `revoked_at`: the key then answers the generic 401. */
  revoke(keyId: string): Promise<void>;
  /** Sets `soft_deleted`: the key then answers the generic 401. */
  softDelete(keyId: string): Promise<void>;
  /**
   * Changes the status value; `allowed` is the only one that authenticates. `revoked`, the
   * alias of `revoqued`, is stored as `revoqued`.
   *
   * @throws {ApiKeyAuthError} `ERR_INVALID_ARGUMENT` (400) for a value that is not one of the
   *   seven statuses or the alias (checked before the store is touched); `ERR_KEY_NOT_FOUND`.
   */
  setStatus(keyId: string, status: KeyStatusInput): Promise<KeyCard>;
  /**
   * Saves the webhook form. The URL is replaced; the username is set (a string), cleared
   * (`null` or `''`) or kept (left out); the password sealed and set (a string), cleared
   * (`null`) or kept (left out). Every field is checked
   * before anything is written. A password is sealed for this key and URL, so a kept one is
   * resealed when the URL changes, from the row as the store hands it over (a save racing
   * this one cannot leave a password sealed for another URL).
   *
   * @throws {ApiKeyAuthError} `ERR_WEBHOOK_INVALID` (400) for a bad URL, username or password,
   *   or a field name other than `url`, `username` and `password` (with a did-you-mean), and
   *   (409) when a kept username breaks those rules and a password goes with it (written
   *   there by hand: send it again);
   *   `ERR_OPTIONS_INVALID` when a password is given but the manager has no `webhookKeys`;
   *   `ERR_WEBHOOK_SECRET` (500) when a kept password must move to a new URL and the manager has
   *   no `webhookKeys`, and (409, exposed) when a kept password does not open for this key and
   *   URL (send it again instead);
   *   `ERR_KEY_NOT_FOUND`; the store's `ERR_STORE_REFUSED` (500), as it is, when its database
   *   refused the settings (a check constraint of the operator's, say).
   */
  setWebhook(keyId: string, settings: WebhookSettingsInput): Promise<KeyCard>;
  /** Turns webhooks off: URL, username and password are all cleared. */
  clearWebhook(keyId: string): Promise<KeyCard>;
  /**
   * The `Authorization` header value for a webhook delivery of this key (a key id, or a row
   * the gateway already read), or null when no Basic-auth password is configured.
   *
   * @throws {ApiKeyAuthError} `ERR_WEBHOOK_SECRET` when the password cannot be opened (for
   *   instance its key id was dropped from `webhookKeys`); `ERR_KEY_NOT_FOUND` for an unknown id,
   *   and for a row whose lifecycle fields do not show its key live (`soft_deleted` exactly
   *   false, `revoked_at` null) or that is no row with a key id.
   */
  webhookAuthorization(key: string | ApiKeyRow): Promise<string | null>;
  /**
   * Re-seals the key's webhook password under the current sealing key, for key rotation.
   *
   * @returns true when it was re-sealed, false when there is nothing to do (no password, or
   *   already under the current key, or changed meanwhile by another write).
   * @throws {ApiKeyAuthError} `ERR_WEBHOOK_SECRET` when the password does not open, whichever
   *   key it is under (so a rotation sweep finds every row whose deliveries would fail);
   *   `ERR_KEY_NOT_FOUND`.
   */
  resealWebhookPassword(keyId: string): Promise<boolean>;
}

/**
 * Creates the key manager a portal backend uses to issue, describe, rotate and retire keys.
 *
 * @param given - the options: see {@link KeyManagerOptions}; only `store` is required.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` for a missing store or a bad option,
 *   including sealing keys that are not 32 bytes or a `current` id that is not among them.
 * @example
 * ```ts
 * const manager = createKeyManager({
 *   store,
 *   webhookKeys: { current: 'k1', keys: { k1: Buffer.from(process.env.WEBHOOK_KEY_K1!, 'base64') } },
 * });
 * const { key, card } = await manager.issue({ accountId: 'acct_42', environment: 'sandbox' });
 * ```
 */
export function createKeyManager(given: KeyManagerOptions): KeyManager {
  const options = resolveKeyManagerOptions(given);
  const rows = keyRows(options.store);
  const writer = rowWriter(rows);
  const { issue, regenerate } = issueVerbs(options, rows);
  const { describe, describeAccount } = describeVerbs(options, rows);
  const { revoke, softDelete, setStatus } = statusVerbs(options, writer);
  const { setWebhook, clearWebhook, webhookAuthorization, resealWebhookPassword } = webhookVerbs(
    options,
    rows,
    writer,
  );
  return {
    issue,
    describe,
    describeAccount,
    regenerate,
    revoke,
    softDelete,
    setStatus,
    setWebhook,
    clearWebhook,
    webhookAuthorization,
    resealWebhookPassword,
  };
}
