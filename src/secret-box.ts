import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { ApiKeyAuthError, invalidOption } from './errors.js';
import { idWithSameBytes, isOneByteRepeated } from './key-material.js';
import { assertOptionsObject, knownOptions } from './options.js';

/**
 * The app's sealing keys for webhook passwords: every key that may open a stored value, and
 * the one that seals new values. Rotate by adding a key, making it `current`, re-sealing the
 * stored passwords (`KeyManager.resealWebhookPassword`), then dropping the old key.
 */
export interface SealingKeys {
  /** Id of the key that seals new values. Must be one of `keys`. */
  current: string;
  /**
   * Key id to 32 bytes of key material (AES-256), random: one byte repeated (all zeros, say)
   * and the same bytes under two ids are refused. Ids are 1 to 32 characters of
   * `A-Z a-z 0-9 _ -` and are stored in clear next to each sealed value.
   */
  keys: Readonly<Record<string, Uint8Array>>;
}

/** Seals and opens short secrets with AES-256-GCM. Create it with {@link createSecretBox}. */
export interface SecretBox {
  /** Id of the key new values are sealed with. */
  readonly currentKeyId: string;
  /**
   * Encrypts a secret under the current key.
   *
   * @param plaintext - the secret.
   * @param context - what the value is bound to (the key manager passes the key's id and
   *   webhook URL): it opens only with the same context. Left out, it opens only without one.
   * @returns `v1.<keyId>.<iv>.<ciphertext>.<tag>`, each part base64url without padding.
   * @throws {ApiKeyAuthError} `ERR_WEBHOOK_INVALID` (400) for anything but well-formed text of at
   *   most 2048 UTF-8 bytes, which `open` could not give back as it was, and for a context that
   *   is not well-formed text. The message names no value.
   */
  seal(plaintext: string, context?: string): string;
  /**
   * Decrypts a value made by `seal`, given the context it was sealed with.
   *
   * @throws {ApiKeyAuthError} `ERR_WEBHOOK_SECRET` when the value is malformed, names a key id
   *   this box does not hold, or fails authentication (wrong key, another context, or a
   *   tampered value).
   */
  open(sealed: string, context?: string): string;
  /** Whether a sealed value was made under a key other than the current one. */
  needsReseal(sealed: string): boolean;
}

const VERSION = 'v1';
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Longest sealed value looked at; a 1 KiB password seals to well under this. */
const MAX_SEALED_LENGTH = 4096;
/** Longest text `seal` takes: its sealed form (base64url, with IV, tag and labels) fits the above. */
const MAX_PLAINTEXT_BYTES = 2048;
// With the u flag, \p{Cs} matches only a surrogate without its pair.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Creates the AES-256-GCM box that seals webhook passwords at rest. Each value gets a fresh
 * random 12-byte IV, and the version, the key id and the caller's context are bound as
 * additional authenticated data, so a value cannot be relabelled to another key, nor moved
 * to another context, without failing to open.
 *
 * @param keys - see {@link SealingKeys}; the key bytes are copied, so later changes to the
 *   caller's buffers have no effect.
 * @returns the box.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` for a missing current key, a bad key id,
 *   key material that is not exactly 32 bytes, one byte repeated (all zeros, say), or the same
 *   bytes under two ids.
 * @example
 * ```ts
 * const k1 = Buffer.from(process.env.WEBHOOK_KEY_K1!, 'base64');
 * const box = createSecretBox({ current: 'k1', keys: { k1 } });
 * const sealed = box.seal('p4ss:w0rd:x'); // 'v1.k1.…'
 * box.open(sealed); // 'p4ss:w0rd:x'
 * ```
 */
export function createSecretBox(given: SealingKeys): SecretBox {
  return sealingBox(given, 'createSecretBox');
}

/**
 * {@link createSecretBox}, for the factory named in its option errors: `createSecretBox`
 * itself, or one that takes the sealing keys as an option (`createKeyManager`'s
 * `webhookKeys`), whose messages then name that option.
 *
 * @param factory - the factory's name; every option error starts with it.
 * @param option - the option holding the keys, or none when they are the factory's argument.
 * @param otherSecrets - secrets of other uses given to the same factory (its peppers), by the
 *   option path that names each: a key with the same bytes as one of them is refused.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID`, as {@link createSecretBox} says.
 */
export function sealingBox(given: SealingKeys, factory: string, option?: string, otherSecrets: ReadonlyMap<string, Uint8Array> = new Map()): SecretBox {
  const field = (name: string) => (option === undefined ? name : `${option}.${name}`);
  if (option === undefined) assertOptionsObject(given, factory);
  else if (!isObject(given)) invalidOption(`${factory}: "${option}" must be an object { current, keys }.`);
  // Its names are never repeated: a key pasted in as a name would be.
  const keys = knownOptions(given, ['current', 'keys'], factory, { naming: 'withheld', within: option });
  if (!isObject(keys.keys)) invalidOption(`${factory}: "${field('keys')}" must be an object mapping key ids to keys.`);

  const material = new Map<string, KeyObject>();
  // The bytes, only to tell keys apart while they are read.
  const copies = new Map<string, Uint8Array>();
  for (const [id, bytes] of Object.entries(keys.keys)) {
    if (!KEY_ID_PATTERN.test(id)) {
      // The id is not repeated: one that breaks the rule may be key material pasted as an id.
      invalidOption(`${factory}: every key id in "${field('keys')}" must be 1 to 32 characters of A-Z, a-z, 0-9, "_" or "-" (the one given is not shown, as it may be a key).`);
    }
    if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_BYTES) {
      invalidOption(`${factory}: "${field(`keys.${id}`)}" must be a Buffer or Uint8Array of exactly ${KEY_BYTES} bytes.`);
    }
    if (isOneByteRepeated(bytes)) {
      invalidOption(`${factory}: "${field(`keys.${id}`)}" is one byte repeated ${KEY_BYTES} times, not a random key: use ${KEY_BYTES} random bytes (openssl rand -base64 ${KEY_BYTES}).`);
    }
    const copy = Uint8Array.from(bytes);
    const sameAs = idWithSameBytes(copy, copies);
    if (sameAs !== undefined) {
      invalidOption(`${factory}: "${field(`keys.${id}`)}" holds the same bytes as "${field(`keys.${sameAs}`)}": each key id needs ${KEY_BYTES} random bytes of its own.`);
    }
    const sameAsOther = idWithSameBytes(copy, otherSecrets);
    if (sameAsOther !== undefined) {
      // One variable pasted into two settings: a leak of either would then be a leak of both.
      invalidOption(`${factory}: "${field(`keys.${id}`)}" holds the same bytes as "${sameAsOther}": a sealing key and a pepper each need random bytes of their own.`);
    }
    copies.set(id, copy);
    material.set(id, createSecretKey(copy));
  }
  if (material.size === 0) invalidOption(`${factory}: "${field('keys')}" must hold at least one key.`);
  if (typeof keys.current !== 'string' || !material.has(keys.current)) {
    invalidOption(`${factory}: "${field('current')}" must name one of the ids in "${field('keys')}".`);
  }
  const currentKeyId = keys.current;
  const currentKey = material.get(currentKeyId)!;

  return {
    currentKeyId,

    seal(plaintext, context) {
      // Only what open() can take back: text (a lone surrogate would come back as U+FFFD) short
      // enough that its sealed form stays within MAX_SEALED_LENGTH. The message names no value.
      if (typeof plaintext !== 'string' || LONE_SURROGATE.test(plaintext) || Buffer.byteLength(plaintext, 'utf8') > MAX_PLAINTEXT_BYTES) {
        throw new ApiKeyAuthError('ERR_WEBHOOK_INVALID', `seal takes well-formed text of at most ${MAX_PLAINTEXT_BYTES} bytes.`, { status: 400 });
      }
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(additionalData(currentKeyId, context));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const parts = [iv, ciphertext, cipher.getAuthTag()].map((part) => part.toString('base64url'));
      return [VERSION, currentKeyId, ...parts].join('.');
    },

    open(sealed, context) {
      const parsed = parseSealed(sealed);
      const key = material.get(parsed.keyId);
      if (!key) {
        throw secretError(`The webhook password was sealed with key id "${parsed.keyId}", which is not configured: list that key in webhookKeys.keys again (then resealWebhookPassword moves it to the current key), or set the password again.`);
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, parsed.iv, {
          authTagLength: TAG_BYTES,
        });
        decipher.setAAD(additionalData(parsed.keyId, context));
        decipher.setAuthTag(parsed.tag);
        const plain = Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]);
        // ignoreBOM keeps a leading U+FEFF, which is part of the password as it was sealed.
        return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(plain);
      } catch {
        // The cause is left out on purpose: nothing about the bytes may travel with the error.
        const failure = secretError('The webhook password cannot be opened: wrong key, sealed for another key or URL, or altered.');
        openFailures.add(failure);
        throw failure;
      }
    },

    needsReseal(sealed) {
      return parseSealed(sealed).keyId !== currentKeyId;
    },
  };
}

interface SealedParts {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

function parseSealed(sealed: unknown): SealedParts {
  if (typeof sealed !== 'string' || sealed.length > MAX_SEALED_LENGTH) throw notSealed();
  const parts = sealed.split('.');
  const [version, keyId, iv, ciphertext, tag] = parts;
  const wellFormed =
    parts.length === 5 &&
    version === VERSION &&
    KEY_ID_PATTERN.test(keyId!) &&
    [iv, ciphertext, tag].every((part) => BASE64URL_PATTERN.test(part!));
  if (!wellFormed) throw notSealed();

  const decoded = {
    keyId: keyId!,
    iv: Buffer.from(iv!, 'base64url'),
    ciphertext: Buffer.from(ciphertext!, 'base64url'),
    tag: Buffer.from(tag!, 'base64url'),
  };
  // Canonical text only: base64url decoding ignores a last character's spare bits and a
  // trailing lone character, so an altered string could still open.
  const canonical =
    decoded.iv.toString('base64url') === iv &&
    decoded.ciphertext.toString('base64url') === ciphertext &&
    decoded.tag.toString('base64url') === tag;
  if (!canonical || decoded.iv.length !== IV_BYTES || decoded.tag.length !== TAG_BYTES) throw notSealed();
  return decoded;
}

function additionalData(keyId: string, context: string | undefined): Buffer {
  // UTF-8 turns every lone surrogate into U+FFFD, so such contexts would open each other's values.
  if (context !== undefined && (typeof context !== 'string' || LONE_SURROGATE.test(context))) {
    // open() turns this into its own ERR_WEBHOOK_SECRET: such a value cannot be opened.
    throw new ApiKeyAuthError('ERR_WEBHOOK_INVALID', 'A seal context must be well-formed text, or left out.', { status: 400 });
  }
  // A key id holds no dot, so the context cannot be mistaken for part of it.
  return Buffer.from(context === undefined ? `${VERSION}.${keyId}` : `${VERSION}.${keyId}.${context}`, 'utf8');
}

// The errors of values that cannot be opened as they are (failed authentication, or no sealed
// value at all), as opposed to values under a key id the box does not hold: see isOpenFailure.
const openFailures = new WeakSet<object>();

/**
 * Whether `open` threw this error because the value itself cannot be opened (wrong key bytes,
 * another context, altered, or not a sealed value at all), not because its key id is not
 * configured, which the app fixes in its options.
 */
export function isOpenFailure(error: unknown): boolean {
  return typeof error === 'object' && error !== null && openFailures.has(error);
}

function notSealed(): ApiKeyAuthError {
  const failure = secretError('The stored webhook password is not a sealed value.');
  openFailures.add(failure);
  return failure;
}

function secretError(message: string): ApiKeyAuthError {
  return new ApiKeyAuthError('ERR_WEBHOOK_SECRET', message, { status: 500, expose: false });
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
