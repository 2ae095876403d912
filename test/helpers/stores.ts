import { MemoryKeyStore, type ApiKeyRow, type KeyStore } from 'keyward';

/** A MemoryKeyStore that counts calls, and can be told to fail or hang. */
export class InstrumentedStore extends MemoryKeyStore {
  lookups = 0;
  usageWrites = 0;
  failure: Error | undefined;
  hang = false;
  /** Replaces what findByLookupId returns, for malformed-row tests. */
  override: ((row: ApiKeyRow | null) => unknown) | undefined;

  override async findByLookupId(lookupId: string): Promise<ApiKeyRow | null> {
    this.lookups++;
    if (this.hang) return new Promise(() => {});
    if (this.failure) throw this.failure;
    const row = await super.findByLookupId(lookupId);
    return this.override ? (this.override(row) as ApiKeyRow | null) : row;
  }

  /** Clears every fault a test injected: failure, hang and override. */
  heal(): void {
    this.failure = undefined;
    this.hang = false;
    this.override = undefined;
  }

  override async recordUsage(usage: Parameters<KeyStore['recordUsage']>[0]): Promise<void> {
    this.usageWrites++;
    return super.recordUsage(usage);
  }
}

/** Inserts a row as it is, bypassing the manager: for rows the manager would never write. */
export async function insertRawRow(store: KeyStore, row: Partial<ApiKeyRow> & Pick<ApiKeyRow, 'id' | 'lookup_id' | 'key_hash'>): Promise<void> {
  await store.insert({
    account_id: `acct_${row.id}`,
    key_type: 'sms_api',
    status: 'allowed',
    environment: 'sandbox',
    created_at: new Date('2026-01-01T00:00:00Z'),
    last_used_at: null,
    expires_at: null,
    soft_deleted: false,
    revoked_at: null,
    masked_key: 'sk_test_xxxx…xxxx',
    webhook_url: null,
    webhook_basic_auth_username: null,
    webhook_basic_auth_password_sealed: null,
    ...row,
  });
}
