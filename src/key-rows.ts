import { ApiKeyAuthError } from './errors.js';
import type { Environment } from './key-format.js';
import { assertNotAnApiKey, isPossibleKeyId } from './key-manager-arguments.js';
import type { ApiKeyRow, KeyStore } from './store.js';

/** The key manager's reads of its store, each checked to hand back the row asked for. */
export interface KeyRows {
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

/** The checked reads of `store`. */
export function keyRows(store: KeyStore): KeyRows {
  // Every row the store finds is checked to be the one asked for: a store whose collation
  // ignores letter case (citext, say) would hand `acct_aB` the key of `acct_Ab`, and a portal
  // would then show, or regenerate, another account's key. The conformance suite checks this
  // too; these checks keep a store that fails it from reaching another account.
  const byId = async (keyId: string): Promise<ApiKeyRow | null> => {
    assertNotAnApiKey(keyId, 'keyId');
    const row = await store.findById(keyId);
    return row?.id === keyId ? row : null;
  };
  const liveOf = async (accountId: string, environment: Environment): Promise<ApiKeyRow | null> => {
    const row = await store.findLive(accountId, environment);
    return row?.account_id === accountId && row.environment === environment ? row : null;
  };
  const modifyExact: KeyStore['modify'] = async (keyId, change) => {
    assertNotAnApiKey(keyId, 'keyId');
    return store.modify(keyId, (current) => (current.id === keyId ? change(current) : null));
  };

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

  return { byId, liveOf, modifyExact, liveRow, lockedRow };
}

export function notFound(): ApiKeyAuthError {
  return new ApiKeyAuthError('ERR_KEY_NOT_FOUND', 'No live key with this id.', { status: 404 });
}
