import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares two byte strings without an early exit. The time taken depends on the length only,
 * and the length of an Argon2 output is public (it is in the stored hash), so a caller who
 * measures the response learns nothing about how many bytes matched.
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/**
 * The SHA-256 of a secret given as text, which {@link secretsEqual} compares: made once per
 * expected secret, when the receiver is set up.
 */
export function secretDigest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Compares a presented secret (a Basic-auth username or password) with an expected one in
 * constant time. The presented text is hashed and compared with the expected one's digest, made
 * at setup: neither the position of the first difference nor the expected length can be
 * timed, as the work per request depends on the presented text alone.
 */
export function secretsEqual(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(secretDigest(presented), expectedDigest);
}
