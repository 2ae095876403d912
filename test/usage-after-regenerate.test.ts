import { describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore, type ApiKeyRow, type KeyUsage } from 'keyward';
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

  it("keeps the new key's first use when an old-key request that read the row before the regenerate passes after it", async () => {
    // The old key's lookup reads the row at once but answers only when the test lets it.
    class HeldStore extends MemoryKeyStore {
      held: { lookupId: string; release?: () => void } | undefined;
      override findByLookupId(lookupId: string): ApiKeyRow | null | Promise<ApiKeyRow | null> {
        const row = super.findByLookupId(lookupId);
        const held = this.held;
        if (held?.lookupId !== lookupId) return row;
        return new Promise((resolve) => (held.release = () => resolve(row)));
      }
    }
    const store = new HeldStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const auth = createApiKeyAuth({ store, environments: ['sandbox'] });
    try {
      const { key, card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
      expect((await auth.authenticate({ headers: { authorization: `Bearer ${key}` } })).ok).toBe(true);
      await auth.flushUsage();
      await store.modify(card.keyId, () => ({ last_used_at: null }));

      store.held = { lookupId: key.slice(8, 20) };
      const late = auth.authenticate({ headers: { authorization: `Bearer ${key}` } });
      const regenerated = await manager.regenerate(card.keyId);
      expect((await auth.authenticate({ headers: { authorization: `Bearer ${regenerated.key}` } })).ok).toBe(true);
      store.held.release!();
      expect((await late).ok).toBe(true);

      await auth.flushUsage();
      expect((await manager.describe(card.keyId))?.lastUsedAt).toBeInstanceOf(Date);
    } finally {
      await auth.close();
    }
  });

  it('keeps at most two waiting uses of a key however often it is regenerated while the store keeps failing', async () => {
    class FailingUsage extends MemoryKeyStore {
      batches: KeyUsage[][] = [];
      override async recordUsage(usage: KeyUsage[]): Promise<void> {
        this.batches.push(usage);
        throw new Error('usage table locked');
      }
    }
    const store = new FailingUsage();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const auth = createApiKeyAuth({ store, argon2Pool: false, logger: { warn: () => {} } });
    try {
      let { key, card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
      let lastUsed = '';
      // The uses each flush sends (in one call or, once a call has failed, in smaller ones).
      const sent: KeyUsage[][] = [];
      for (let round = 0; round < 8; round++) {
        expect((await auth.authenticate({ headers: { authorization: `Bearer ${key}` } })).ok).toBe(true);
        lastUsed = key.slice(8, 20);
        const before = store.batches.length;
        await auth.flushUsage();
        sent.push(store.batches.slice(before).flat());
        ({ key, card } = await manager.regenerate(card.keyId));
      }
      expect(sent.map((uses) => uses.length)).toEqual([1, 2, 2, 2, 2, 2, 2, 2]);
      // The latest key's use is still among them, for the store to record once it recovers.
      expect(sent.at(-1)!.map((use) => use.lookup_id)).toContain(lastUsed);
    } finally {
      await auth.close();
    }
  });
});
