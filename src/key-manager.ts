import { ApiKeyAuthError } from './errors.js';
import { randomBase62 } from './base62.js';
import { hashSecret } from './hash.js';
import { ENVIRONMENTS, generateApiKey, type Environment } from './key-format.js';
import {
  assertKnownOptions,
  assertOptionalFunction,
  assertOptionsObject,
} from './options.js';
import { assertArgon2Params, DEFAULT_ARGON2_PARAMS, type Argon2Params } from './phc.js';
import { KEY_STATUSES, normalizeStatus, statusLabel, type KeyStatus, type StatusLabel } from './statuses.js';
import type { ApiKeyRow, KeyStore } from './store.js';
import { assertStore } from './auth-options.js';
import { resolvePepper, type PepperOptions } from './pepper.js';

/** Options of {@link createKeyManager}. */
export interface KeyManagerOptions {
  /** The same store the authenticators read. Required. */
  store: KeyStore;
  /** Argon2id parameters for new hashes. @default DEFAULT_ARGON2_PARAMS */
  argon2?: Argon2Params;
  /** Key type of issued keys unless `issue` names one. @default 'sms_api' */
  defaultKeyType?: string;
  /** The current time. @default () => new Date() */
  clock?: () => Date;
  /**
   * Pepper new hashes are written with (`pepper.current`); give the authenticators the same
   * option. @default none
   */
  pepper?: PepperOptions;
}

/** The portal card of a key: what may be shown after issue. Never the cleartext. */
export interface KeyCard {
  keyId: string;
  keyType: string;
  /** Raw status value, as stored. */
  status: string | null;
  statusLabel: StatusLabel;
  environment: Environment;
  createdAt: Date;
  /** Null when the key has never authenticated a call ("Never" on the card). */
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  /** Such as `sk_live_kqz3…oU0i`. */
  maskedKey: string;
}

/** What issue and regenerate return: the only moment the cleartext exists. */
export interface IssuedKey {
  /** The full key. Show it once; keyward keeps no copy. */
  key: string;
  card: KeyCard;
}

/** Input of {@link KeyManager.issue}. */
export interface IssueKeyInput {
  accountId: string;
  environment: Environment;
  /** @default the manager's `defaultKeyType` */
  keyType?: string;
  /** Initial status. @default 'allowed' */
  status?: KeyStatus;
  /** Hard expiry, if any. */
  expiresAt?: Date | null;
}

/** The portal's verbs over a {@link KeyStore}. */
export interface KeyManager {
  /**
   * Creates the account's key for an environment and returns its cleartext, once.
   *
   * @throws {ApiKeyAuthError} `ERR_KEY_EXISTS` when a live key exists: regenerate it instead.
   */
  issue(input: IssueKeyInput): Promise<IssuedKey>;
  /** The card of a live key, or null when there is none. */
  describe(keyId: string): Promise<KeyCard | null>;
  /** The card of an account's live key in an environment, or null (the empty state). */
  describeAccount(accountId: string, environment: Environment): Promise<KeyCard | null>;
  /**
   * Replaces the key's secret in one atomic store step: the old key fails from the moment
   * this returns. See the README for what carries over.
   *
   * @throws {ApiKeyAuthError} `ERR_KEY_NOT_FOUND`, or `ERR_KEY_CONFLICT` when a concurrent
   *   regenerate of the same key won.
   */
  regenerate(keyId: string): Promise<IssuedKey>;
  /** Sets `revoked_at`: the key then answers the generic 401. */
  revoke(keyId: string): Promise<void>;
  /** Sets `soft_deleted`: the key then answers the generic 401. */
  softDelete(keyId: string): Promise<void>;
  /** Changes the status value; `allowed` is the only one that authenticates. */
  setStatus(keyId: string, status: KeyStatus): Promise<KeyCard>;
}

const OPTION_NAMES: readonly (keyof KeyManagerOptions)[] = ['store', 'argon2', 'defaultKeyType', 'clock', 'pepper'];

/** Statuses a regenerate lifts back to `allowed`; every other status is kept. */
const LIFTED_BY_REGENERATE: ReadonlySet<string> = new Set(['expired', 'revoqued', 'revoked']);

/**
 * Creates the key manager a portal backend uses to issue, describe, rotate and retire keys.
 *
 * @param options - see {@link KeyManagerOptions}; only `store` is required.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` for a missing store or a bad option.
 * @example
 * ```ts
 * const manager = createKeyManager({ store });
 * const { key, card } = await manager.issue({ accountId: 'acct_42', environment: 'sandbox' });
 * ```
 */
export function createKeyManager(options: KeyManagerOptions): KeyManager {
  assertOptionsObject(options, 'createKeyManager');
  assertKnownOptions(options, OPTION_NAMES, 'createKeyManager');
  assertStore(options.store);
  const argon2 = options.argon2 ?? DEFAULT_ARGON2_PARAMS;
  assertArgon2Params(argon2, 'argon2');
  const ring = resolvePepper(options.pepper, 'createKeyManager');
  const pepper = ring && { id: ring.currentId, secret: ring.current };
  const defaultKeyType = options.defaultKeyType ?? 'sms_api';
  if (typeof defaultKeyType !== 'string' || !/^[a-z0-9_]{1,64}$/.test(defaultKeyType)) {
    const message = '"defaultKeyType" must be 1 to 64 lower-case letters, digits or "_".';
    throw new ApiKeyAuthError('ERR_OPTIONS_INVALID', message);
  }
  assertOptionalFunction(options.clock, 'clock');
  const clock = options.clock ?? (() => new Date());
  const { store } = options;

  const liveRow = async (keyId: string): Promise<ApiKeyRow> => {
    const row = await store.findById(keyId);
    if (!row) throw notFound();
    return row;
  };

  const change = async (keyId: string, patch: Partial<ApiKeyRow>): Promise<ApiKeyRow> => {
    const row = await store.modify(keyId, () => patch);
    if (!row) throw notFound();
    return row;
  };

  return {
    async issue(input) {
      assertIssueInput(input);
      const generated = generateApiKey(input.environment);
      const row: ApiKeyRow = {
        id: `key_${randomBase62(20)}`,
        account_id: input.accountId,
        key_type: input.keyType ?? defaultKeyType,
        status: input.status ?? 'allowed',
        environment: input.environment,
        created_at: clock(),
        last_used_at: null,
        expires_at: input.expiresAt ?? null,
        soft_deleted: false,
        revoked_at: null,
        lookup_id: generated.lookupId,
        key_hash: await hashSecret(generated.secret, argon2, pepper),
        masked_key: generated.masked,
        webhook_url: null,
        webhook_basic_auth_username: null,
        webhook_basic_auth_password_sealed: null,
      };
      await store.insert(row);
      return { key: generated.key, card: toCard(row) };
    },

    async describe(keyId) {
      const row = await store.findById(keyId);
      return row ? toCard(row) : null;
    },

    async describeAccount(accountId, environment) {
      const row = await store.findLive(accountId, environment);
      return row ? toCard(row) : null;
    },

    async regenerate(keyId) {
      const before = await liveRow(keyId);
      const generated = generateApiKey(before.environment);
      // Hash outside the store's critical section: Argon2 is slow and needs no lock.
      const keyHash = await hashSecret(generated.secret, argon2, pepper);
      const after = await store.modify(keyId, (current) => {
        if (current.lookup_id !== before.lookup_id) throw conflict();
        return {
          lookup_id: generated.lookupId,
          key_hash: keyHash,
          masked_key: generated.masked,
          last_used_at: null,
          ...(LIFTED_BY_REGENERATE.has(current.status ?? '') ? { status: 'allowed', expires_at: null } : {}),
          ...(isPast(current.expires_at, clock()) ? { expires_at: null } : {}),
        };
      });
      if (!after) throw notFound();
      return { key: generated.key, card: toCard(after) };
    },

    async revoke(keyId) {
      await change(keyId, { revoked_at: clock() });
    },

    async softDelete(keyId) {
      await change(keyId, { soft_deleted: true });
    },

    async setStatus(keyId, status) {
      if (!KEY_STATUSES.includes(status)) {
        throw new TypeError(`status must be one of ${KEY_STATUSES.join(', ')}`);
      }
      return toCard(await change(keyId, { status }));
    },
  };
}

/** The card of a row. */
export function toCard(row: ApiKeyRow): KeyCard {
  return {
    keyId: row.id,
    keyType: row.key_type,
    status: row.status,
    statusLabel: statusLabel(normalizeStatus(row.status)),
    environment: row.environment,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    expiresAt: row.expires_at,
    maskedKey: row.masked_key,
  };
}

function isPast(when: Date | null, now: Date): boolean {
  return when !== null && new Date(when) <= now;
}

function assertIssueInput(input: IssueKeyInput): void {
  if (typeof input?.accountId !== 'string' || input.accountId.length === 0 || input.accountId.length > 200) {
    throw new TypeError('accountId must be a non-empty string of at most 200 characters');
  }
  if (!ENVIRONMENTS.includes(input.environment)) {
    throw new TypeError('environment must be "production" or "sandbox"');
  }
  if (input.keyType !== undefined) assertKeyType(input.keyType, 'keyType');
  if (input.status !== undefined && !KEY_STATUSES.includes(input.status)) {
    throw new TypeError(`status must be one of ${KEY_STATUSES.join(', ')}`);
  }
  if (input.expiresAt != null && Number.isNaN(new Date(input.expiresAt).getTime())) {
    throw new TypeError('expiresAt must be a valid Date or null');
  }
}

function assertKeyType(value: unknown, name: string): void {
  if (typeof value !== 'string' || !/^[a-z0-9_]{1,64}$/.test(value)) {
    throw new TypeError(`${name} must be 1 to 64 lower-case letters, digits or "_"`);
  }
}

function notFound(): ApiKeyAuthError {
  return new ApiKeyAuthError('ERR_KEY_NOT_FOUND', 'No live key with this id.', { status: 404 });
}

function conflict(): ApiKeyAuthError {
  return new ApiKeyAuthError(
    'ERR_KEY_CONFLICT',
    'The key was regenerated by another request at the same time; read it again.',
    { status: 409 },
  );
}
