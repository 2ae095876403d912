import { checksumOf, type ApiKeyAuth } from 'keyward';

/** The headers of a request that presents `key` as a Bearer token. */
export function bearer(key: string): { authorization: string } {
  return { authorization: `Bearer ${key}` };
}

/**
 * A key with a valid checksum for the same prefix and lookup id as `key` but another secret
 * (`fill` repeated), so it finds the row and fails only at the Argon2 step.
 */
export function forgeSecret(key: string, fill = 'W'): string {
  const head = key.slice(0, 20) + fill.repeat(32);
  return head + checksumOf(head);
}

/** The HTTP status `auth` answers a request presenting `key` with: 200 when it passes. */
export async function statusFor(auth: ApiKeyAuth, key: string): Promise<number> {
  const result = await auth.authenticate({ headers: bearer(key) });
  return result.ok ? 200 : result.response.status;
}
