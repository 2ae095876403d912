import { ApiKeyAuthError, statusOfCode, type ApiKeyAuthErrorCode, type ApiKeyAuthErrorOptions } from './errors.js';
import { isIssuableKeyType } from './key-type.js';
import { quotedName } from './options.js';
import { statusMessage, type KeyStatus } from './statuses.js';
import { ownField } from './own-field.js';
import { isThenable } from './thenable.js';

/** What an adapter writes for a refused request: decided entirely by the core. */
export interface AuthResponse {
  status: number;
  headers: Readonly<Record<string, string>>;
  /** Serialized JSON body. */
  body: string;
}

/**
 * Replaces the JSON body of refusals. Receives a copy of the error (its `code`, `status`,
 * `message`, `expose`, `keyStatus`, `cause`) and returns any JSON-serializable value.
 *
 * > [!NOTE]
 * > It is called for server faults too, whose `code`, `message` and `cause` are for
 * > operators: `ERR_STORED_HASH_INVALID` ("stored hash unparseable"), `ERR_STORED_ROW_INVALID`
 * > ("stored row invalid") and `ERR_INTERNAL` ("unexpected failure": a clock that gave no
 * > valid Date, a route requirement keyward cannot read, or anything else thrown inside
 * > keyward, which is the `cause`), each with status 500 and `expose` false. Check
 * > `error.expose`: when it is false, send a generic body, your own or {@link defaultErrorBody}'s
 * > (`ERR_INTERNAL`, "Internal server error."), and nothing of the error but its status.
 *
 * @example
 * ```ts
 * const auth = createApiKeyAuth({
 *   store,
 *   errorBody: (error) =>
 *     error.expose ? { code: error.code, detail: error.message } : defaultErrorBody(error),
 * });
 * ```
 */
export type ErrorBodyFormatter = (error: ApiKeyAuthError) => unknown;

/** The fields of an error that an answer is made from. */
type ErrorFields = Pick<ApiKeyAuthError, 'code' | 'message' | 'status' | 'expose' | 'headers' | 'keyStatus'>;

const formatDefault = (error: ErrorFields) => ({
  error: {
    code: publicCode(error),
    message: publicMessage(error),
    ...(error.keyStatus ? { key_status: error.keyStatus } : {}),
  },
});

/**
 * The default body: `{"error":{"code":"…","message":"…"}}`, plus `key_status` on a 403. An
 * error whose `expose` is false gets `ERR_INTERNAL` and "Internal server error." instead of
 * its own code and message. A custom `errorBody` may return it for such errors.
 *
 * @param error - the refusal to describe.
 * @returns the body object, ready for `JSON.stringify`.
 * @example
 * ```ts
 * const refused = new ApiKeyAuthError('ERR_API_KEY_INVALID', 'The API key is invalid.', { status: 401 });
 * defaultErrorBody(refused); // { error: { code: 'ERR_API_KEY_INVALID', message: 'The API key is invalid.' } }
 * // A server fault (status 500, so not exposed) keeps its code and message to itself:
 * defaultErrorBody(new ApiKeyAuthError('ERR_STORED_ROW_INVALID', 'stored row invalid'));
 * // { error: { code: 'ERR_INTERNAL', message: 'Internal server error.' } }
 * ```
 */
export const defaultErrorBody: ErrorBodyFormatter = formatDefault;

/** The message of every `ERR_TOO_MANY_ATTEMPTS` answer, the authenticator's and the receivers'. */
export const TOO_MANY_ATTEMPTS_MESSAGE = 'Too many failed attempts. Retry later.';

/** Most characters of another issuer's key type a wrong-type message repeats: as many as `issue`'s longest has. */
const MAX_SHOWN_KEY_TYPE = 64;

const JSON_HEADERS = Object.freeze({
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
});

/**
 * Serializes an error into the response adapters write. An app's formatter gets a copy of
 * the error, so whatever it does to it changes neither this answer's status and headers, nor
 * the default body it falls back to, nor the error handed on with `forwardErrors`. A
 * formatter that throws, returns a promise, or returns something JSON cannot write falls
 * back to the default body instead of turning a refusal into a crash; its result is
 * serialized exactly once, so a `toJSON` that answers differently a second time cannot slip
 * past that check.
 *
 * @internal Shared with keyward's other entry points; not public API, and may change in any release.
 */
export function responseFor(error: ApiKeyAuthError, format: ErrorBodyFormatter, onFailure?: ErrorBodyFailureListener): AuthResponse {
  const custom = format === defaultErrorBody ? undefined : formattedBody(copyOf(error), format, onFailure);
  return responseWith(error, custom ?? JSON.stringify(formatDefault(error)));
}

function responseWith(error: ErrorFields, body: string): AuthResponse {
  // Content-Length is set here so that every adapter sends the very same header set.
  const length = String(Buffer.byteLength(body));
  return {
    status: error.status,
    headers: { ...JSON_HEADERS, ...error.headers, 'content-length': length },
    body,
  };
}

/** Why an app's `errorBody` gave no body it could send (the default body went instead). */
export type ErrorBodyFailure = 'threw' | 'returned a promise' | 'returned no JSON';

/** Told each time an app's `errorBody` fails; `cause` is what it threw, if it threw. */
export type ErrorBodyFailureListener = (failure: ErrorBodyFailure, cause?: unknown) => void;

/** An app formatter's body, or undefined when it is no usable JSON. */
function formattedBody(error: ApiKeyAuthError, format: ErrorBodyFormatter, onFailure?: ErrorBodyFailureListener): string | undefined {
  let value: unknown;
  let pending: boolean;
  try {
    value = format(error);
    // Inside the try: a result whose `then` getter throws is the formatter's bug too.
    pending = isThenable(value);
    // A promise would serialize as `{}`, and one that rejects unobserved would end the
    // process: observe it, and fall back.
    if (pending) (value as PromiseLike<unknown>).then(undefined, () => {});
  } catch (cause) {
    // An app bug in the formatter must not change the status or open a route.
    onFailure?.('threw', cause);
    return undefined;
  }
  if (pending) {
    onFailure?.('returned a promise');
    return undefined;
  }
  let body: string | undefined;
  try {
    body = JSON.stringify(value);
  } catch {
    // A BigInt, a cycle, a toJSON that throws.
  }
  if (typeof body !== 'string') onFailure?.('returned no JSON');
  return typeof body === 'string' ? body : undefined;
}

/** The same error, built again without a stack trace: what an app's formatter is given. */
function copyOf(error: ApiKeyAuthError): ApiKeyAuthError {
  const { status, expose, headers, keyStatus, cause } = error;
  return errorWithoutStack(error.code, error.message, { status, expose, headers: { ...headers }, keyStatus, cause });
}

/**
 * A refused authentication as the pipeline decides it: the answer the adapter writes, and
 * the error behind it, which is built only when asked for. Most refusals are answered
 * without anyone reading the error, and an error object is the dearest part of a refusal.
 */
export interface Refusal {
  readonly status: number;
  readonly code: ApiKeyAuthErrorCode;
  readonly response: AuthResponse;
  /** A new error for this refusal each call (or the fault's own error). */
  toError(): ApiKeyAuthError;
}

/**
 * Builds the refusals the pipeline answers with. With the default error body, the answers
 * that never vary (missing, invalid, overloaded, each inactive status, and the current 429)
 * are serialized once and handed out again, frozen; an app's own `errorBody` is called for
 * every refusal instead, since its answer may vary.
 */
export class RefusalFactory {
  readonly #format: ErrorBodyFormatter;
  readonly #onFormatFailure: ErrorBodyFailureListener | undefined;
  readonly #missingChallenge: string;
  readonly #invalidChallenge: string;
  readonly #retryAfter: string;
  readonly #shared = new Map<string, Refusal>();
  // The last 429: during a flood its Retry-After changes at most once a second.
  #tooManyAttempts: { seconds: number; refusal: Refusal } | undefined;

  /**
   * @param realm - the Bearer challenge's realm.
   * @param retryAfterSeconds - `Retry-After` of the 503 answers.
   * @param format - the refusals' body: `defaultErrorBody` or an app's `errorBody`.
   * @param onFormatFailure - told when the app's `errorBody` fails and the default body is sent.
   */
  constructor(realm: string, retryAfterSeconds: number, format: ErrorBodyFormatter = defaultErrorBody, onFormatFailure?: ErrorBodyFailureListener) {
    this.#format = format;
    this.#onFormatFailure = onFormatFailure;
    this.#missingChallenge = `Bearer realm="${realm}"`;
    this.#invalidChallenge = `Bearer realm="${realm}", error="invalid_token"`;
    this.#retryAfter = String(retryAfterSeconds);
  }

  missing(): Refusal {
    return this.#reused('missing', 'ERR_API_KEY_MISSING', 'An API key is required. Send it as "Authorization: Bearer <key>".', {
      status: 401,
      headers: { 'www-authenticate': this.#missingChallenge },
    });
  }

  /** The one "invalid key" answer: the same bytes whatever the real reason was. */
  invalid(): Refusal {
    return this.#reused('invalid', 'ERR_API_KEY_INVALID', 'The API key is invalid.', {
      status: 401,
      headers: { 'www-authenticate': this.#invalidChallenge },
    });
  }

  inactive(status: KeyStatus | undefined): Refusal {
    return this.#reused(`inactive:${status}`, 'ERR_API_KEY_INACTIVE', statusMessage(status), {
      status: 403,
      keyStatus: status ?? 'unknown',
    });
  }

  wrongType(required: string): Refusal {
    // The route's type is the app's text, shown to any client holding a key of another type.
    // A type `issue` gives is shown whole: it is lower case, which a key's random body never is
    // in practice. Any other is quoted as option names are, so one holding a key by mistake
    // is cut at the key's prefix.
    const shown = isIssuableKeyType(required) ? `"${required}"` : quotedName(required, MAX_SHOWN_KEY_TYPE);
    return this.#refusal('ERR_API_KEY_WRONG_TYPE', `This route needs an API key of type ${shown}.`, { status: 403 });
  }

  overloaded(): Refusal {
    return this.#reused('overloaded', 'ERR_OVERLOADED', 'Too many key checks in progress. Retry shortly.', {
      status: 503,
      expose: true,
      headers: { 'retry-after': this.#retryAfter },
    });
  }

  /**
   * The authenticator was closed, so it starts no Argon2 run: the same code and headers as
   * {@link overloaded} (a client does the same, retries, here or on another instance), and a
   * message that does not blame a crowd that is not there.
   */
  closed(): Refusal {
    return this.#reused('closed', 'ERR_OVERLOADED', 'Key checks have stopped on this server. Retry shortly.', {
      status: 503,
      expose: true,
      headers: { 'retry-after': this.#retryAfter },
    });
  }

  /**
   * Too many failed attempts for this key or client: no Argon2 run until the window ends.
   *
   * @param retryAfterSeconds - seconds until the counting window ends.
   */
  tooManyAttempts(retryAfterSeconds: number): Refusal {
    if (this.#format !== defaultErrorBody) return this.#newTooManyAttempts(retryAfterSeconds);
    if (this.#tooManyAttempts?.seconds !== retryAfterSeconds) {
      this.#tooManyAttempts = { seconds: retryAfterSeconds, refusal: frozen(this.#newTooManyAttempts(retryAfterSeconds)) };
    }
    return this.#tooManyAttempts.refusal;
  }

  #newTooManyAttempts(retryAfterSeconds: number): Refusal {
    return this.#refusal('ERR_TOO_MANY_ATTEMPTS', TOO_MANY_ATTEMPTS_MESSAGE, {
      status: 429,
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }

  /** The store failed or did not answer in time. A fault: its error keeps its stack. */
  unavailable(cause?: unknown): Refusal {
    return this.#fault(
      new ApiKeyAuthError('ERR_STORE_UNAVAILABLE', 'API keys cannot be checked right now. Retry shortly.', {
        status: 503,
        expose: true,
        headers: { 'retry-after': this.#retryAfter },
        cause,
      }),
    );
  }

  /** A stored row keyward refuses to use; the client sees only a generic server fault. */
  fault(code: Extract<ApiKeyAuthErrorCode, `ERR_STORED_${string}`>, detail: string): Refusal {
    return this.#fault(new ApiKeyAuthError(code, detail, { status: 500, expose: false }));
  }

  /** Anything unexpected inside the pipeline; what was thrown is the error's cause. */
  internal(cause: unknown): Refusal {
    return this.#fault(new ApiKeyAuthError('ERR_INTERNAL', 'unexpected failure', { status: 500, expose: false, cause }));
  }

  /**
   * A refusal whose error is built on demand and without a stack trace: refusals are
   * answers, not faults, their stack would only ever point into keyward, and a flood of
   * forged keys creates thousands a second.
   */
  #refusal(code: ApiKeyAuthErrorCode, message: string, options: ApiKeyAuthErrorOptions): Refusal {
    const toError = () => errorWithoutStack(code, message, options);
    if (this.#format !== defaultErrorBody) {
      // An app's formatter receives the error, so it is built now, once.
      return this.#fault(toError());
    }
    // The defaults the error itself would take (see toError).
    const status = ownField(options, 'status') ?? statusOfCode(code);
    const expose = ownField(options, 'expose') ?? status < 500;
    const fields = { code, message, status, expose, keyStatus: ownField(options, 'keyStatus'), headers: ownField(options, 'headers') ?? {} };
    return { status, code, response: responseWith(fields, JSON.stringify(formatDefault(fields))), toError };
  }

  /** {@link #refusal}, kept under `key` and handed out again when the body is the default. */
  #reused(key: string, code: ApiKeyAuthErrorCode, message: string, options: ApiKeyAuthErrorOptions): Refusal {
    if (this.#format !== defaultErrorBody) return this.#refusal(code, message, options);
    let refusal = this.#shared.get(key);
    if (refusal === undefined) {
      refusal = frozen(this.#refusal(code, message, options));
      this.#shared.set(key, refusal);
    }
    return refusal;
  }

  #fault(error: ApiKeyAuthError): Refusal {
    return { status: error.status, code: error.code, response: responseFor(error, this.#format, this.#onFormatFailure), toError: () => error };
  }
}

/** A refusal handed to many requests: frozen, so none can change another's answer. */
function frozen(refusal: Refusal): Refusal {
  Object.freeze(refusal.response.headers);
  Object.freeze(refusal.response);
  return Object.freeze(refusal);
}

function errorWithoutStack(code: ApiKeyAuthErrorCode, message: string, options: ApiKeyAuthErrorOptions): ApiKeyAuthError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new ApiKeyAuthError(code, message, options);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function publicCode(error: ErrorFields): string {
  return error.expose ? error.code : 'ERR_INTERNAL';
}

function publicMessage(error: ErrorFields): string {
  return error.expose ? error.message : 'Internal server error.';
}
