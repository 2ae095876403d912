import { randomBytes } from 'node:crypto';
import { runArgon2Task, type Argon2Task } from './argon2-task.mjs';
import { bytesEqual } from './compare.js';
import { ApiKeyAuthError } from './errors.js';
import { fallsShortOfPolicy } from './hash-policy.js';
import { isPepperSecret, MAX_PEPPER_BYTES, MIN_PEPPER_BYTES } from './pepper.js';
import {
  checkedArgon2Params,
  DEFAULT_ARGON2_PARAMS,
  HASH_BYTES,
  isPepperId,
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
 * @throws {ApiKeyAuthError} `ERR_INVALID_ARGUMENT` (400) for an empty secret;
 *   `ERR_OPTIONS_INVALID`, before anything is computed, for parameters
 *   that are not exactly `{ memoryKiB, iterations, parallelism }` within `ARGON2_BOUNDS` (no
 *   verifier would accept a hash made outside them), and for a pepper that is neither a
 *   `Uint8Array` nor `{ id, secret }` with an id of `PEPPER_ID_SHAPE` and a `Uint8Array`
 *   secret (a string, say, which would otherwise have been left out without a word).
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
  if (secret === '') {
    // hash-wasm would refuse it with an error of its own; no key has an empty secret.
    throw new ApiKeyAuthError('ERR_INVALID_ARGUMENT', 'hashSecret: the secret is empty; pass the secret part of a key.');
  }
  // The bounds a verifier holds stored hashes to: a hash made outside them would never verify.
  const checked = checkedArgon2Params(params, 'params', 'hashSecret');
  const { bytes, id } = readPepper(pepper);
  const salt = new Uint8Array(randomBytes(SALT_BYTES));
  const hash = await run(secret, { params: checked, salt, hashLength: HASH_BYTES }, bytes);
  return formatArgon2Hash(checked, salt, hash, id);
}

/** {@link hashSecret}'s pepper, checked, as Argon2's secret input and the id to record. */
function readPepper(pepper: unknown): { bytes: Uint8Array | undefined; id: string | undefined } {
  if (pepper === undefined) return { bytes: undefined, id: undefined };
  if (isPepperSecret(pepper)) return { bytes: pepper, id: undefined };
  const { id, secret } = (pepper instanceof Uint8Array ? {} : (pepper ?? {})) as { id?: unknown; secret?: unknown };
  if (!isPepperId(id) || !isPepperSecret(secret)) {
    throw new ApiKeyAuthError(
      'ERR_OPTIONS_INVALID',
      `hashSecret: "pepper" must be ${MIN_PEPPER_BYTES} to ${MAX_PEPPER_BYTES} bytes (a Uint8Array), or { id, secret } with an id of 1 to 8 letters, digits, "_" or "-" and such a secret.`,
    );
  }
  return { bytes: secret, id };
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
 *   PHC string within bounds, or names a pepper (`keyid=`) and none is given, as the
 *   authenticator counts such a hash a server fault, not a wrong key; `ERR_OPTIONS_INVALID`
 *   for a pepper that is not a `Uint8Array`. Nothing is computed in either case.
 */
export async function verifySecret(
  secret: string,
  storedHash: unknown,
  pepper?: Uint8Array,
): Promise<boolean> {
  const parsed = parseOrThrow(storedHash);
  if (pepper !== undefined && !isPepperSecret(pepper)) {
    throw new ApiKeyAuthError('ERR_OPTIONS_INVALID', `verifySecret: "pepper" must be ${MIN_PEPPER_BYTES} to ${MAX_PEPPER_BYTES} bytes (a Uint8Array): for a row keyward wrote, rowPepper(pepper, row).`);
  }
  if (parsed.pepperId !== undefined && pepper === undefined) {
    throw new ApiKeyAuthError('ERR_STORED_HASH_INVALID', `stored hash names pepper "${parsed.pepperId}" (keyid=), and no pepper was given`, { status: 500 });
  }
  if (secret.length === 0) return false;
  const computed = await computeArgon2id(
    secret,
    { ...parsed, hashLength: parsed.hash.length },
    pepper,
  );
  return bytesEqual(computed, parsed.hash);
}

/**
 * Whether a stored hash falls short of the current policy, so that the app may rehash it
 * after the next successful verification: by the rule `rehashOnSuccess` applies (weaker
 * parameters, memory first, then iterations; a shorter salt or output; or a pepper other than
 * the current one), so that an app that rehashes on it and gateways that rehash on success
 * never rewrite each other's hashes.
 *
 * @param storedHash - the PHC string from the row.
 * @param params - the parameters new hashes are written with. @default DEFAULT_ARGON2_PARAMS
 * @param currentPepperId - the id of the pepper new hashes are written with (`pepper.current`);
 *   leave it out where hashes are written without one.
 * @returns true when the hash should be rewritten.
 * @throws {ApiKeyAuthError} `ERR_STORED_HASH_INVALID` for a hash that cannot be parsed;
 *   `ERR_OPTIONS_INVALID` for parameters {@link hashSecret} would refuse to write with, or a
 *   `currentPepperId` that is no pepper id.
 * @example
 * ```ts
 * // Write at rehashParams(stored, yours), as rehashOnSuccess does, so memory is never lowered.
 * if (needsRehash(row.key_hash, DEFAULT_ARGON2_PARAMS, 'p2')) await rewrite(row, secret);
 * ```
 */
export function needsRehash(
  storedHash: unknown,
  params: Argon2Params = DEFAULT_ARGON2_PARAMS,
  currentPepperId?: string,
): boolean {
  const checked = checkedArgon2Params(params, 'params', 'needsRehash');
  if (currentPepperId !== undefined && !isPepperId(currentPepperId)) {
    // Anything else would name no pepper a hash can record, and every hash would "need" a rehash.
    throw new ApiKeyAuthError('ERR_OPTIONS_INVALID', 'needsRehash: "currentPepperId" must be a pepper id, 1 to 8 letters, digits, "_" or "-", or left out.');
  }
  return fallsShortOfPolicy(parseOrThrow(storedHash), checked, currentPepperId);
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
