import { createHash } from 'node:crypto';
import { invalidOption } from './errors.js';
import { idWithSameBytes, isOneByteRepeated, isOneByteRepeatedThenZeros } from './key-material.js';
import { knownOptions } from './options.js';
import { PEPPER_ID_SHAPE } from './phc.js';

/**
 * An app-held secret mixed into every Argon2id hash as Argon2's secret input, so that a copy
 * of the key table alone cannot be attacked offline. Each pepper has an id, recorded in the
 * hash (`keyid=`), so the app can roll it: add the new secret, make it `current`, and keep
 * the old one in `secrets` until every key has been rehashed or regenerated.
 */
export interface PepperOptions {
  /** Id of the pepper new hashes are written with; must be a key of `secrets`. */
  current: string;
  /**
   * Every pepper still in use, by id (1 to 8 letters, digits, `_` or `-`). Each secret is 16
   * to 1024 bytes, random, and kept out of the database (an environment secret or a vault).
   * One byte repeated is refused, and so are two ids whose secrets act as one HMAC-SHA256 key:
   * the same bytes, the same bytes with zero bytes after them, or a secret over 64 bytes and
   * its SHA-256.
   */
  secrets: Readonly<Record<string, Uint8Array>>;
  /**
   * Refuse stored hashes without a pepper (no `keyid=`) as a server fault (500) instead of
   * verifying them without one. Off by default, because keys issued before a pepper was
   * configured carry none until they are rehashed or regenerated. Turn it on once every hash
   * is peppered: someone who can write to the key table but does not hold a pepper can then no
   * longer plant a hash of a key of their own (and a peppered hash is bound to its row, so
   * they cannot move one to another account either). Read by the authenticator only.
   * @default false
   */
  refuseUnpeppered?: boolean | undefined;
}

/** Peppers after checks, as the hashing code uses them. */
export interface PepperRing {
  readonly currentId: string;
  readonly current: Uint8Array;
  /** Every configured pepper id, `currentId` among them. */
  readonly ids: readonly string[];
  /** Whether a stored hash without a pepper id is refused rather than verified without one. */
  readonly refuseUnpeppered: boolean;
  /** The secret of a pepper id, or undefined when the app did not configure that id. */
  secretFor(id: string): Uint8Array | undefined;
}

/** Fewest bytes a pepper secret may have. */
export const MIN_PEPPER_BYTES = 16;
/** Most bytes a pepper secret may have. */
export const MAX_PEPPER_BYTES = 1024;

/**
 * Whether a value can be a pepper secret, or a row's pepper made from one: the bytes of
 * {@link MIN_PEPPER_BYTES} to {@link MAX_PEPPER_BYTES}. The one rule behind the `pepper`
 * option, `rowPepper`, `hashSecret` and `verifySecret`: a string (the base64 text of an
 * environment variable, say) would be used as its text, and give hashes that never verify.
 *
 * @param value - the candidate.
 * @returns true for a Uint8Array (a Buffer included) of an accepted length.
 */
export function isPepperSecret(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length >= MIN_PEPPER_BYTES && value.length <= MAX_PEPPER_BYTES;
}

/**
 * Checks the `pepper` option of a factory once and copies the secrets, so that a later change
 * to the caller's object cannot change what keys hash to.
 *
 * @param value - the option as given, or undefined for no pepper.
 * @param factory - the factory's name, for error messages.
 * @returns the ring, or undefined when no pepper is configured.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` for a malformed option.
 * @example
 * ```ts
 * const ring = resolvePepper({ current: 'p2', secrets: { p1, p2 } }, 'createApiKeyAuth');
 * ```
 */
export function resolvePepper(value: unknown, factory: string): PepperRing | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalidOption(`${factory}: "pepper" must be an object { current, secrets }.`);
  }
  // Its names are never repeated: a secret pasted in as a name would be.
  const { current, secrets, refuseUnpeppered = false } = knownOptions(value as Partial<PepperOptions>, ['current', 'secrets', 'refuseUnpeppered'], factory, { naming: 'withheld', within: 'pepper' });
  if (typeof refuseUnpeppered !== 'boolean') invalidOption(`${factory}: "pepper.refuseUnpeppered" must be a boolean.`);
  if (typeof secrets !== 'object' || secrets === null || Array.isArray(secrets)) {
    invalidOption(`${factory}: "pepper.secrets" must be an object mapping pepper ids to secrets.`);
  }

  const copies = new Map<string, Uint8Array>();
  // Each secret as the HMAC key it becomes, only to tell peppers apart while they are read.
  const forms = new Map<string, Uint8Array>();
  for (const [id, secret] of Object.entries(secrets)) {
    if (!PEPPER_ID_SHAPE.test(id)) {
      // The id is not repeated: one that breaks the rule may be the secret pasted as an id.
      invalidOption(`${factory}: every pepper id must be 1 to 8 letters, digits, "_" or "-" (the one given is not shown, as it may be a secret).`);
    }
    if (!isPepperSecret(secret)) {
      invalidOption(
        `${factory}: "pepper.secrets.${id}" must be a Buffer or Uint8Array of ${MIN_PEPPER_BYTES} to ${MAX_PEPPER_BYTES} bytes.`,
      );
    }
    if (isOneByteRepeated(secret)) {
      invalidOption(`${factory}: "pepper.secrets.${id}" is one byte repeated, not a random secret: use random bytes (openssl rand -base64 32).`);
    }
    const copy = new Uint8Array(secret);
    const form = hmacKeyForm(copy);
    if (isOneByteRepeatedThenZeros(form)) {
      invalidOption(`${factory}: "pepper.secrets.${id}" is one byte repeated with zero bytes after it, which HMAC-SHA256 takes as that byte repeated alone: use random bytes (openssl rand -base64 32).`);
    }
    const sameAs = idWithSameBytes(form, forms);
    if (sameAs !== undefined) {
      // A roll to a copy of the old pepper would look done, every row rehashed to the new id,
      // while a leak of the old bytes still exposed every hash.
      invalidOption(`${factory}: "pepper.secrets.${id}" acts as the same key as "pepper.secrets.${sameAs}" (the same bytes, or bytes HMAC-SHA256 cannot tell apart): each pepper id needs random bytes of its own.`);
    }
    forms.set(id, form);
    copies.set(id, copy);
  }

  if (typeof current !== 'string' || !copies.has(current)) {
    invalidOption(`${factory}: "pepper.current" must name one of the ids in "pepper.secrets".`);
  }
  return {
    currentId: current,
    current: copies.get(current)!,
    ids: [...copies.keys()],
    refuseUnpeppered,
    secretFor: (id) => copies.get(id),
  };
}

// SHA-256's block: HMAC hashes a longer key first, and pads any key with zeros to it.
const HMAC_SHA256_BLOCK_BYTES = 64;

/**
 * The key HMAC-SHA256 really uses for a pepper (RFC 2104): a secret longer than the block is
 * hashed first, and the key is then padded with zeros to the block. A pepper only ever keys
 * that HMAC (`rowPepper`), so two secrets of the same form bind every row alike: `X` and `X`
 * with zero bytes after it, or a long secret and its SHA-256.
 */
function hmacKeyForm(secret: Uint8Array): Uint8Array {
  const key = secret.length > HMAC_SHA256_BLOCK_BYTES ? createHash('sha256').update(secret).digest() : secret;
  const form = new Uint8Array(HMAC_SHA256_BLOCK_BYTES);
  form.set(key);
  return form;
}
