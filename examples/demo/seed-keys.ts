import { KEY_STATUSES, type KeyManager } from 'keyward';

/** One demo key: the label the demo prints it under, and the cleartext. */
export interface DemoKey {
  label: string;
  key: string;
}

/**
 * Issues the demo's sandbox keys: one per status of the seed's table, one allowed key of
 * another type than `POST /v1/sms` asks for, one soft-deleted and one revoked. Each sits on
 * its own demo account, since an account holds one live key per environment.
 */
export async function seedDemoKeys(manager: KeyManager): Promise<DemoKey[]> {
  const keys: DemoKey[] = [];

  for (const status of KEY_STATUSES) {
    const issued = await manager.issue({ accountId: `acct_demo_${status}`, environment: 'sandbox', status });
    keys.push({ label: status, key: issued.key });
  }

  // Allowed, but an admin_api key: 403 ERR_API_KEY_WRONG_TYPE on the sms_api route, 200 on whoami.
  const otherType = await manager.issue({ accountId: 'acct_demo_other_type', environment: 'sandbox', keyType: 'admin_api' });
  keys.push({ label: 'other_type', key: otherType.key });

  const deleted = await manager.issue({ accountId: 'acct_demo_soft_deleted', environment: 'sandbox' });
  await manager.softDelete(deleted.card.keyId);
  keys.push({ label: 'soft_deleted', key: deleted.key });

  const revoked = await manager.issue({ accountId: 'acct_demo_revoked_at', environment: 'sandbox' });
  await manager.revoke(revoked.card.keyId);
  keys.push({ label: 'revoked_at', key: revoked.key });

  return keys;
}
