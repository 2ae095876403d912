import { ownField } from './own-field.js';

/**
 * Every error code keyward gives out. Codes are public API: they never change meaning, and a
 * new one is added only in a minor release.
 *
 * - `ERR_API_KEY_MISSING`: the request carried no credential at all (401).
 * - `ERR_API_KEY_INVALID`: a credential was sent but is not a live key: malformed, bad checksum,
 *   unknown, deleted, revoked, wrong secret, wrong environment, or two different keys (401).
 * - `ERR_API_KEY_INACTIVE`: the key is genuine but its status is not `allowed` or it has
 *   expired (403).
 * - `ERR_API_KEY_WRONG_TYPE`: the key is live but the route needs another key type (403).
 * - `ERR_TOO_MANY_ATTEMPTS`: too many failed attempts for that key or client, or from that
 *   client at a webhook receiver (429).
 * - `ERR_OVERLOADED`: the Argon2 queue is full, or the authenticator was closed; retry
 *   shortly, on another server after a close (503).
 * - `ERR_STORE_UNAVAILABLE`: the key store failed or timed out (503); a retry may succeed.
 * - `ERR_STORE_REFUSED`: the key store's database refused the statement in a way a retry
 *   repeats: a constraint, a value its column does not admit, a missing table or privilege.
 *   Nothing was written (500). A request still gets 503 `ERR_STORE_UNAVAILABLE`.
 * - `ERR_STORED_HASH_INVALID`: a stored row holds a hash keyward refuses to compute (500).
 * - `ERR_STORED_ROW_INVALID`: a stored row is missing fields or has impossible values, or a
 *   row a store gave back after a key manager write does not hold what was written (500).
 * - `ERR_INTERNAL`: anything else that went wrong inside keyward (500). Clients see this code
 *   for every non-exposed server fault.
 * - `ERR_OPTIONS_INVALID`: a factory was given options it cannot work with (thrown at setup),
 *   a key manager's `clock` option returned no valid Date (thrown by the call), `setWebhook`
 *   was given a password by a manager without `webhookKeys`, `hashSecret`, `verifySecret` or
 *   `needsRehash` was given Argon2 parameters or a pepper it cannot use, or
 *   `webhookAuthorizationFor` was given something other than a row and a box (500).
 * - `ERR_KEY_EXISTS`: issuing a key for an account and environment that already has a live
 *   key, or a store write that would take an id or lookup id another row holds (409).
 * - `ERR_KEY_NOT_FOUND`: a lifecycle operation named a key that is not live (404).
 * - `ERR_KEY_CONFLICT`: a concurrent regenerate won, another request revoked, deleted or
 *   regenerated a new key before `issue` read it back, or another request changed the fields
 *   of a write the store did not confirm; read the key again (409).
 * - `ERR_INVALID_ARGUMENT`: a key manager method (or `hashSecret`) was given an argument value it cannot use (400).
 * - `ERR_WEBHOOK_INVALID`: webhook settings that cannot be stored (bad URL, bad credentials),
 *   or a password or header the webhook helpers (`seal`, `basicAuthorizationHeader`) cannot
 *   take (400); or, from `setWebhook`, a stored username that breaks the rules, kept with a
 *   new password (409, exposed).
 * - `ERR_WEBHOOK_SECRET`: a sealed webhook password cannot be opened (unknown or wrong key)
 *   (500); or, from `setWebhook`, a kept password cannot be kept, so it must be sent again
 *   (409, exposed).
 * - `ERR_BASIC_AUTH_MISSING`: a webhook receiver got no `Authorization: Basic` header (401).
 * - `ERR_BASIC_AUTH_INVALID`: a webhook receiver got Basic credentials that are malformed or
 *   do not match (401).
 */
export type ApiKeyAuthErrorCode =
  | 'ERR_API_KEY_MISSING'
  | 'ERR_API_KEY_INVALID'
  | 'ERR_API_KEY_INACTIVE'
  | 'ERR_API_KEY_WRONG_TYPE'
  | 'ERR_TOO_MANY_ATTEMPTS'
  | 'ERR_OVERLOADED'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_STORE_REFUSED'
  | 'ERR_STORED_HASH_INVALID'
  | 'ERR_STORED_ROW_INVALID'
  | 'ERR_INTERNAL'
  | 'ERR_OPTIONS_INVALID'
  | 'ERR_KEY_EXISTS'
  | 'ERR_KEY_NOT_FOUND'
  | 'ERR_KEY_CONFLICT'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_WEBHOOK_INVALID'
  | 'ERR_WEBHOOK_SECRET'
  | 'ERR_BASIC_AUTH_MISSING'
  | 'ERR_BASIC_AUTH_INVALID';

/**
 * The HTTP status each code stands for, as listed above: the status of an error made without
 * one, so that a store's `new ApiKeyAuthError('ERR_KEY_EXISTS', message)` is a 409 as the
 * manager's own is.
 */
const STATUS_OF_CODE: Readonly<Record<ApiKeyAuthErrorCode, number>> = Object.freeze({
  ERR_API_KEY_MISSING: 401,
  ERR_API_KEY_INVALID: 401,
  ERR_API_KEY_INACTIVE: 403,
  ERR_API_KEY_WRONG_TYPE: 403,
  ERR_TOO_MANY_ATTEMPTS: 429,
  ERR_OVERLOADED: 503,
  ERR_STORE_UNAVAILABLE: 503,
  ERR_STORE_REFUSED: 500,
  ERR_STORED_HASH_INVALID: 500,
  ERR_STORED_ROW_INVALID: 500,
  ERR_INTERNAL: 500,
  ERR_OPTIONS_INVALID: 500,
  ERR_KEY_EXISTS: 409,
  ERR_KEY_NOT_FOUND: 404,
  ERR_KEY_CONFLICT: 409,
  ERR_INVALID_ARGUMENT: 400,
  ERR_WEBHOOK_INVALID: 400,
  ERR_WEBHOOK_SECRET: 500,
  ERR_BASIC_AUTH_MISSING: 401,
  ERR_BASIC_AUTH_INVALID: 401,
});

/**
 * The status an error of this code takes when it is made without one.
 *
 * @param code - any code; one keyward does not know (from JavaScript) gives 500.
 */
export function statusOfCode(code: ApiKeyAuthErrorCode): number {
  return Object.hasOwn(STATUS_OF_CODE, code) ? STATUS_OF_CODE[code] : 500;
}

/** Whether `value` is an HTTP status an error can answer with: an integer from 400 to 599. */
function isErrorStatus(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 400 && (value as number) <= 599;
}

/** Options accepted by {@link ApiKeyAuthError}. */
export interface ApiKeyAuthErrorOptions {
  /**
   * HTTP status that answers a request failing with this error: an integer from 400 to 599.
   * Any other value (200, `NaN`, a string) is replaced by the default, so an app that answers
   * with `error.status` never sends a success or crashes on an invalid status.
   * @default the code's status: 401 for `ERR_API_KEY_INVALID`, 409 for `ERR_KEY_EXISTS`, 503
   *   for `ERR_STORE_UNAVAILABLE` and so on, as {@link ApiKeyAuthErrorCode} lists them; 500
   *   for a code keyward does not know
   */
  status?: number | undefined;
  /** Whether the message may be shown to the client. @default status < 500 */
  expose?: boolean | undefined;
  /** Response headers that belong to the answer, such as `WWW-Authenticate` or `Retry-After`. */
  headers?: Record<string, string> | undefined;
  /** The lower-level error that caused this one, if any. */
  cause?: unknown;
  /** On `ERR_API_KEY_INACTIVE`: the key's status (`suspended`, `expired`, … or `unknown`). */
  keyStatus?: string | undefined;
}

/** Marks keyward's errors; `Symbol.for`, so every copy of keyward uses the same one. */
const ERROR_BRAND = Symbol.for('keyward.ApiKeyAuthError');

/**
 * The one error class keyward throws or hands to your error handling. It carries a stable
 * `code`, the HTTP `status` to answer with, `expose` (whether `message` is safe for clients)
 * and `headers` (a challenge or `Retry-After`), the shape Koa, Express and Fastify error
 * handlers already understand. Messages never contain a key, a secret or a password.
 *
 * `instanceof ApiKeyAuthError` also holds for an error from another copy of keyward: an app
 * that both imports and requires it loads the ESM and the CommonJS build, two classes of this
 * name, and a store or handler written against one meets errors of the other.
 *
 * @example
 * ```ts
 * try {
 *   await manager.issue({ accountId, environment: 'production' });
 * } catch (error) {
 *   if (error instanceof ApiKeyAuthError && error.code === 'ERR_KEY_EXISTS') {
 *     // offer to regenerate instead
 *   }
 * }
 * ```
 */
export class ApiKeyAuthError extends Error {
  /**
   * True for keyward's errors, whichever copy of keyward made them (see the class note).
   * A subclass is checked the usual way, by its prototype chain.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== ApiKeyAuthError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ERROR_BRAND] === true;
  }

  override readonly name = 'ApiKeyAuthError';
  readonly code: ApiKeyAuthErrorCode;
  readonly status: number;
  readonly statusCode: number;
  readonly expose: boolean;
  readonly headers: Readonly<Record<string, string>>;
  /** On `ERR_API_KEY_INACTIVE`: the key's status, as told to the caller. */
  readonly keyStatus: string | undefined;

  constructor(code: ApiKeyAuthErrorCode, message: string, options?: ApiKeyAuthErrorOptions | null) {
    // `null` is read as no options: this runs where something already went wrong (a store's
    // own error handling), and must not throw a TypeError of its own there.
    const given = options ?? {};
    const cause = ownField(given, 'cause');
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    const status = ownField(given, 'status');
    this.status = isErrorStatus(status) ? status : statusOfCode(code);
    // Express's final handler and Fastify read `statusCode`; Koa reads `status`.
    this.statusCode = this.status;
    this.expose = ownField(given, 'expose') ?? this.status < 500;
    this.headers = Object.freeze({ ...ownField(given, 'headers') });
    this.keyStatus = ownField(given, 'keyStatus');
  }
}

// The build renames a class that refers to itself (`class _ApiKeyAuthError`); logs and stack
// traces show this name, the one the docs use.
Object.defineProperty(ApiKeyAuthError, 'name', { value: 'ApiKeyAuthError' });

// Shared by every copy of keyward in a process, through the global symbol registry.
Object.defineProperty(ApiKeyAuthError.prototype, ERROR_BRAND, { value: true });

/**
 * Throws the setup-time error for a bad option.
 *
 * @throws {ApiKeyAuthError} always, with code `ERR_OPTIONS_INVALID`.
 */
export function invalidOption(message: string): never {
  throw new ApiKeyAuthError('ERR_OPTIONS_INVALID', message);
}
