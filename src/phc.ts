import { invalidOption } from './errors.js';
import { knownOptions } from './options.js';

/** Argon2id cost parameters. */
export interface Argon2Params {
  /** Memory in KiB. @default 19456 (19 MiB, the OWASP minimum for Argon2id) */
  memoryKiB: number;
  /** Passes over memory. @default 2 */
  iterations: number;
  /** Lanes. @default 1 */
  parallelism: number;
}

/** The parameters new hashes are written with unless the app picks others. */
export const DEFAULT_ARGON2_PARAMS: Readonly<Argon2Params> = Object.freeze({
  memoryKiB: 19_456,
  iterations: 2,
  parallelism: 1,
});

/**
 * Limits on parameters read from a stored hash (and on the ones an app may configure). A row
 * outside them is treated as tampered or corrupted: computing `m=4194304` on demand would let
 * one row exhaust the process.
 */
export const ARGON2_BOUNDS = Object.freeze({
  maxMemoryKiB: 1_048_576,
  maxIterations: 32,
  maxParallelism: 16,
  minSaltBytes: 8,
  maxSaltBytes: 64,
  minHashBytes: 16,
  maxHashBytes: 64,
  maxEncodedLength: 512,
});

/** Salt bytes in every hash keyward writes. */
export const SALT_BYTES = 16;
/** Output bytes in every hash keyward writes. */
export const HASH_BYTES = 32;

/** A stored Argon2id hash, taken apart. */
export interface ParsedArgon2Hash {
  params: Argon2Params;
  salt: Uint8Array;
  hash: Uint8Array;
  /** Id of the pepper the hash was computed with (its `keyid=` parameter), if any. */
  pepperId: string | undefined;
}

/**
 * Pepper ids: 1 to 8 ASCII letters, digits, `_` or `-`. Eight bytes is what the Argon2 PHC
 * format allows in `keyid=`, which holds the id's bytes in unpadded base64.
 */
export const PEPPER_ID_SHAPE = /^[A-Za-z0-9_-]{1,8}$/;

/**
 * Whether a value is a pepper id: text of {@link PEPPER_ID_SHAPE}. A test of the pattern alone
 * would take a number, which it reads as its digits.
 *
 * @param value - the candidate.
 * @returns true for a string of the shape.
 */
export function isPepperId(value: unknown): value is string {
  return typeof value === 'string' && PEPPER_ID_SHAPE.test(value);
}

/**
 * Why a stored hash was refused; goes to the hook and logger with the key id. `unknown_pepper`:
 * the hash names a pepper id (`keyid=`) the app did not configure; `unpeppered`: it names none
 * while the app's pepper has `refuseUnpeppered`.
 */
export type StoredHashFault =
  | 'not_a_string'
  | 'too_long'
  | 'not_phc'
  | 'unsupported_type'
  | 'unsupported_version'
  | 'bad_parameters'
  | 'parameters_out_of_bounds'
  | 'bad_salt'
  | 'bad_hash'
  | 'unknown_pepper'
  | 'unpeppered';

export type ParseStoredHashResult =
  | { ok: true; value: ParsedArgon2Hash }
  | { ok: false; fault: StoredHashFault };

// Decimal values without leading zeros (the PHC rule), then an optional `keyid=` in base64.
const PARAMS_SHAPE =
  /^m=(0|[1-9]\d{0,9}),t=(0|[1-9]\d{0,9}),p=(0|[1-9]\d{0,9})(?:,keyid=([A-Za-z0-9+/]{2,11}))?$/;

/**
 * Parses a PHC string of the only form keyward computes:
 * `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`, base64 without padding.
 * Correct `=` padding on salt or hash is tolerated and stripped (other systems write it, and
 * it changes no byte). Argon2i, Argon2d, other versions, repeated, reordered or missing
 * parameters, decimals with leading zeros and anything outside {@link ARGON2_BOUNDS} are
 * refused, never computed. The one optional parameter is `keyid=`, the id of the pepper the
 * hash was computed with (see {@link PEPPER_ID_SHAPE}).
 *
 * @param encoded - the value of the stored hash column.
 * @returns the parameters, salt, hash and pepper id, or the fault that makes the value unusable.
 * @example
 * ```ts
 * const parsed = parseStoredHash(row.key_hash);
 * if (!parsed.ok) {
 *   console.warn('unusable stored hash', row.lookup_id, parsed.fault); // such as 'unsupported_type'
 * } else if (parsed.value.params.memoryKiB < DEFAULT_ARGON2_PARAMS.memoryKiB) {
 *   console.info('hashed with less memory than the defaults', row.lookup_id);
 * }
 * ```
 */
export function parseStoredHash(encoded: unknown): ParseStoredHashResult {
  if (typeof encoded !== 'string') return { ok: false, fault: 'not_a_string' };
  if (encoded.length > ARGON2_BOUNDS.maxEncodedLength) return { ok: false, fault: 'too_long' };

  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== '') return { ok: false, fault: 'not_phc' };
  const [, type, version, paramText, saltText, hashText] = parts as [string, ...string[]];

  if (type !== 'argon2id') return { ok: false, fault: 'unsupported_type' };
  if (version !== 'v=19') return { ok: false, fault: 'unsupported_version' };

  const match = PARAMS_SHAPE.exec(paramText!);
  if (!match) return { ok: false, fault: 'bad_parameters' };
  const params: Argon2Params = {
    memoryKiB: Number(match[1]),
    iterations: Number(match[2]),
    parallelism: Number(match[3]),
  };
  if (checkParams(params) !== undefined) return { ok: false, fault: 'parameters_out_of_bounds' };
  const pepperId = match[4] === undefined ? undefined : decodePepperId(match[4]);
  if (pepperId === null) return { ok: false, fault: 'bad_parameters' };

  const salt = decodeBase64(saltText!);
  if (!salt || salt.length < ARGON2_BOUNDS.minSaltBytes || salt.length > ARGON2_BOUNDS.maxSaltBytes) {
    return { ok: false, fault: 'bad_salt' };
  }
  const hash = decodeBase64(hashText!);
  if (!hash || hash.length < ARGON2_BOUNDS.minHashBytes || hash.length > ARGON2_BOUNDS.maxHashBytes) {
    return { ok: false, fault: 'bad_hash' };
  }

  // pepperId is always set, undefined when absent, so it is never read from Object.prototype.
  return { ok: true, value: { params, salt, hash, pepperId: pepperId || undefined } };
}

/**
 * Writes the PHC string for an Argon2id hash, base64 without padding, with `keyid=` when a
 * pepper was mixed in.
 *
 * @param pepperId - the pepper's id; must match {@link PEPPER_ID_SHAPE}.
 * @throws {TypeError} for a pepper id that does not match {@link PEPPER_ID_SHAPE}.
 * @example
 * ```ts
 * formatArgon2Hash(DEFAULT_ARGON2_PARAMS, salt, hash, 'p2'); // '$argon2id$v=19$m=19456,t=2,p=1,keyid=cDI$…'
 * ```
 */
export function formatArgon2Hash(
  params: Argon2Params,
  salt: Uint8Array,
  hash: Uint8Array,
  pepperId?: string,
): string {
  let p = `m=${params.memoryKiB},t=${params.iterations},p=${params.parallelism}`;
  if (pepperId !== undefined) {
    if (!PEPPER_ID_SHAPE.test(pepperId)) throw new TypeError('pepper id must match PEPPER_ID_SHAPE');
    p += `,keyid=${encodeBase64(Buffer.from(pepperId, 'ascii'))}`;
  }
  return `$argon2id$v=19$${p}$${encodeBase64(salt)}$${encodeBase64(hash)}`;
}

/** The pepper id a `keyid=` value names, or null when it is not one keyward could have written. */
function decodePepperId(text: string): string | null {
  const bytes = decodeBase64(text);
  if (!bytes) return null;
  const id = Buffer.from(bytes).toString('latin1');
  return PEPPER_ID_SHAPE.test(id) ? id : null;
}

/**
 * Reads app-supplied parameters once, at setup, and checks them.
 *
 * @param optionName - the option or argument the parameters were given as.
 * @param factory - the factory they were given to, which the message starts with; none for an
 *   argument of a plain function.
 * @returns the parameters as read (a plain copy): what is checked is what is used.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` naming the parameter and its bounds.
 */
export function checkedArgon2Params(params: Argon2Params, optionName: string, factory?: string): Argon2Params {
  const owner = factory === undefined ? '' : `${factory}: `;
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    invalidOption(`${owner}"${optionName}" must be an object { memoryKiB, iterations, parallelism }.`);
  }
  const names = ['memoryKiB', 'iterations', 'parallelism'];
  const { memoryKiB, iterations, parallelism } = factory === undefined
    ? knownOptions(params, names, optionName)
    : knownOptions(params, names, factory, { within: optionName });
  const read = { memoryKiB, iterations, parallelism };
  const missing = Object.entries(read).filter(([, value]) => value === undefined).map(([name]) => name);
  if (missing.length > 0) invalidOption(`${owner}"${optionName}" needs all three parameters; ${listOf(missing)} missing: { memoryKiB, iterations, parallelism }.`);
  const problem = checkParams(read);
  if (problem !== undefined) invalidOption(`${owner}"${optionName}" ${problem}.`);
  return read;
}

/** Names as a sentence lists them: `a`, `a and b`, `a, b and c`. */
function listOf(names: readonly string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

function checkParams({ memoryKiB, iterations, parallelism }: Argon2Params): string | undefined {
  const b = ARGON2_BOUNDS;
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > b.maxParallelism) {
    return `parallelism must be an integer from 1 to ${b.maxParallelism}`;
  }
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > b.maxIterations) {
    return `iterations must be an integer from 1 to ${b.maxIterations}`;
  }
  if (!Number.isInteger(memoryKiB) || memoryKiB < 8 * parallelism || memoryKiB > b.maxMemoryKiB) {
    return `memoryKiB must be an integer from 8 × parallelism to ${b.maxMemoryKiB}`;
  }
  return undefined;
}

const BASE64_BODY = /^[A-Za-z0-9+/]*$/;

function decodeBase64(text: string): Uint8Array | undefined {
  const unpadded = stripPadding(text);
  if (unpadded === undefined || !BASE64_BODY.test(unpadded) || unpadded.length % 4 === 1) {
    return undefined;
  }
  const bytes = Buffer.from(unpadded, 'base64');
  // Refuse non-canonical encodings (stray low bits in the last character).
  if (encodeBase64(bytes) !== unpadded) return undefined;
  return new Uint8Array(bytes);
}

function stripPadding(text: string): string | undefined {
  const unpadded = text.replace(/={1,2}$/, '');
  if (unpadded.length === text.length) return text;
  // Padding must make the length a multiple of four, or it is not padding.
  return text.length % 4 === 0 ? unpadded : undefined;
}

function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}
