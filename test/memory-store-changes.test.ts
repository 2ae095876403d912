import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MemoryKeyStore } from 'keyward';
import { sampleRow } from 'keyward/store-conformance';

describe('MemoryKeyStore.modify checks a change as PostgresKeyStore does', () => {
  const thenable = { then: (resolve: (value: unknown) => void) => resolve({ status: 'locked' }) };
  const refused: [string, unknown][] = [
    ['sets the key id', { id: 'key_other' }],
    ['sets the account', { account_id: 'acct_other' }],
    ['sets the environment', { environment: 'sandbox' }],
    ['sets the created date', { created_at: new Date(0) }],
    ['sets a field rows do not have', { colour: 'red' }],
    ['sets the status to null', { status: null }],
    ['sets the key type to null', { key_type: null }],
    ['sets the stored hash to null', { key_hash: null }],
    ['sets the lookup id to null', { lookup_id: null }],
    ['sets the masked key to null', { masked_key: null }],
    ['sets soft_deleted to null', { soft_deleted: null }],
    ['gives a promise', Promise.resolve({ status: 'locked' })],
    ['gives a thenable', thenable],
    ['gives an array', [['status', 'locked']]],
    ['gives a string', 'locked'],
    ['sets soft_deleted to the text "false", which would read as true', { soft_deleted: 'false' }],
    ['sets a time as text', { last_used_at: '2020-01-01T00:00:00Z' }],
    ['sets a time as a number', { expires_at: 1_700_000_000_000 }],
    ['sets an Invalid Date', { revoked_at: new Date(Number.NaN) }],
    ['sets the status to a number', { status: 5 }],
    ['sets the webhook URL to a URL object', { webhook_url: new URL('https://hooks.example.com/') }],
  ];

  it.each(refused)('refuses a change that %s with a TypeError and writes nothing', async (_what, patch) => {
    const store = new MemoryKeyStore();
    const row = sampleRow();
    await store.insert(row);

    await expect(store.modify(row.id, () => patch as never)).rejects.toThrow(TypeError);
    expect(store.allRows()).toEqual([row]);
  });

  it('writes the fields a change may set and leaves those given as undefined', async () => {
    const store = new MemoryKeyStore();
    const row = sampleRow();
    await store.insert(row);

    const written = await store.modify(row.id, () => ({ status: 'locked', webhook_url: undefined }));

    expect(written).toEqual({ ...row, status: 'locked' });
    expect(store.allRows()).toEqual([{ ...row, status: 'locked' }]);
  });

  it('writes null to the fields that may be unset', async () => {
    const store = new MemoryKeyStore();
    const row = { ...sampleRow(), expires_at: new Date('2030-01-01T00:00:00Z'), webhook_url: 'https://hooks.example/in' };
    await store.insert(row);

    const written = await store.modify(row.id, () => ({ expires_at: null, webhook_url: null, last_used_at: null }));

    expect(written).toEqual({ ...row, expires_at: null, webhook_url: null, last_used_at: null });
  });
});

describe('MemoryKeyStore hands out rows of their own', () => {
  it('copies every Date of a row, in a field rows do not name as in the time columns', async () => {
    const store = new MemoryKeyStore();
    const row = { ...sampleRow(), reviewed_at: new Date('2026-01-01T00:00:00Z') };
    await store.insert(row);

    const served = (await store.findByLookupId(row.lookup_id)) as typeof row;
    served.reviewed_at.setTime(0);
    served.created_at.setTime(0);

    expect(store.allRows()).toEqual([row]);
  });

  it('copies a Date under a symbol key and a Date of another realm too', async () => {
    const store = new MemoryKeyStore();
    const reviewed = Symbol('reviewed');
    const row = { ...sampleRow(), expires_at: runInNewContext('new Date(2e12)') as Date, [reviewed]: new Date(1e12) };
    await store.insert(row);
    row[reviewed].setTime(5);

    const served = (await store.findByLookupId(row.lookup_id)) as typeof row;
    served[reviewed].setTime(7);
    served.expires_at!.setTime(4e12);

    const stored = store.allRows()[0] as typeof row;
    expect([stored[reviewed].getTime(), stored.expires_at!.getTime()]).toEqual([1e12, 2e12]);
    expect(Object.getPrototypeOf(stored.expires_at)).toBe(Date.prototype);
  });

  it('never turns a time column that only a polluted Object.prototype holds into a field', async () => {
    const store = new MemoryKeyStore();
    const { expires_at: _left, ...rowWithoutExpiry } = sampleRow();
    await store.insert(rowWithoutExpiry as never);

    Object.defineProperty(Object.prototype, 'expires_at', { value: new Date(0), configurable: true, writable: true });
    try {
      const served = (await store.findByLookupId(rowWithoutExpiry.lookup_id))!;
      expect(Object.hasOwn(served, 'expires_at')).toBe(false);
    } finally {
      delete (Object.prototype as Record<string, unknown>).expires_at;
    }
  });
});
