// Checks on secret key material an app configures (webhook sealing keys, peppers): both are
// read in constant time, as any secret is. Neither proves a key random; they catch the
// mistakes that look like working setups (a placeholder of zeros, an old key pasted in as the
// new one) while leaving an attacker nothing.
import { timingSafeEqual } from 'node:crypto';

/**
 * Whether every byte equals the first: all zeros, or one character repeated.
 *
 * @param bytes - the key material.
 */
export function isOneByteRepeated(bytes: Uint8Array): boolean {
  let differences = 0;
  for (const byte of bytes) differences |= byte ^ bytes[0]!;
  return differences === 0;
}

/**
 * Whether every byte equals the first but for zero bytes at the end: one character repeated
 * and then padded with zeros, which HMAC keys as that character repeated alone.
 *
 * @param bytes - the key material.
 */
export function isOneByteRepeatedThenZeros(bytes: Uint8Array): boolean {
  const first = bytes[0] ?? 0;
  let differences = 0;
  // 1 while every byte from the end up to here is zero; then 0 for good.
  let inZeroTail = 1;
  for (let index = bytes.length - 1; index >= 0; index--) {
    const byte = bytes[index]!;
    inZeroTail &= Number(byte === 0);
    // The mask is 0 inside the zero tail and all ones before it.
    differences |= (byte ^ first) & (inZeroTail - 1);
  }
  return differences === 0;
}

/**
 * The id among `others` whose bytes equal `bytes`, if any. A rotation to a copy of the old key
 * looks done while the old bytes still serve.
 *
 * @param bytes - the key material being added.
 * @param others - the key material already read, by id.
 */
export function idWithSameBytes(bytes: Uint8Array, others: ReadonlyMap<string, Uint8Array>): string | undefined {
  for (const [id, other] of others) {
    if (other.length === bytes.length && timingSafeEqual(other, bytes)) return id;
  }
  return undefined;
}
