import { decodeBase62, encodeBase62, isBase62Code, randomBase62 } from './base62.js';
import { crc32Ascii, crc32Final, crc32Step, CRC32_START } from './crc32.js';

/** The environment a key belongs to: `sk_live_` keys are production, `sk_test_` keys sandbox. */
export type Environment = 'production' | 'sandbox';

/** Every environment, in a stable order. */
export const ENVIRONMENTS: readonly Environment[] = Object.freeze(['production', 'sandbox']);

/** The prefix each environment's keys start with. */
export const KEY_PREFIXES: Readonly<Record<Environment, string>> = Object.freeze({
  production: 'sk_live_',
  sandbox: 'sk_test_',
});

/** Characters in the lookup id, the public part of a key that finds its row. */
export const LOOKUP_ID_LENGTH = 12;
/** Characters in the secret part (about 190 bits). */
export const SECRET_LENGTH = 32;
/** Characters in the checksum. */
export const CHECKSUM_LENGTH = 6;

const PREFIX_LENGTH = 8;
/** Characters after the prefix: lookup id, secret and checksum. */
export const BODY_LENGTH = LOOKUP_ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH;
const SECRET_START = PREFIX_LENGTH + LOOKUP_ID_LENGTH;
/** Everything before the checksum, which the checksum covers. */
const CHECKED_LENGTH = SECRET_START + SECRET_LENGTH;

/** Exact length of every keyward key. */
export const KEY_LENGTH = PREFIX_LENGTH + BODY_LENGTH;

/**
 * Matches a keyward key anywhere in a text, for secret scanners. A match still has to pass
 * {@link parseApiKey} (the checksum) before it is reported as a real key. Nothing is asked of
 * the characters around a key, so one glued to a word (`KEY_sk_live_…`, `…_old`), to an
 * encoded `=` (`api_key%3Dsk_live_…`) or to another key is found: the checksum, not a word
 * boundary, tells keys from text that only looks like one. Scan on from the character after
 * a candidate that fails the checksum, not from its end: a lookalike put just before a key
 * (`sk_live_` and 48 letters) would otherwise swallow the key's first characters and hide it.
 *
 * @example
 * ```ts
 * const pattern = new RegExp(API_KEY_PATTERN, 'g');
 * for (let match = pattern.exec(logLine); match !== null; match = pattern.exec(logLine)) {
 *   if (parseApiKey(match[0]).ok) report(match.index);
 *   else pattern.lastIndex = match.index + 1; // a key may start inside a lookalike
 * }
 * ```
 */
export const API_KEY_PATTERN = /sk_(?:live|test)_[0-9A-Za-z]{50}/;

/** A key that passed the strict format check. */
export interface ParsedApiKey {
  environment: Environment;
  /** Public lookup id: finds the row, safe to log. */
  lookupId: string;
  /** Secret part: only ever hashed, never stored, logged or returned. */
  secret: string;
}

/** Why a candidate is not a keyward key. Goes to the decision hook, never to the client. */
export type KeyFormatFailure = 'bad_length' | 'bad_prefix' | 'bad_alphabet' | 'bad_checksum';

/** Result of {@link parseApiKey}. */
export type ParseApiKeyResult =
  | { ok: true; key: ParsedApiKey }
  | { ok: false; reason: KeyFormatFailure };

/**
 * Checks a candidate key strictly: exact length first (so nothing long is ever scanned), then
 * prefix, alphabet and CRC-32 checksum. Work is linear in a bounded length; no regular
 * expression is involved.
 *
 * @param candidate - the text presented as a key.
 * @returns the parsed key, or the reason it is not one.
 * @example
 * ```ts
 * const result = parseApiKey('sk_test_…');
 * if (result.ok) console.log(result.key.lookupId);
 * ```
 */
export function parseApiKey(candidate: string): ParseApiKeyResult {
  // Anything but a string (from JavaScript callers) is no text of a key's length either.
  if (typeof candidate !== 'string' || candidate.length !== KEY_LENGTH) return { ok: false, reason: 'bad_length' };

  const environment = environmentOfPrefix(candidate);
  if (environment === undefined) return { ok: false, reason: 'bad_prefix' };

  const crc = crcOfBase62Body(candidate);
  if (crc === undefined) return { ok: false, reason: 'bad_alphabet' };

  // Fixed-width base62 is one-to-one, so comparing the checksum's value with the CRC is the
  // same test as comparing it with the CRC's encoding, without building that string. This
  // runs on every request.
  if (decodeBase62(candidate, CHECKED_LENGTH, CHECKSUM_LENGTH) !== crc) return { ok: false, reason: 'bad_checksum' };

  return {
    ok: true,
    key: {
      environment,
      lookupId: candidate.slice(PREFIX_LENGTH, SECRET_START),
      secret: candidate.slice(SECRET_START, CHECKED_LENGTH),
    },
  };
}

/**
 * The parts of a text that {@link parseApiKey} accepted before, taken apart without checking
 * it again. For a key the verification memo has seen match: the memo key is an HMAC of the
 * whole text, so the text is the very one whose alphabet and checksum were checked when it
 * first came, and checking them again (the dearest part of a parse) could only agree. Any
 * other text gets parts that mean nothing.
 *
 * @param accepted - a text that parseApiKey accepted.
 */
export function partsOfAcceptedKey(accepted: string): ParsedApiKey {
  return {
    environment: accepted.startsWith(KEY_PREFIXES.production) ? 'production' : 'sandbox',
    lookupId: accepted.slice(PREFIX_LENGTH, SECRET_START),
    secret: accepted.slice(SECRET_START, CHECKED_LENGTH),
  };
}

/** A freshly generated key. `key` is the cleartext: show it once, then drop it. */
export interface GeneratedApiKey extends ParsedApiKey {
  key: string;
  masked: string;
}

/**
 * Generates a new key for an environment: random lookup id and secret from the CSPRNG,
 * followed by the checksum.
 *
 * @param environment - `production` (`sk_live_`) or `sandbox` (`sk_test_`).
 * @returns the cleartext key, its parts and its masked form.
 * @throws {TypeError} for any other environment: a prefix looked up for it would be
 *   `undefined`, or an `Object.prototype` member such as `constructor`, made into a "key".
 * @example
 * ```ts
 * const { key, masked } = generateApiKey('sandbox');
 * // key: 'sk_test_' and 50 base62 characters; masked: such as 'sk_test_DWgF…Gwu8'
 * ```
 */
export function generateApiKey(environment: Environment): GeneratedApiKey {
  if (!ENVIRONMENTS.includes(environment)) throw new TypeError('environment must be "production" or "sandbox"');
  const lookupId = randomBase62(LOOKUP_ID_LENGTH);
  const secret = randomBase62(SECRET_LENGTH);
  const head = KEY_PREFIXES[environment] + lookupId + secret;
  const key = head + checksumOf(head);
  return { key, environment, lookupId, secret, masked: maskApiKey(key) };
}

/** What {@link maskApiKey} gives for text without a key's shape: none of its characters. */
export const NOT_A_KEY_MASK = '[not a key]';

/**
 * The display form of a key: prefix, first four body characters, `…` and last four
 * characters, as in `sk_live_kqz3…oU0i`. Text without a key's shape (its length, a keyward
 * prefix, a base62 body) gives {@link NOT_A_KEY_MASK} instead: masking a short token or a
 * password the usual way would show most or all of it. A mistyped key (its checksum wrong)
 * is still masked as a key.
 *
 * @param key - a full key in the keyward format.
 * @returns the masked key, or {@link NOT_A_KEY_MASK}.
 * @example
 * ```ts
 * maskApiKey(generated.key); // such as 'sk_live_kqz3…oU0i'
 * maskApiKey('hunter2'); // '[not a key]'
 * ```
 */
export function maskApiKey(key: string): string {
  const shaped = typeof key === 'string' && key.length === KEY_LENGTH && environmentOfPrefix(key) !== undefined && crcOfBase62Body(key) !== undefined;
  if (!shaped) return NOT_A_KEY_MASK;
  return `${key.slice(0, PREFIX_LENGTH)}${key.slice(PREFIX_LENGTH, PREFIX_LENGTH + 4)}\u2026${key.slice(-4)}`;
}

/**
 * The 6-character checksum of everything before it: CRC-32 (as zlib) of the ASCII bytes,
 * in base62, most significant digit first, left-padded with `0`.
 *
 * @param head - the prefix, lookup id and secret of a key (its first 52 characters).
 * @returns the checksum that completes the key.
 * @example
 * ```ts
 * const head = 'sk_test_' + 'a'.repeat(12) + 'b'.repeat(32);
 * checksumOf(head); // '4LJmsz'
 * parseApiKey(head + checksumOf(head)).ok; // true
 * ```
 */
export function checksumOf(head: string): string {
  return encodeBase62(crc32Ascii(head), CHECKSUM_LENGTH);
}

// The key's bytes, for crcOfBase62Body. One buffer serves every call, as a call runs start to
// end without yielding; each call zeroes what it wrote, so that the last key parsed does not
// stay in live memory for good. Room for three UTF-8 bytes per character.
const KEY_BYTES = Buffer.alloc(KEY_LENGTH * 3);

/**
 * The CRC-32 of everything before the checksum, or undefined when a character after the prefix
 * (the checksum's included) is not base62. One pass over the key's bytes for both: this runs on
 * every request, and copying the key out in one native call, then reading bytes, costs less
 * than reading each character of a header's slice. Copied as UTF-8, so a non-ASCII character
 * makes the key longer than KEY_LENGTH bytes (Latin-1 would keep only the low byte of each
 * character, and `Ł` would pass for `A`).
 */
function crcOfBase62Body(candidate: string): number | undefined {
  const written = KEY_BYTES.write(candidate, 0, 'utf8');
  const crc = written === KEY_LENGTH ? crcOfKeyBytes() : undefined;
  KEY_BYTES.fill(0, 0, written);
  return crc;
}

/** {@link crcOfBase62Body}'s pass over KEY_BYTES, holding a key's KEY_LENGTH bytes. */
function crcOfKeyBytes(): number | undefined {
  let crc = CRC32_START;
  for (let i = 0; i < KEY_LENGTH; i++) {
    const byte = KEY_BYTES[i]!;
    if (i >= PREFIX_LENGTH && !isBase62Code(byte)) return undefined;
    if (i < CHECKED_LENGTH) crc = crc32Step(crc, byte);
  }
  return crc32Final(crc);
}

/** The running CRC-32 after each prefix, for {@link isKeyBodyAt}. */
const CRC_AFTER_PREFIX: readonly number[] = Object.values(KEY_PREFIXES).map((prefix) => {
  let crc = CRC32_START;
  for (let i = 0; i < prefix.length; i++) crc = crc32Step(crc, prefix.charCodeAt(i));
  return crc;
});

/**
 * Whether the 50 characters of `text` from `start` are a key's body under either prefix: its
 * checksum holds for the prefix, lookup id and secret before it. The caller has checked that
 * they are base62. Reads the characters in place, with no copy: a text is searched at every
 * position of its long runs of letters and digits (see `holdsApiKey`).
 *
 * @param text - the text searched.
 * @param start - where the 50 characters begin.
 */
export function isKeyBodyAt(text: string, start: number): boolean {
  const checksumAt = start + LOOKUP_ID_LENGTH + SECRET_LENGTH;
  const checksum = decodeBase62(text, checksumAt, CHECKSUM_LENGTH);
  // Six base62 digits reach past 32 bits: most windows of other text end in no CRC at all.
  if (checksum > 0xffffffff) return false;
  for (const prefixCrc of CRC_AFTER_PREFIX) {
    let crc = prefixCrc;
    for (let i = start; i < checksumAt; i++) crc = crc32Step(crc, text.charCodeAt(i));
    if (crc32Final(crc) === checksum) return true;
  }
  return false;
}

function environmentOfPrefix(candidate: string): Environment | undefined {
  if (candidate.startsWith(KEY_PREFIXES.production)) return 'production';
  if (candidate.startsWith(KEY_PREFIXES.sandbox)) return 'sandbox';
  return undefined;
}
