import { ApiKeyAuthError, type completeLogger } from 'keyward';
import { describeError } from './describe-error.js';
import { requestCancel } from './postgres-cancel.js';
import { ownField } from './own-field.js';
import { redactedPgError, serverSqlState, NOT_REPEATED, writtenByFunction } from './redacted-pg-error.js';
import { isThenable } from './thenable.js';

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
  query(config: { text: string; values?: unknown[] | undefined }): Promise<PgQueryResult>;
  /** Returns the client; passing an error or `true` closes it instead of keeping it idle. */
  release(destroy?: Error | boolean): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
  /**
   * The backend's key and the server's address, as `pg.Client` has them: what cancels a
   * statement that ran out of time. A client without them can only abandon such a statement,
   * which then keeps running on the server until it ends by itself.
   */
  readonly processID?: number | null | undefined;
  readonly secretKey?: number | null | undefined;
  readonly host?: string | undefined;
  readonly port?: number | undefined;
}

/** The part of a `pg.Pool` the store uses. */
export interface PgPoolLike {
  /**
   * Checks out a client and hands it to `callback`, in `pg.Pool`'s callback form: the store
   * attaches its `'error'` listener inside the callback, before the connection reads another
   * byte (see {@link BoundedClient.connect}).
   */
  connect(callback: (error: Error | undefined, client: PgClientLike | undefined) => void): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  listenerCount(event: 'error'): number;
  /** The pool's settings; `connectionTimeoutMillis` must be set (see the store's docs). */
  readonly options?: { connectionTimeoutMillis?: number | undefined } | undefined;
}

/** How a {@link BoundedClient} runs its statements. */
export interface BoundedClientOptions {
  /** Longest wait for one statement's answer, in milliseconds. */
  timeoutMs: number;
  /** The store method, for error messages and logs. */
  operation: string;
  /** Where a cancel that fails is logged, at warn. */
  log: ReturnType<typeof completeLogger>;
  /**
   * After cancelling a statement that ran out of time, wait up to `timeoutMs` again for the
   * server's answer, which says whether the statement took effect. For writes; a read waits
   * only until its cancel request is delivered.
   */
  waitForOutcome: boolean;
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
 *
 * A statement that runs out of time is cancelled on the server, not only given up on here.
 * Closing the connection alone does not stop it: a backend waiting on a lock does not read
 * its socket, so it would wait on until the lock goes and then run, late (a usage UPDATE, or
 * an INSERT that `issue` already reported as failed), and every such request would leave one
 * more backend behind, up to `max_connections`. Writes are also bounded on the server (the
 * store runs them in transactions with `SET LOCAL` timeouts); for a read that would cost a
 * round trip per lookup, or a setting changed on a connection the app's pool shares.
 */
export class BoundedClient {
  readonly #client: PgClientLike;
  readonly #options: BoundedClientOptions;
  #broken: Error | undefined;
  #inTransaction = false;
  readonly #queryErrors = new WeakSet<object>();
  readonly #onError = (error: Error) => {
    // Without a listener, an error event on a checked-out client would crash the process.
    this.#broken = error;
  };

  private constructor(client: PgClientLike, options: BoundedClientOptions) {
    this.#client = client;
    this.#options = options;
    client.on('error', this.#onError);
  }

  /**
   * Checks out a client. The wait is bounded by the pool's `connectionTimeoutMillis`.
   *
   * @throws {ApiKeyAuthError} `ERR_STORE_UNAVAILABLE` when no connection can be had.
   */
  static connect(pool: PgPoolLike, options: BoundedClientOptions): Promise<BoundedClient> {
    return new Promise((resolve, reject) => {
      const unavailable = (error: unknown) => reject(storeFault(options.operation, error));
      try {
        // The callback form, not `await pool.connect()`: pg-pool takes its own 'error' listener
        // off the client as it hands it over, and an awaited promise would attach ours only a
        // microtask later. A session the server ends in that gap (its FATAL in the same TCP
        // chunk as the ReadyForQuery that completed the connection) would emit 'error' with no
        // listener, which crashes the process. The callback runs while pg is still reading
        // that chunk, so the listener is on before the FATAL is read.
        let handedOver = false;
        const take = (error: unknown, client: PgClientLike | undefined) => {
          if (handedOver) return;
          handedOver = true;
          if (error || !client) unavailable(error);
          else resolve(new BoundedClient(client, options));
        };
        const returned: unknown = pool.connect(take);
        // A pool (or a wrapper of one) with only the promise form ignores the callback and
        // returns a promise: take the client from it, or the lookup would wait for ever with
        // the client checked out. Such a pool keeps the hand-over gap described above.
        if (isThenable(returned)) {
          (returned as PromiseLike<PgClientLike | undefined>).then(
            (client) => take(undefined, client),
            (error: unknown) => take(error, undefined),
          );
        }
      } catch (error) {
        unavailable(error);
      }
    });
  }

  /**
   * Runs one statement; its rows. Rejects with pg's own error, for the caller to map, or with
   * a timeout of its own when the statement did not answer in time: it is then cancelled on
   * the server, and with `waitForOutcome` its answer to the cancel decides (its rows if it
   * finished after all, its error, typically 57014, if it was cancelled).
   */
  async query(text: string, values?: unknown[]): Promise<Record<string, unknown>[]> {
    const { timeoutMs, waitForOutcome } = this.#options;
    // No pg `query_timeout`: past it pg throws the statement's answer away, and that answer
    // is what tells whether a write that ran out of time took effect. The bound is kept here.
    const pending = Promise.resolve().then(() => this.#client.query({ text, values }));
    let answer = await settledWithin(pending, timeoutMs);
    if (answer === undefined) {
      // Closed on release whatever comes next: a cancel still on its way could otherwise
      // reach the next statement run on this connection, the app's own included.
      this.#broken ??= new Error(`Query read timeout: no answer within ${timeoutMs} ms; cancel requested`);
      const cancelled = this.#cancel();
      if (waitForOutcome) answer = await settledWithin(pending, timeoutMs);
      // A read does not wait for its answer, but the connection stays open until the cancel is
      // delivered: a pooler (PgBouncer) forwards a cancel only for a client still connected.
      else await cancelled;
      if (answer === undefined) {
        const unknown = waitForOutcome
          ? new Error(`Query read timeout: no answer within ${timeoutMs} ms, nor within ${timeoutMs} ms of the cancel request; whether the statement took effect is unknown`)
          : this.#broken!;
        this.#queryErrors.add(unknown);
        throw unknown;
      }
    }
    if (answer.ok) return answer.value.rows;

    const failure = answer.error instanceof Error ? answer.error : new Error(String(answer.error));
    // Not the server's answer, so the client is closed on release (pg's read timeout included).
    if (!answeredInStep(failure)) this.#broken ??= failure;
    // pg's own `query_timeout` (set on the app's pool, below statementTimeoutMs) gave up first
    // and threw the answer away: the statement still runs on the server.
    if (isPgReadTimeout(failure)) await this.#cancel();
    this.#queryErrors.add(failure);
    throw failure;
  }

  /**
   * Sends the cancel; resolves once it is delivered or has failed (and was logged), never
   * rejects. The backend key is read now, while the connection is open: its process id cannot
   * have been reused by another session yet.
   */
  #cancel(): Promise<void> {
    const { processID, secretKey, host, port } = this.#client;
    const { timeoutMs, operation, log } = this.#options;
    return requestCancel({ processID, secretKey, host, port }, timeoutMs).catch((error: unknown) => {
      log.warn(
        { event: 'keyward.postgres_cancel_failed', operation, error: describeError(error) },
        "keyward: a PostgreSQL statement ran out of time and could not be cancelled; it may keep running on the server until it ends (set a server-side statement_timeout for the store's role to bound it)",
      );
    });
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

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** How `promise` settled within `ms`, or undefined if it had not (its rejection is handled). */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<Settled<T> | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value): Settled<T> => ({ ok: true, value }),
        (error: unknown): Settled<T> => ({ ok: false, error }),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** pg's own `query_timeout` error: no SQLSTATE, this message. */
function isPgReadTimeout(error: Error): boolean {
  return error.message === 'Query read timeout' && (error as { code?: unknown }).code === undefined;
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
 * The error a store method rejects with when PostgreSQL failed, refused or did not answer in
 * time. Its `cause` is {@link redactedPgError}'s copy of what was thrown, and its message
 * names the operation and that copy, never a value of a row.
 *
 * - `ERR_STORE_REFUSED` (500) when PostgreSQL answered with a refusal that repeats (see
 *   {@link REFUSED}): the transaction was rolled back, so nothing was written, and the same
 *   call is refused again until the data, the schema or the role's privileges change.
 * - `ERR_STORE_UNAVAILABLE` (503) for anything else: no connection, no answer in time, a
 *   cancelled statement, a serialization failure or deadlock, a server shutting down. A
 *   retry may succeed.
 *
 * The authenticator answers a request with 503 for either.
 */
export function storeFault(operation: string, error: unknown): ApiKeyAuthError {
  const cause = redactedPgError(error);
  const code = serverSqlState(error);
  // A function of the database's chose its SQLSTATE, and a message left out may have named a
  // value cast to a name in a CHECK or a view: no hint about keyward's own table fits either.
  const withheld = cause.message.includes(NOT_REPEATED);
  const hint = (error instanceof Error && writtenByFunction(error)) || withheld ? '' : hintFor(operation, code);
  if (code !== undefined && REFUSED.test(code)) {
    const again = READS.has(operation) ? 'the same read is refused again' : 'nothing was written, and the same write is refused again';
    return new ApiKeyAuthError(
      'ERR_STORE_REFUSED',
      `keyward postgres store: PostgreSQL refused ${operation} with SQLSTATE ${code} (${cause.message}); ${again}${hint}`,
      { status: 500, expose: false, cause },
    );
  }
  return new ApiKeyAuthError(
    'ERR_STORE_UNAVAILABLE',
    `keyward postgres store: ${operation} failed (${describeError(cause)})${hint}`,
    { status: 503, expose: false, cause },
  );
}

/**
 * SQLSTATE classes of an answer that a retry gets again: data exception (22: a value its type
 * or range does not admit), integrity constraint violation (23), syntax error or access rule
 * violation (42: a missing table, a refused privilege), WITH CHECK OPTION violation (44), and
 * an exception a PL/pgSQL function raised (P0: a trigger refusing the row, or migrate()'s check
 * of an index).
 */
const REFUSED = /^(?:22|23|42|44|P0)/;

/** The store's operations that write nothing. */
const READS: ReadonlySet<string> = new Set(['findByLookupId', 'findLive', 'findById']);

/** What to do about a failure the operator can fix, after the error itself. */
function hintFor(operation: string, code: string | undefined): string {
  // 42P01 undefined_table: most often a schema never migrated.
  if (code === '42P01') return '; create the table first: await store.migrate(), or sql/keyward-schema.sql';
  // A unique index migrate() could not build: rows that break it are already in the table.
  if (code === '23505' && operation === 'migrate') {
    return '; the table holds rows that a unique index keyward needs forbids (two live keys of one account in one environment, or one lookup id twice): resolve them, then migrate again';
  }
  return '';
}

/** The constraint a unique violation names, or undefined for any other error. */
export function uniqueViolation(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  // pg sets both on the error itself; one read through the prototype chain could be planted.
  const code = ownField(error as { code?: unknown }, 'code');
  const constraint = ownField(error as { constraint?: unknown }, 'constraint');
  if (code !== '23505') return undefined;
  return typeof constraint === 'string' ? constraint : '';
}
