import { ApiKeyAuthError, invalidOption } from './errors.js';
import { assertOptionalSyncFunction, assertOptionsObject, knownOptions } from './options.js';
import { isIssuableKeyType } from './key-type.js';
import { checkedArgon2Params, DEFAULT_ARGON2_PARAMS, type Argon2Params } from './phc.js';
import type { KeyStore } from './store.js';
import { assertStore, refuseStoreAsOptions } from './auth-options.js';
import { sealingBox, type SealingKeys, type SecretBox } from './secret-box.js';
import { resolvePepper, type PepperOptions, type PepperRing } from './pepper.js';
import { validTimeOf } from './valid-date.js';

/** Options of {@link createKeyManager}. */
export interface KeyManagerOptions {
  /** The same store the authenticators read. Required. */
  store: KeyStore;
  /** Argon2id parameters for new hashes. @default DEFAULT_ARGON2_PARAMS */
  argon2?: Argon2Params | undefined;
  /** Key type of issued keys unless `issue` names one. @default 'sms_api' */
  defaultKeyType?: string | undefined;
  /**
   * The current time, read by every call that stores or judges a time, before it writes
   * anything (`issue` and `regenerate` read it as they start and again at the write); a value
   * that is not a valid Date fails that call with `ERR_OPTIONS_INVALID` (500) and nothing is
   * written.
   * @default () => new Date()
   */
  clock?: (() => Date) | undefined;
  /**
   * Pepper new hashes are written with (`pepper.current`); give the authenticators the same
   * option. @default none
   */
  pepper?: PepperOptions | undefined;
  /**
   * Keys that seal webhook passwords (AES-256-GCM), checked here. Without them the manager
   * still stores webhook URLs and usernames, but refuses to store a password, or to move a
   * stored one to a new URL.
   */
  webhookKeys?: SealingKeys | undefined;
}

/** Options after defaults and checks. */
export interface ResolvedKeyManagerOptions {
  store: KeyStore;
  argon2: Argon2Params;
  pepper: PepperRing | undefined;
  defaultKeyType: string;
  /** The `clock` option, read where a call needs the time: a valid Date, or it throws `ERR_OPTIONS_INVALID`. */
  now: () => Date;
  /** The box of the `webhookKeys` option, or undefined without them. */
  box: SecretBox | undefined;
}

/** The factory these options belong to: every message about them starts with its name. */
const FACTORY = 'createKeyManager';

const OPTION_NAMES: readonly (keyof KeyManagerOptions)[] = [
  'store',
  'argon2',
  'defaultKeyType',
  'clock',
  'webhookKeys',
  'pepper',
];

/**
 * Applies defaults and checks every option once.
 *
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` for a missing store or a bad option.
 */
export function resolveKeyManagerOptions(given: KeyManagerOptions): ResolvedKeyManagerOptions {
  assertOptionsObject(given, FACTORY);
  refuseStoreAsOptions(given, FACTORY);
  const options = knownOptions(given, OPTION_NAMES, FACTORY);
  assertStore(options.store, FACTORY);
  const argon2 = checkedArgon2Params(options.argon2 ?? DEFAULT_ARGON2_PARAMS, 'argon2', FACTORY);
  const ring = resolvePepper(options.pepper, FACTORY);
  const defaultKeyType = options.defaultKeyType ?? 'sms_api';
  if (!isIssuableKeyType(defaultKeyType)) {
    invalidOption(`${FACTORY}: "defaultKeyType" must be 1 to 64 lower-case letters, digits or "_".`);
  }
  assertOptionalSyncFunction(options.clock, 'clock', FACTORY);
  const clock = options.clock ?? (() => new Date());
  // An invalid Date would be stored as it is (a card's createdAt null on MemoryKeyStore, a
  // store fault quoting the value on PostgreSQL) and makes every expiry comparison false.
  const now = (): Date => {
    let time: Date | undefined;
    try {
      time = validTimeOf(clock());
    } catch (error) {
      throw badClock(error);
    }
    if (time === undefined) throw badClock();
    return time;
  };
  const peppers = new Map(ring?.ids.map((id) => [`pepper.secrets.${id}`, ring.secretFor(id)!]));
  const box = options.webhookKeys === undefined ? undefined : sealingBox(options.webhookKeys, FACTORY, 'webhookKeys', peppers);
  const { store } = options;
  return { store, argon2, pepper: ring, defaultKeyType, now, box };
}

/**
 * The `clock` option gave no valid Date, or threw (`cause`); the message never repeats what
 * it gave.
 */
function badClock(cause?: unknown): ApiKeyAuthError {
  const what = cause === undefined ? 'returned no valid Date' : 'threw (see cause)';
  return new ApiKeyAuthError('ERR_OPTIONS_INVALID', `${FACTORY}: clock() ${what}.`, {
    status: 500,
    expose: false,
    ...(cause === undefined ? {} : { cause }),
  });
}
