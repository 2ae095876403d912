import type { ApiKeyAuthError } from './errors.js';
import type { AuthResponse, Refusal } from './responses.js';

/**
 * A refused authentication. The error is built the first time it is read: adapters that
 * answer the refusal themselves never read it, and it is the dearest part of a refusal.
 */
export class AuthFailure {
  readonly ok = false as const;
  readonly response: AuthResponse;
  readonly #refusal: Refusal;
  #error: ApiKeyAuthError | undefined;

  constructor(refusal: Refusal) {
    this.response = refusal.response;
    this.#refusal = refusal;
  }

  get error(): ApiKeyAuthError {
    return (this.#error ??= this.#refusal.toError());
  }
}
