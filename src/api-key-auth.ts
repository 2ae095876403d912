// The authenticator's public shape: the `ApiKeyAuth` interface that `createApiKeyAuth`
// (authenticator.ts) returns, and the types of what it decides.
import type { ApiKeyAuthError, ApiKeyAuthErrorCode } from './errors.js';
import type { CredentialFailure, CredentialRequest } from './extract.js';
import type { Environment, KeyFormatFailure } from './key-format.js';
import type { AuthResponse } from './responses.js';
import { isThenable } from './thenable.js';

/** What a successful authentication attaches to the request. */
export interface ApiKeyContext {
  /** The key id: public, stable across regenerate. */
  keyId: string;
  accountId: string;
  keyType: string;
  environment: Environment;
}

/** What a route may demand beyond a live key. */
export interface RouteRequirement {
  /** The key type the route needs, such as `sms_api`. Other types get 403. */
  keyType?: string | undefined;
}

/** The internal reason behind a decision. Never sent to the client. */
export type DecisionReason =
  | 'authenticated'
  | CredentialFailure
  | KeyFormatFailure
  | 'environment_not_accepted'
  | 'unknown_lookup_id'
  | 'environment_mismatch'
  | 'secret_mismatch'
  | 'inactive_status'
  | 'expired_at'
  | 'wrong_key_type'
  | 'store_error'
  | 'store_timeout'
  | 'overloaded'
  | 'closed'
  | 'stored_hash_unparseable'
  | 'stored_row_invalid'
  | 'too_many_attempts'
  | 'internal_error';

/**
 * One authentication decision, as given to `onDecision` and the logger. It names the key by
 * its public ids only; the presented key and its secret are never part of it.
 */
export interface AuthDecision {
  outcome: 'allowed' | 'refused' | 'fault';
  /** HTTP status of the answer (200 when allowed). */
  status: number;
  code?: ApiKeyAuthErrorCode | undefined;
  reason: DecisionReason;
  /** More detail for operators, such as which stored-hash check failed. */
  detail?: string | undefined;
  keyId?: string | undefined;
  accountId?: string | undefined;
  lookupId?: string | undefined;
  environment?: Environment | undefined;
  keyStatus?: string | undefined;
}

/**
 * The result of {@link ApiKeyAuth.authenticate}. On a refusal, `response` is the answer to
 * write (status, headers, body) and `error` the same refusal as an `ApiKeyAuthError`, for
 * `next(err)`-style error handling; the error is built the first time `error` is read (it is
 * a getter, so a spread copy of the result leaves it out).
 */
export type AuthResult =
  | { ok: true; context: ApiKeyContext }
  | { ok: false; error: ApiKeyAuthError; response: AuthResponse };

/**
 * Whether {@link ApiKeyAuth.decide} gave a decision still to come rather than the result.
 * Checked by shape (any thenable), not with `instanceof Promise`, which a patched global
 * `Promise` or an app's wrapper would defeat: a pending decision taken for a result has no
 * `ok: true`, and must never be read as anything but a refusal.
 *
 * @param decided - what `decide()` returned.
 * @returns true when it must be awaited.
 * @example
 * ```ts
 * const decided = auth.decide(request);
 * const result = isPendingDecision(decided) ? await decided : decided;
 * ```
 */
export function isPendingDecision(decided: AuthResult | PromiseLike<AuthResult>): decided is PromiseLike<AuthResult> {
  return isThenable(decided);
}

/** An authenticator: create one per process and share it across routes. */
export interface ApiKeyAuth {
  /**
   * Runs the authentication pipeline for one request. Never throws: store faults, timeouts
   * and corrupted rows become refusals with a 5xx status.
   *
   * Pass a `NodeCredentialRequest`, or give `rawHeaders` and `remoteAddress` (or `clientIp`)
   * yourself: with `headers` alone, a second `Authorization` header is not seen (Node's
   * `req.headers` keeps the first), and the attempt throttle has no client address, so
   * forgeries aimed at a key's lookup id lock out its holder too.
   *
   * @example
   * ```ts
   * // A plain node:http request; a framework also passes where it keeps the client IP
   * // (Express's `req`, Koa's `ctx`) as the third argument.
   * const result = await auth.authenticate(new NodeCredentialRequest(req, req.url), { keyType: 'sms_api' });
   * ```
   */
  authenticate(request: CredentialRequest, requirement?: RouteRequirement): Promise<AuthResult>;
  /**
   * The same decision as {@link authenticate}, given as it is when it needed no waiting and as
   * a promise when it did (a store query, an Argon2 run). Malformed keys, 429s, 503s from a
   * full Argon2 pool and memo hits on a store that answers from memory need none (the 503 and
   * the memo hit only on such a store), so a framework can go on in the same turn
   * instead of a later microtask; keyward's adapters use it. Tell the two apart with
   * {@link isPendingDecision}. Never throws.
   *
   * @example
   * ```ts
   * const decided = auth.decide(new NodeCredentialRequest(req, req.url));
   * if (!isPendingDecision(decided)) return answer(decided);
   * // A decision never rejects; the catch is for a throw in answer.
   * Promise.resolve(decided).then(answer).catch(() => {
   *   if (!res.headersSent) res.writeHead(500);
   *   res.end();
   * });
   * ```
   */
  decide(request: CredentialRequest, requirement?: RouteRequirement): AuthResult | Promise<AuthResult>;
  /**
   * Writes now every `last_used_at` noted before the call; if an interval write is under way,
   * waits for it and then writes what it did not take. Never rejects (a failed write is
   * logged and retried, as on the interval). While a write given up on after
   * `storeTimeoutMs` has not settled, it writes nothing: that counts as a failed write.
   */
  flushUsage(): Promise<void>;
  /**
   * Flushes pending usage and stops background work: the Argon2 threads finish what runs,
   * drop what waits (those requests get 503) and exit. Call it on shutdown; after it, keys
   * the memo does not know get 503 `ERR_OVERLOADED`. Safe to call more than once.
   */
  close(): Promise<void>;
}
