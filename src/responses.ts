import { ApiKeyAuthError, type ApiKeyAuthErrorCode, type ApiKeyAuthErrorOptions } from './errors.js';
import { statusMessage, type KeyStatus } from './statuses.js';

/** What an adapter writes for a refused request: decided entirely by the core. */
export interface AuthResponse {
  status: number;
  headers: Readonly<Record<string, string>>;
  /** Serialized JSON body. */
  body: string;
}

/**
 * Replaces the JSON body of refusals. Receives the error (its `code`, `status`, `message`,
 * `keyStatus`) and returns any JSON-serializable value.
 */
export type ErrorBodyFormatter = (error: ApiKeyAuthError) => unknown;

/** The default body: `{"error":{"code":"…","message":"…"}}`, plus `key_status` on a 403. */
export const defaultErrorBody: ErrorBodyFormatter = (error) => ({
  error: {
    code: publicCode(error),
    message: publicMessage(error),
    ...(error.keyStatus ? { key_status: error.keyStatus } : {}),
  },
});

const JSON_HEADERS = Object.freeze({
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
});

/**
 * Wraps an app's body formatter so that one that throws, or returns something JSON cannot
 * write, falls back to the default body instead of turning a refusal into a crash.
 *
 * @param format - the app's `errorBody` option.
 * @returns a formatter whose result always serializes.
 * @example
 * ```ts
 * const format = guardErrorBody(options.errorBody);
 * ```
 */
export function guardErrorBody(format: ErrorBodyFormatter): ErrorBodyFormatter {
  return (error) => {
    try {
      const body = format(error);
      if (typeof JSON.stringify(body) === 'string') return body;
    } catch {
      // Fall through: an app bug in the formatter must not change the status or open a route.
    }
    return defaultErrorBody(error);
  };
}

/** Serializes an error into the response adapters write. */
export function responseFor(error: ApiKeyAuthError, format: ErrorBodyFormatter): AuthResponse {
  const body = JSON.stringify(format(error));
  // Content-Length is set here so that every adapter sends the very same header set.
  const length = String(Buffer.byteLength(body));
  return {
    status: error.status,
    headers: { ...JSON_HEADERS, ...error.headers, 'content-length': length },
    body,
  };
}

/** Builds the errors the pipeline refuses requests with. */
export class RefusalFactory {
  readonly #missingChallenge: string;
  readonly #invalidChallenge: string;
  readonly #retryAfter: string;

  constructor(realm: string, retryAfterSeconds: number) {
    this.#missingChallenge = `Bearer realm="${realm}"`;
    this.#invalidChallenge = `Bearer realm="${realm}", error="invalid_token"`;
    this.#retryAfter = String(retryAfterSeconds);
  }

  missing(): ApiKeyAuthError {
    return refusal(
      'ERR_API_KEY_MISSING',
      'An API key is required. Send it as "Authorization: Bearer <key>".',
      { status: 401, headers: { 'www-authenticate': this.#missingChallenge } },
    );
  }

  /** The one "invalid key" answer: the same bytes whatever the real reason was. */
  invalid(): ApiKeyAuthError {
    return refusal('ERR_API_KEY_INVALID', 'The API key is invalid.', {
      status: 401,
      headers: { 'www-authenticate': this.#invalidChallenge },
    });
  }

  inactive(status: KeyStatus | undefined): ApiKeyAuthError {
    return refusal('ERR_API_KEY_INACTIVE', statusMessage(status), {
      status: 403,
      keyStatus: status ?? 'unknown',
    });
  }

  wrongType(required: string): ApiKeyAuthError {
    return refusal(
      'ERR_API_KEY_WRONG_TYPE',
      `This route needs an API key of type "${required}".`,
      { status: 403 },
    );
  }

  unavailable(cause?: unknown): ApiKeyAuthError {
    return new ApiKeyAuthError(
      'ERR_STORE_UNAVAILABLE',
      'API keys cannot be checked right now. Retry shortly.',
      { status: 503, expose: true, headers: { 'retry-after': this.#retryAfter }, cause },
    );
  }

  overloaded(): ApiKeyAuthError {
    return refusal('ERR_OVERLOADED', 'Too many key checks in progress. Retry shortly.', {
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
  tooManyAttempts(retryAfterSeconds: number): ApiKeyAuthError {
    return refusal('ERR_TOO_MANY_ATTEMPTS', 'Too many failed attempts. Retry later.', {
      status: 429,
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }

  /** A stored row keyward refuses to use; the client sees only a generic server fault. */
  fault(code: Extract<ApiKeyAuthErrorCode, `ERR_STORED_${string}`>, detail: string): ApiKeyAuthError {
    return new ApiKeyAuthError(code, detail, { status: 500, expose: false });
  }
}

/**
 * Builds a refusal without capturing a stack trace. Refusals are answers, not faults: their
 * stack would only ever point into keyward, and a flood of forged keys creates thousands a
 * second, where capturing it was the costliest step of a refusal. Faults keep their stacks.
 */
function refusal(code: ApiKeyAuthErrorCode, message: string, options: ApiKeyAuthErrorOptions): ApiKeyAuthError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new ApiKeyAuthError(code, message, options);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function publicCode(error: ApiKeyAuthError): string {
  return error.expose ? error.code : 'ERR_INTERNAL';
}

function publicMessage(error: ApiKeyAuthError): string {
  return error.expose ? error.message : 'Internal server error.';
}
