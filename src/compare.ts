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
 * Compares two secrets given as text (Basic-auth usernames and passwords) in constant time.
 * Both sides are hashed first, so neither the position of the first difference nor the
 * expected length can be timed.
 */
export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
