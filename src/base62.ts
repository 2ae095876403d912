import { getRandomValues } from 'node:crypto';

/** The base62 alphabet in the order the key format fixes: digits, upper case, lower case. */
export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// 248 is the largest multiple of 62 that fits in a byte. Bytes at or above it are dropped
// rather than folded, so every character is equally likely (no modulo bias).
const UNBIASED_LIMIT = 248;

/**
 * Random base62 string from the platform's CSPRNG, without modulo bias.
 *
 * @param length - number of characters.
 */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const bytes = getRandomValues(new Uint8Array(length * 2));
    for (const byte of bytes) {
      if (byte >= UNBIASED_LIMIT) continue;
      out += BASE62_ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/**
 * Writes a non-negative integer in base62, most significant digit first, left-padded with `0`.
 *
 * @param value - integer below 2^53.
 * @param width - minimum number of characters.
 */
export function encodeBase62(value: number, width: number): string {
  let out = '';
  let rest = value;
  while (rest > 0) {
    out = BASE62_ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(width, '0');
}

/**
 * Reads `width` base62 characters of `text` from `start` as a non-negative integer, most
 * significant digit first: the inverse of {@link encodeBase62}. The characters must already
 * be known to be base62 ({@link isBase62Code}).
 *
 * @param text - holds the digits.
 * @param start - index of the first digit.
 * @param width - number of digits; at most 8, so the value stays below 2^53.
 */
export function decodeBase62(text: string, start: number, width: number): number {
  let value = 0;
  for (let i = start; i < start + width; i++) {
    const c = text.charCodeAt(i);
    // Digits, then upper case, then lower case, as in BASE62_ALPHABET.
    const digit = c <= 57 ? c - 48 : c <= 90 ? c - 55 : c - 61;
    value = value * 62 + digit;
  }
  return value;
}

/** Whether a UTF-16 code unit is a character of the base62 alphabet. */
export function isBase62Code(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}
