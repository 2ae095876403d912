import { describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore } from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';

describe('last_used_at across a regenerate', () => {
  it('never stamps the new key with a use of the old key still waiting to be flushed', async () => {
    const store = new MemoryKeyStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const auth = createApiKeyAuth({ store });
    try {
      const { key, card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
      const result = await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });
      expect(result.ok).toBe(true);

      const regenerated = await manager.regenerate(card.keyId);
      await auth.flushUsage();
      expect((await manager.describe(card.keyId))?.lastUsedAt).toBeNull();

      await auth.authenticate({ headers: { authorization: `Bearer ${regenerated.key}` } });
      await auth.flushUsage();
      expect((await manager.describe(card.keyId))?.lastUsedAt).toBeInstanceOf(Date);
    } finally {
      await auth.close();
    }
  });
});
