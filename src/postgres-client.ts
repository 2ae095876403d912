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
 * A checked-out client with the store's statement bound on every query. On release it goes
 * back to the pool only when it is known to be in step with the server and outside a
 * transaction. It is closed instead after a timeout (its connection may still be busy with the
 * abandoned statement), an error that is not the server's answer to a statement (a dropped
 * socket, a session the server ended), an error event while checked out, or a transaction
 * that was not ended with COMMIT or ROLLBACK (an aborted transaction must not leak).
 *
 * An error the server answered with (a SQLSTATE of severity ERROR: a missing table, a refused
 * permission, a unique violation) keeps the connection: while such a fault lasts, closing it
 * would open one new server backend per request.
 */
export class BoundedClient {
  readonly #client: PgClientLike;
  readonly #timeoutMs: number;
  #broken: Error | undefined;
  #inTransaction = false;
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
      if (!answeredInStep(failure)) this.#broken ??= failure;
      this.#queryErrors.add(failure);
      throw failure;
    }
  }

  /** Runs `text`, which opens a transaction: until {@link end}, release closes the client. */
  async begin(text: string): Promise<void> {
    // Set first: a BEGIN that fails part-way through a multi-statement text may leave one open.
    this.#inTransaction = true;
    await this.query(text);
  }

  /** Runs COMMIT or ROLLBACK; once it is answered, the client may go back to the pool. */
  async end(text: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    await this.query(text);
    this.#inTransaction = false;
  }

  /**
   * Rolls back an open transaction after a failure, when the connection can still take a
   * statement; otherwise (or if the ROLLBACK fails) the client is closed on release, which
   * ends the transaction on the server. Never throws.
   */
  async rollBack(): Promise<void> {
    if (!this.#inTransaction || this.#broken !== undefined) return;
    await this.end('ROLLBACK').catch(() => {});
  }

  /** Whether `error` is one a query on this client failed with (not the caller's own). */
  threw(error: unknown): boolean {
    return typeof error === 'object' && error !== null && this.#queryErrors.has(error);
  }

  /** Gives the client back to the pool, or closes it (see the class's description). */
  release(): void {
    this.#client.removeListener('error', this.#onError);
    this.#client.release(this.#broken ?? (this.#inTransaction ? TRANSACTION_LEFT_OPEN : undefined));
  }
}

const TRANSACTION_LEFT_OPEN = new Error('keyward: a transaction was left open; the connection is closed');

const SQLSTATE = /^[0-9A-Z]{5}$/;
// Answers that end the session or say it cannot be trusted: connection exceptions (08),
// the server shutting down or ending the session (57P01-57P05), an idle transaction timed out
// (25P03), internal errors (XX).
const ENDS_SESSION = /^(?:08|57P|XX)|^25P03$/;

/**
 * Whether `error` is PostgreSQL's answer to a statement (pg's DatabaseError: a SQLSTATE `code`
 * and a `severity`), after which the connection is in step and can run the next statement.
 * A socket error also has a `code` (`EPIPE` even looks like a SQLSTATE) but no severity;
 * pg's own `Query read timeout` has neither.
 */
function answeredInStep(error: Error): boolean {
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return (
    typeof code === 'string' &&
    SQLSTATE.test(code) &&
    !ENDS_SESSION.test(code) &&
    typeof severity === 'string' &&
    severity !== 'FATAL' &&
    severity !== 'PANIC'
  );
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
