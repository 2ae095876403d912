import { MemoryKeyStore, type ApiKeyRow, type KeyStore } from 'keyward';

/**
 * A MemoryKeyStore that counts calls, and can be told to fail or hang. It answers lookups as
 * MemoryKeyStore does, with the row itself, or, with `answersLater`, with a promise, as a
 * database store does: the authenticator takes a different path for each.
 */
export class InstrumentedStore extends MemoryKeyStore {
  lookups = 0;
  usageWrites = 0;
  failure: Error | undefined;
  hang = false;
  /** Replaces what findByLookupId returns, for malformed-row tests. */
  override: ((row: ApiKeyRow | null) => unknown) | undefined;

  constructor(readonly answersLater = true) {
    super();
  }

  override findByLookupId(lookupId: string): ApiKeyRow | null | Promise<ApiKeyRow | null> {
    this.lookups++;
    if (this.hang) return new Promise(() => {});
    if (this.failure) {
      if (this.answersLater) return Promise.reject(this.failure);
      throw this.failure;
    }
    const found = super.findByLookupId(lookupId) as ApiKeyRow | null;
    const row = (this.override ? this.override(found) : found) as ApiKeyRow | null;
    return this.answersLater ? Promise.resolve(row) : row;
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
