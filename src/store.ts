import type { Environment } from './key-format.js';

/**
 * One API key as stored. Field names are the column names of the portal's backend, so a row
 * maps one to one onto a table. The cleartext key is never part of it.
 */
export interface ApiKeyRow {
  /** Key id: public, stable across regenerate, safe to log and to quote to support. */
  id: string;
  /** The merchant account the key belongs to. */
  account_id: string;
  /**
   * What the key may call, matched exactly against a route's `keyType`. `issue` writes its
   * input's `keyType`, else the manager's `defaultKeyType` (`sms_api` unless set); rows
   * written by another issuer may hold any non-empty text.
   */
  key_type: string;
  /** Raw status value; see `KeyStatus`. Anything unknown fails closed. */
  status: string | null;
  environment: Environment;
  /** First-issue time; regenerate keeps it. */
  created_at: Date;
  /** Last successful authentication, or null for never. */
  last_used_at: Date | null;
  /**
   * Hard expiry, or null for none. Past it the key answers 403 `expired`. keyward writes a
   * Date. Reading a row, it also takes text with a date, a time and a zone (ISO 8601,
   * RFC 3339, PostgreSQL's timestamptz text), as a driver may hand over; the type stays
   * `Date | null`, so `insert`, `modify` and the key manager's cards never carry text, and a
   * store typed over such a driver casts its rows.
   */
  expires_at: Date | null;
  soft_deleted: boolean;
  revoked_at: Date | null;
  /** Public 12-character part of the current key that finds this row. Changes on regenerate. */
  lookup_id: string;
  /** Argon2id PHC string of the current key's secret part. */
  key_hash: string;
  /** Display form of the current key, such as `sk_live_kqz3…oU0i`. */
  masked_key: string;
  /** HTTPS URL that delivery receipts are posted to, or null when webhooks are off. */
  webhook_url: string | null;
  webhook_basic_auth_username: string | null;
  /** The webhook password sealed with AES-256-GCM; never the cleartext. */
  webhook_basic_auth_password_sealed: string | null;
}

/**
 * The fields a lifecycle change may set. Identity fields never change. A field given as
 * `undefined` is left as it is, so each says `| undefined` (which an app compiled with
 * `exactOptionalPropertyTypes` needs in order to pass one so).
 */
export type ApiKeyRowChange = {
  [Field in Exclude<keyof ApiKeyRow, IdentityField>]?: ApiKeyRow[Field] | undefined;
};

/** The fields that name a key for good: no change may set them. */
type IdentityField = 'id' | 'account_id' | 'environment' | 'created_at';

/**
 * One coalesced usage record: the key with this lookup id was used successfully at `used_at`.
 * The lookup id names the key that was used, not just the row: a write that arrives after a
 * regenerate must not stamp the new key with the old key's use.
 */
export interface KeyUsage {
  id: string;
  lookup_id: string;
  used_at: Date;
}

/**
 * What `recordUsage` may resolve to instead of nothing: the uses it left unwritten on purpose,
 * to be sent again with the next flush. A store that returns nothing (or anything else) has
 * written, or rightly skipped, every use it was given.
 */
export interface RecordUsageResult {
  /**
   * Uses of the batch the store did not write this time and did not skip for good: their
   * rows were locked by another write, which the store chose not to wait for. Only uses of
   * the batch given count (matched by `id` and `lookup_id`); any other entry is ignored.
   */
  deferred: readonly KeyUsage[];
}

/**
 * Where keys live. Implement it to back keyward with your own database; the exported store
 * conformance suite checks an implementation the way keyward's own stores are checked.
 *
 * A row is *live* while `soft_deleted` is false and `revoked_at` is null. Every read below
 * returns live rows only, and `modify` touches live rows only. Methods signal a store fault by
 * throwing (or rejecting); the authenticator turns that into 503. Throw an outage as
 * `ERR_STORE_UNAVAILABLE`: the key manager reads a row again after a write that failed with
 * it, whose outcome may be unknown, and treats anything thrown that is not an
 * `ApiKeyAuthError` the same way (it becomes the cause of an `ERR_STORE_UNAVAILABLE`). Any
 * other `ApiKeyAuthError` is passed on as it is: throw `ERR_STORE_REFUSED` for a write the
 * database refused (nothing written, and repeating it is refused again). Keep a row's values
 * out of these errors, their `cause` included: apps log them whole.
 *
 * Every method must settle (resolve or reject) in bounded time: bound each statement. The
 * authenticator stops waiting for `findByLookupId` after `storeTimeoutMs`, but the key manager
 * waits for its calls as long as they take, since a write it gave up on might still land after
 * it had reported it not written.
 */
export interface KeyStore {
  /**
   * The live row whose current key has this lookup id, or null. It runs on every request, so
   * a store that holds the row in memory may return it directly instead of a promise: the
   * authenticator then decides without waiting, and skips the store timeout, which only
   * bounds waiting.
   */
  findByLookupId(lookupId: string): ApiKeyRow | null | Promise<ApiKeyRow | null>;
  /** The live row of an account in an environment, or null. */
  findLive(accountId: string, environment: Environment): Promise<ApiKeyRow | null>;
  /** The live row with this key id, or null. */
  findById(id: string): Promise<ApiKeyRow | null>;
  /**
   * Adds a row. A row whose `expires_at` has passed is still live: keep it, and find it, until
   * it is revoked or soft-deleted (never let the database drop it at its expiry).
   *
   * @throws {ApiKeyAuthError} `ERR_KEY_EXISTS` (409) when the account already has a live key
   *   in that environment (the store enforces it, so two racing issues cannot both succeed),
   *   or when any row, live or dead, holds the id or the lookup id.
   */
  insert(row: ApiKeyRow): Promise<void>;
  /**
   * Atomically reads the live row with this id, asks `change` for the fields to set, and
   * writes them, with no other write of that row in between: no `modify`, `insert` or
   * `recordUsage`, from this instance or any other sharing the storage (a transaction with
   * row locking in SQL; a lock held in one process is not enough). It writes the returned
   * fields only, never the whole row it read, so a use recorded meanwhile is kept.
   * `change` may throw to abort; nothing is written then. A store that retries a
   * conflicting transaction may call `change` again with the row as it then is; the fields of
   * the last call are the ones written.
   *
   * @returns the row as written, or null when no live row has that id or `change` returned
   *   null.
   * @throws {ApiKeyAuthError} `ERR_KEY_EXISTS` (409), writing nothing, when the change gives a
   *   `lookup_id` another row holds, live or dead.
   */
  modify(
    id: string,
    change: (current: ApiKeyRow) => ApiKeyRowChange | null,
  ): Promise<ApiKeyRow | null>;
  /**
   * Records successful uses in one batch. A timestamp never moves `last_used_at` backwards;
   * rows that are no longer live, or whose current lookup id is not the one used (the key was
   * regenerated since), are skipped. It must settle (resolve or reject) in bounded time: the
   * authenticator gives up waiting after `storeTimeoutMs`, but sends no other batch until
   * this one has settled, so a call that never does stops `last_used_at` for the process.
   *
   * The authenticator sends at most 1,000 uses per call, one call at a time, and a failed
   * call costs only its own uses: they are sent again with the next flush. A store may also
   * leave the uses whose rows another write holds locked, rather than wait for that write,
   * and name them in {@link RecordUsageResult.deferred}: they are sent again too, and nothing
   * is logged. Resolving to nothing means every use was written or skipped.
   */
  recordUsage(usage: readonly KeyUsage[]): Promise<void | RecordUsageResult>;
}
