import { ApiKeyAuthError } from './errors.js';
import type { Environment } from './key-format.js';
import { assertNotAnApiKey, isPossibleKeyId } from './key-manager-arguments.js';
import { showsLive } from './row-check.js';
import type { ApiKeyRow, KeyStore } from './store.js';

/**
 * The key manager's calls of its store: reads checked to hand back the row asked for, and
 * every throw of the store given to the app as an `ApiKeyAuthError` (see {@link storeError}).
 */
export interface KeyRows {
  /** {@link KeyStore.insert}. */
  insert: (row: ApiKeyRow) => Promise<void>;
  /** The row with this id, or null. */
  byId: (keyId: string) => Promise<ApiKeyRow | null>;
  /** The account's live row in an environment, or null. */
  liveOf: (accountId: string, environment: Environment) => Promise<ApiKeyRow | null>;
  /** {@link KeyStore.modify}, with a change that sees only the row with this id. */
  modifyExact: KeyStore['modify'];
  /** The key's live row; `ERR_KEY_NOT_FOUND` when there is none. */
  liveRow: (keyId: string) => Promise<ApiKeyRow>;
  /** The key's live row read under its lock, or null. */
  lockedRow: (keyId: string) => Promise<ApiKeyRow | null>;
}

/** The checked calls of `store`. */
export function keyRows(store: KeyStore): KeyRows {
  /** Runs one call of the store, giving what it throws as {@link storeError} does. */
  const call = async <T>(method: StoreMethod, run: () => T | Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw storeError(method, error);
    }
  };

  // Every row the store finds is checked to be the one asked for: a store whose collation
  // ignores letter case (citext, say) would hand `acct_aB` the key of `acct_Ab`, and a portal
  // would then show, or regenerate, another account's key. The conformance suite checks this
  // too; these checks keep a store that fails it from reaching another account.
  const byId = async (keyId: string): Promise<ApiKeyRow | null> => {
    assertNotAnApiKey(keyId, 'keyId');
    // The row's fields are read inside the call: a getter of the store's that throws is its fault.
    return call('findById', async () => {
      const row = await store.findById(keyId);
      return row?.id === keyId ? row : null;
    });
  };
  const liveOf = async (accountId: string, environment: Environment): Promise<ApiKeyRow | null> =>
    call('findLive', async () => {
      const row = await store.findLive(accountId, environment);
      return row?.account_id === accountId && row.environment === environment ? row : null;
    });
  // What the change throws comes back from the store as it was thrown: the manager's own
  // answers (a conflict, a password that does not open) are ApiKeyAuthErrors, so they go on.
  const modifyExact: KeyStore['modify'] = async (keyId, change) => {
    assertNotAnApiKey(keyId, 'keyId');
    return call('modify', () => store.modify(keyId, (current) => (current.id === keyId ? change(current) : null)));
  };
  const insert = (row: ApiKeyRow) => call('insert', () => store.insert(row));

  // A key id that could never have been stored is unknown without asking the store, which
  // might fail on it (PostgreSQL refuses NUL) instead of answering "no such key".
  const liveRow = async (keyId: string): Promise<ApiKeyRow> => {
    if (!isPossibleKeyId(keyId)) throw notFound();
    const row = await byId(keyId);
    if (!row) throw notFound();
    return row;
  };

  /**
   * The key's live row, read through modify, which locks it: a write still under way (a
   * COMMIT waiting for a synchronous replica, say, which a plain read would not see yet) is
   * waited for, so what it reads is final.
   */
  const lockedRow = async (keyId: string): Promise<ApiKeyRow | null> => {
    let locked = null as ApiKeyRow | null;
    await modifyExact(keyId, (row) => {
      locked = row;
      return null;
    });
    return locked;
  };

  return { insert, byId, liveOf, modifyExact, liveRow, lockedRow };
}

/**
 * A row the app read itself and hands back (for a webhook delivery), checked as a read by id
 * would find it: a row whose lifecycle fields do not show its key live (see
 * {@link showsLive}) names no live key, whatever else it holds.
 *
 * @throws {ApiKeyAuthError} `ERR_KEY_NOT_FOUND`.
 */
export function assertLiveRow(row: ApiKeyRow): void {
  if (!showsLive(row)) throw notFound();
}

export function notFound(): ApiKeyAuthError {
  return new ApiKeyAuthError('ERR_KEY_NOT_FOUND', 'No live key with this id.', { status: 404 });
}

export type StoreMethod = 'insert' | 'findById' | 'findLive' | 'modify';

/**
 * What the manager gives the app for a throw of its store. An `ApiKeyAuthError` goes on as it
 * is: a taken key (`ERR_KEY_EXISTS`), a refusal (`ERR_STORE_REFUSED`), an outage the store
 * named (`ERR_STORE_UNAVAILABLE`). Anything else (a driver's own error, a string, undefined)
 * is an outage too, `ERR_STORE_UNAVAILABLE` with what was thrown as its cause, as the
 * authenticator answers it with 503: so a write it failed is checked like any other, and the
 * app never meets a store's raw error. The message names the method only: a driver's error
 * can quote the statement's values.
 */
export function storeError(method: StoreMethod, thrown: unknown): ApiKeyAuthError {
  if (isApiKeyAuthError(thrown)) return thrown;
  return new ApiKeyAuthError('ERR_STORE_UNAVAILABLE', `The key store's ${method} failed; what it threw is this error's cause.`, { status: 503, expose: false, cause: thrown });
}

/** `instanceof ApiKeyAuthError`, false for a thrown Proxy whose traps throw. */
function isApiKeyAuthError(value: unknown): value is ApiKeyAuthError {
  try {
    return value instanceof ApiKeyAuthError;
  } catch {
    return false;
  }
}
