import { toCard, type KeyCard } from './key-card.js';
import { checkedStatus } from './key-manager-arguments.js';
import type { ResolvedKeyManagerOptions } from './key-manager-options.js';
import type { RowWriter } from './row-write.js';
import type { KeyStatusInput } from './statuses.js';

/**
 * `KeyManager.revoke`, `KeyManager.softDelete` and `KeyManager.setStatus`: the verbs that
 * change whether a key authenticates.
 */
export function statusVerbs({ now }: ResolvedKeyManagerOptions, { write, change }: RowWriter) {
  return {
    async revoke(keyId: string): Promise<void> {
      await write(keyId, { revoked_at: now() }, 'revoke');
    },

    async softDelete(keyId: string): Promise<void> {
      await write(keyId, { soft_deleted: true }, 'softDelete');
    },

    async setStatus(keyId: string, given: KeyStatusInput): Promise<KeyCard> {
      const status = checkedStatus(given);
      const at = now();
      return toCard(await change(keyId, { status }, 'setStatus'), at);
    },
  };
}
