/**
 * ApiKeyAuthError across copies of keyward: an app that both imports and requires keyward
 * loads its ESM and its CommonJS build, two classes of one name. Here a second copy of the
 * errors module (a query string makes the loader evaluate it again) stands for the other build.
 */
import { describe, expect, it } from 'vitest';
import { ApiKeyAuthError, createKeyManager, MemoryKeyStore, type ApiKeyRow } from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';

const anotherCopy = '../src/errors.js?another-copy';
const other = (await import(/* @vite-ignore */ anotherCopy)) as typeof import('../src/errors.js');

describe('ApiKeyAuthError from another copy of keyward', () => {
  it('is a separate class here, as the other build is', () => {
    expect(other.ApiKeyAuthError).not.toBe(ApiKeyAuthError);
  });

  it('counts as an ApiKeyAuthError of this copy, and the other way round; nothing else does', () => {
    const fromOther = new other.ApiKeyAuthError('ERR_KEY_EXISTS', 'exists', { status: 409 });
    expect(fromOther instanceof ApiKeyAuthError).toBe(true);
    expect(new ApiKeyAuthError('ERR_INTERNAL', 'x') instanceof other.ApiKeyAuthError).toBe(true);
    expect(Object.assign(new Error('look-alike'), { name: 'ApiKeyAuthError', code: 'ERR_KEY_EXISTS' }) instanceof ApiKeyAuthError).toBe(false);
    expect((null as unknown) instanceof ApiKeyAuthError).toBe(false);
  });

  it('leaves a subclass checked by its prototype chain', () => {
    class StoreError extends ApiKeyAuthError {}
    expect(new StoreError('ERR_STORE_UNAVAILABLE', 'down') instanceof StoreError).toBe(true);
    expect(new ApiKeyAuthError('ERR_STORE_UNAVAILABLE', 'down') instanceof StoreError).toBe(false);
    expect(new StoreError('ERR_STORE_UNAVAILABLE', 'down') instanceof ApiKeyAuthError).toBe(true);
  });

  it('lets the key manager recover a lost answer from a store that throws the other copy\'s error', async () => {
    class OtherCopyStore extends MemoryKeyStore {
      override async insert(row: ApiKeyRow): Promise<void> {
        await super.insert(row);
        throw new other.ApiKeyAuthError('ERR_STORE_UNAVAILABLE', 'answer lost', { status: 503 });
      }
    }
    const store = new OtherCopyStore();

    const issued = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_copy', environment: 'sandbox' });

    expect(store.allRows().map((row) => row.id)).toEqual([issued.card.keyId]);
  });
});
