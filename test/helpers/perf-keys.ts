import { checksumOf, createKeyManager, parseApiKey, MemoryKeyStore, type Argon2Params, type KeyStore } from 'keyward';
import { TEST_ARGON2 } from '../fixtures/argon2-vectors.js';

/**
 * A well-formed key (valid checksum) with the same prefix and lookup id as `key` and another
 * secret, so it finds the row and fails only at the Argon2 step. `variant` picks the secret.
 */
export function wrongSecretOf(key: string, variant = 0): string {
  const head = key.slice(0, -6);
  const lookupEnd = head.length - 32;
  const suffix = variant.toString(36).padStart(8, '0').replace(/[^0-9A-Za-z]/g, '0');
  const secret = `Wrong${'x'.repeat(32 - 5 - suffix.length)}${suffix}`;
  const forged = head.slice(0, lookupEnd) + secret;
  return forged + checksumOf(forged);
}

/** Issues one sandbox key into a fresh (or the given) store. */
export async function issueKey(
  options: { store?: KeyStore; argon2?: Argon2Params; accountId?: string } = {},
): Promise<{ store: KeyStore; key: string; keyId: string; lookupId: string }> {
  const store = options.store ?? new MemoryKeyStore();
  const manager = createKeyManager({ store, argon2: options.argon2 ?? TEST_ARGON2 });
  const { key, card } = await manager.issue({
    accountId: options.accountId ?? 'acct_perf',
    environment: 'sandbox',
  });
  const parsed = parseApiKey(key);
  if (!parsed.ok) throw new Error('the key manager issued a key that does not parse');
  return { store, key, keyId: card.keyId, lookupId: parsed.key.lookupId };
}

/** The request shape `authenticate` takes, for a Bearer key. */
export function bearer(key: string): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${key}` } };
}
