import { ApiKeyAuthError } from 'keyward';
import { describeError } from './describe-error.js';

/**
 * The part of a `pg` query result the store reads. keyward never imports `pg`: these shapes
 * describe what it calls, so `pg` stays the app's own (optional peer) dependency and any
 * compatible pool can be passed.
 */
export interface PgQueryResult {
  rows: Record<string, unknown>[];
}

/** The part of a checked-out `pg.PoolClient` the store uses. */
export interface PgClientLike {
  query(config: { text: string; values?: unknown[]; query_timeout?: number }): Promise<PgQueryResult>;
  /** Returns the client; passing an error or `true` closes it instead of keeping it idle. */
  release(destroy?: Error | boolean): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
}

/** The part of a `pg.Pool` the store uses. */
export interface PgPoolLike {
  connect(): Promise<PgClientLike>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  listenerCount(event: 'error'): number;
  /** The pool's settings; `connectionTimeoutMillis` must be set (see the store's docs). */
  readonly options?: { connectionTimeoutMillis?: number | undefined };
}

/**
 * A checked-out client with the store's statement bound on every query. A client whose query
 * failed in any way, or that emitted an error while checked out, is closed on release rather
 * than handed to the next caller: after a timeout its connection may still be busy with the
 * abandoned statement, and an aborted transaction must not leak.
 */
export class BoundedClient {
  readonly #client: PgClientLike;
  readonly #timeoutMs: number;
  #broken: Error | undefined;
  readonly #queryErrors = new WeakSet<object>();
  readonly #onError = (error: Error) => {
    // Without a listener, an error event on a checked-out client would crash the process.
    this.#broken = error;
  };

  private constructor(client: PgClientLike, timeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
    client.on('error', this.#onError);
  }

  /**
   * Checks out a client. The wait is bounded by the pool's `connectionTimeoutMillis`.
   *
   * @throws {ApiKeyAuthError} `ERR_STORE_UNAVAILABLE` when no connection can be had.
   */
  static async connect(pool: PgPoolLike, timeoutMs: number, operation: string): Promise<BoundedClient> {
    try {
      return new BoundedClient(await pool.connect(), timeoutMs);
    } catch (error) {
      throw storeFault(operation, error);
    }
  }

  /** Runs one statement; its rows. Rejects with pg's own error, for the caller to map. */
  async query(text: string, values?: unknown[]): Promise<Record<string, unknown>[]> {
    try {
      const result = await this.#client.query({ text, values, query_timeout: this.#timeoutMs });
      return result.rows;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.#broken ??= failure;
      this.#queryErrors.add(failure);
      throw failure;
    }
  }

  /** Whether `error` is one a query on this client failed with (not the caller's own). */
  threw(error: unknown): boolean {
    return typeof error === 'object' && error !== null && this.#queryErrors.has(error);
  }

  /** Gives the client back to the pool, or closes it if anything went wrong on it. */
  release(): void {
    this.#client.removeListener('error', this.#onError);
    this.#client.release(this.#broken);
  }
}

/**
 * The error a store method rejects with when PostgreSQL failed or did not answer in time.
 * Its message names the operation and pg's error (never a value of a row); the
 * authenticator answers it with 503.
 */
export function storeFault(operation: string, cause: unknown): ApiKeyAuthError {
  return new ApiKeyAuthError(
    'ERR_STORE_UNAVAILABLE',
    `keyward postgres store: ${operation} failed (${describeError(cause)})`,
    { status: 503, expose: false, cause },
  );
}

/** The constraint a unique violation names, or undefined for any other error. */
export function uniqueViolation(error: unknown): string | undefined {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  if (code !== '23505') return undefined;
  return typeof constraint === 'string' ? constraint : '';
}
