import { randomBytes } from 'node:crypto';
import { runArgon2Task, type Argon2Task } from './argon2-task.mjs';
import { bytesEqual } from './compare.js';
import { ApiKeyAuthError } from './errors.js';
import {
  checkedArgon2Params,
  DEFAULT_ARGON2_PARAMS,
  HASH_BYTES,
  SALT_BYTES,
  formatArgon2Hash,
  parseStoredHash,
  type Argon2Params,
  type ParsedArgon2Hash,
} from './phc.js';

/**
 * Computes the raw Argon2id output for a secret under a parsed hash's parameters and salt.
 * The in-thread path; the worker pool runs the same `runArgon2Task` (src/argon2-task.mjs) in
 * its threads, so both compute the very same bytes.
 *
 * @param secret - the secret part of a key, never empty.
 * @param target - parameters and salt to compute with; its `hash` gives the output length.
 * @param pepper - optional app-held secret mixed in as Argon2's secret input.
 */
export async function computeArgon2id(
  secret: string,
  target: Pick<ParsedArgon2Hash, 'params' | 'salt'> & { hashLength: number },
  pepper?: Uint8Array,
): Promise<Uint8Array> {
  // hash-wasm throws on an empty password instead of returning a mismatch; the key parser
  // never produces one, and this guard keeps that true for direct callers.
  if (secret.length === 0) throw new TypeError('secret must not be empty');
  return runArgon2Task(argon2TaskOf(secret, target, pepper));
}

/**
 * The message a worker thread receives for one computation: plain data only.
 *
 * @param secret - the secret part of a key.
 * @param target - parameters, salt and output length.
 * @param pepper - optional app-held secret.
 * @returns the task for {@link runArgon2Task}.
 */
export function argon2TaskOf(
  secret: string,
  target: Pick<ParsedArgon2Hash, 'params' | 'salt'> & { hashLength: number },
  pepper?: Uint8Array,
): Argon2Task {
  const { memoryKiB, iterations, parallelism } = target.params;
  return { secret, salt: target.salt, memoryKiB, iterations, parallelism, hashLength: target.hashLength, pepper };
}

/**
 * Hashes a key's secret part to an unpadded `$argon2id$v=19$…` PHC string with a fresh
 * 16-byte salt.
 *
 * @param secret - the secret part of a key.
 * @param params - cost parameters. @default DEFAULT_ARGON2_PARAMS
 * @param pepper - optional secret given to Argon2id as its secret input. Given with its id, the
 *   id is recorded as `keyid=` so that a verifier knows which pepper to use. For a row that
 *   keyward's authenticator checks, pass `rowPepper(pepper, row)`, not the pepper itself: it
 *   binds a peppered hash to its row.
 * @param run - the Argon2 computation (the authenticator passes its worker pool).
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` for parameters that are not exactly
 *   `{ memoryKiB, iterations, parallelism }` within `ARGON2_BOUNDS`: no verifier would accept
 *   a hash made outside them.
 * @example
 * ```ts
 * const stored = await hashSecret(generated.secret);
 * const peppered = await hashSecret(generated.secret, DEFAULT_ARGON2_PARAMS, { id: 'p2', secret: rowPepper(p2, row) });
 * ```
 */
export async function hashSecret(
  secret: string,
  params: Argon2Params = DEFAULT_ARGON2_PARAMS,
  pepper?: Uint8Array | { id: string; secret: Uint8Array },
  run: typeof computeArgon2id = computeArgon2id,
): Promise<string> {
  // The bounds a verifier holds stored hashes to: a hash made outside them would never verify.
  const checked = checkedArgon2Params(params, 'params');
  const salt = new Uint8Array(randomBytes(SALT_BYTES));
  const withId = pepper !== undefined && !(pepper instanceof Uint8Array) ? pepper : undefined;
  const pepperBytes = withId ? withId.secret : (pepper as Uint8Array | undefined);
  const hash = await run(secret, { params: checked, salt, hashLength: HASH_BYTES }, pepperBytes);
  return formatArgon2Hash(checked, salt, hash, withId?.id);
}

/**
 * Verifies a secret against a stored hash by recomputing the raw output and comparing it in
 * constant time (hash-wasm's own verify compares encoded strings with `===`).
 *
 * @param secret - the secret part of a presented key.
 * @param storedHash - the PHC string from the row.
 * @param pepper - Argon2's secret input the hash was made with, if any: for a row keyward's
 *   key manager wrote with a pepper, `rowPepper(pepper, row)`.
 * @returns whether the secret matches.
 * @throws {ApiKeyAuthError} `ERR_STORED_HASH_INVALID` when the stored hash is not an Argon2id
 *   PHC string within bounds; nothing is computed in that case.
 */
export async function verifySecret(
  secret: string,
  storedHash: unknown,
  pepper?: Uint8Array,
): Promise<boolean> {
  const parsed = parseOrThrow(storedHash);
  if (secret.length === 0) return false;
  const computed = await computeArgon2id(
    secret,
    { ...parsed, hashLength: parsed.hash.length },
    pepper,
  );
  return bytesEqual(computed, parsed.hash);
}

/**
 * Whether a stored hash was written with parameters other than the current ones, so that
 * the app may rehash it after the next successful verification.
 *
 * @throws {ApiKeyAuthError} `ERR_STORED_HASH_INVALID` for a hash that cannot be parsed.
 */
export function needsRehash(
  storedHash: unknown,
  params: Argon2Params = DEFAULT_ARGON2_PARAMS,
): boolean {
  const { params: stored, hash, salt } = parseOrThrow(storedHash);
  return (
    stored.memoryKiB !== params.memoryKiB ||
    stored.iterations !== params.iterations ||
    stored.parallelism !== params.parallelism ||
    hash.length !== HASH_BYTES ||
    salt.length !== SALT_BYTES
  );
}

function parseOrThrow(storedHash: unknown): ParsedArgon2Hash {
  const parsed = parseStoredHash(storedHash);
  if (!parsed.ok) {
    throw new ApiKeyAuthError('ERR_STORED_HASH_INVALID', `stored hash unparseable (${parsed.fault})`, {
      status: 500,
    });
  }
  return parsed.value;
}
