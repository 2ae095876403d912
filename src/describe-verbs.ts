import { toCard, type KeyCard } from './key-card.js';
import type { Environment } from './key-format.js';
import { assertAccountId, assertEnvironment, isPossibleKeyId } from './key-manager-arguments.js';
import type { ResolvedKeyManagerOptions } from './key-manager-options.js';
import { storeError, type KeyRows, type StoreMethod } from './key-rows.js';
import type { ApiKeyRow } from './store.js';

/** `KeyManager.describe` and `KeyManager.describeAccount`: the verbs that read a key's card. */
export function describeVerbs({ now }: ResolvedKeyManagerOptions, { byId, liveOf }: KeyRows) {
  return {
    async describe(keyId: string): Promise<KeyCard | null> {
      if (!isPossibleKeyId(keyId)) return null;
      const at = now();
      const row = await byId(keyId);
      return row ? storedCard(row, at, 'findById') : null;
    },

    async describeAccount(accountId: string, environment: Environment): Promise<KeyCard | null> {
      assertAccountId(accountId);
      assertEnvironment(environment);
      const at = now();
      const row = await liveOf(accountId, environment);
      return row ? storedCard(row, at, 'findLive') : null;
    },
  };
}

/**
 * The card of a row as the store handed it over: a field of the store's that throws when read
 * (a getter, a Proxy) is the store's failure, given as every other one is.
 */
function storedCard(row: ApiKeyRow, at: Date, method: StoreMethod): KeyCard {
  try {
    return toCard(row, at);
  } catch (error) {
    throw storeError(method, error);
  }
}
