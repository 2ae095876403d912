import { toCard, type KeyCard } from './key-card.js';
import type { Environment } from './key-format.js';
import { assertAccountId, assertEnvironment, isPossibleKeyId } from './key-manager-arguments.js';
import type { ResolvedKeyManagerOptions } from './key-manager-options.js';
import type { KeyRows } from './key-rows.js';

/** `KeyManager.describe` and `KeyManager.describeAccount`: the verbs that read a key's card. */
export function describeVerbs({ now }: ResolvedKeyManagerOptions, { byId, liveOf }: KeyRows) {
  return {
    async describe(keyId: string): Promise<KeyCard | null> {
      if (!isPossibleKeyId(keyId)) return null;
      const at = now();
      const row = await byId(keyId);
      return row ? toCard(row, at) : null;
    },

    async describeAccount(accountId: string, environment: Environment): Promise<KeyCard | null> {
      assertAccountId(accountId);
      assertEnvironment(environment);
      const at = now();
      const row = await liveOf(accountId, environment);
      return row ? toCard(row, at) : null;
    },
  };
}
