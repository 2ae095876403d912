import {
  ApiKeyAuthError,
  assertInteger,
  assertLoggerShaped,
  assertOptionsObject,
  completeLogger,
  knownOptions,
  type ApiKeyRow,
  type ApiKeyRowChange,
  type Environment,
  type KeyStore,
  type KeyUsage,
  type Logger,
  type RecordUsageResult,
} from 'keyward';
import { BoundedClient, storeFault, uniqueViolation, type PgPoolLike } from './postgres-client.js';
import { DEFAULT_TABLE, keyTable, ROW_COLUMNS, schemaStatements, type KeyTable } from './postgres-schema.js';
import { describeError } from './describe-error.js';
import { redactedPgError } from './redacted-pg-error.js';
import { changedFields } from './row-change.js';
import { usePair } from './usage-calls.js';

export type { PgClientLike, PgPoolLike, PgQueryResult } from './postgres-client.js';
export { DEFAULT_TABLE, postgresSchemaSql } from './postgres-schema.js';

/** Options of {@link PostgresKeyStore}. */
export interface PostgresKeyStoreOptions {
  /**
   * The app's `pg.Pool`. It must be created with `connectionTimeoutMillis`: that bounds how
   * long a request waits for a connection when the database is down or hung. The app owns
   * the pool and ends it on shutdown.
   */
  pool: PgPoolLike;
  /** Table name, `name` or `schema.name`. @default 'api_keys' */
  table?: string | undefined;
  /**
   * Longest wait for one statement's answer, in milliseconds. Past it the statement is
   * cancelled on the server (PostgreSQL's CancelRequest, sent on a connection of its own), its
   * connection is closed and the call rejects with `ERR_STORE_UNAVAILABLE` (the request gets
   * 503). A read gives up once the cancel is sent; a write (`insert`, `recordUsage`, each
   * statement of `modify` and `migrate`) waits up to the same time again for the server's
   * answer to the cancel, so it resolves if the statement finished after all and otherwise
   * rejects knowing it was stopped; only a server that cannot be reached leaves its outcome
   * unknown. Every write runs in a transaction where it is also the server-side
   * `statement_timeout`, `lock_timeout` and `idle_in_transaction_session_timeout`, so a write
   * the cancel cannot reach still ends there, and a transaction whose next statement (its
   * COMMIT) is held up on the network is ended there too, its row locks released, long before
   * the store reports the write failed.
   * @default 2000
   */
  statementTimeoutMs?: number | undefined;
  /**
   * Where pool errors and cancels that fail are logged, at `warn` (pino's call shape); needs a
   * `warn` method. @default silent
   */
  logger?: Logger | undefined;
}

const OPTION_NAMES: readonly (keyof PostgresKeyStoreOptions)[] = ['pool', 'table', 'statementTimeoutMs', 'logger'];
/** The class these options belong to: every message about them starts with its name. */
const FACTORY = 'PostgresKeyStore';

const COLUMNS = ROW_COLUMNS.join(', ');
const TIME_COLUMNS: ReadonlySet<string> = new Set(['created_at', 'last_used_at', 'expires_at', 'revoked_at']);
// Times are read as milliseconds since the epoch, in text, rather than as timestamptz values:
// pg's own parser reads only the ISO DateStyle and gives null for any other (SQL, Postgres,
// German), which would read a passed expiry as "never expires". A number of milliseconds
// depends on no DateStyle, TimeZone or app type parser, and keeps BC dates and the
// infinities ('Infinity', '-Infinity'), which text of a fixed shape would lose.
const SELECTED = ROW_COLUMNS.map((column) =>
  // Never NULL: 'none' stands for a time that is not set, so a JS null can only be an app's
  // type parser that made the value vanish, and is refused rather than read as "never".
  TIME_COLUMNS.has(column) ? `coalesce((extract(epoch FROM ${column}) * 1000)::text, 'none') AS ${column}` : column,
).join(', ');
/** The SQL condition for a live row, on the columns of `alias` if given. */
const live = (alias = '') => `NOT ${alias}soft_deleted AND ${alias}revoked_at IS NULL`;

/**
 * The production {@link KeyStore}: one PostgreSQL table shared by every gateway instance.
 * Lookups filter deleted and revoked rows in SQL; `modify` is one transaction with the row
 * locked (`SELECT … FOR UPDATE`), so a regenerate on one instance is seen by every other
 * instance on its next request; usage is one batched `UPDATE` that never moves
 * `last_used_at` backwards and never waits on a row lock
 * (see {@link PostgresKeyStore.recordUsage}).
 *
 * Every method is bounded: waiting for a connection by the pool's `connectionTimeoutMillis`,
 * each statement by `statementTimeoutMs`, past which the statement is also cancelled on the
 * server. A database that is down or hung makes the method reject with
 * `ERR_STORE_UNAVAILABLE`, which the authenticator answers with 503; the pool opens fresh
 * connections once the database is back. A statement PostgreSQL refuses in a way a retry
 * repeats (a constraint, a value of the wrong type, a missing table or privilege: SQLSTATE
 * classes 22, 23, 42, 44, P0) rejects with `ERR_STORE_REFUSED` (500) instead, having written
 * nothing; a request still gets 503. The `cause` of either is a copy of pg's error without
 * the parts that can quote a row (`detail`, `where`, `hint`, and a message that quotes a
 * value): it keeps the SQLSTATE, the constraint, table and column names, and the stack frames.
 *
 * > [!NOTE]
 * > Cancelling uses the `processID`, `secretKey`, `host` and `port` of `pg.Client`, and the
 * > server (or a pooler in front of it) must accept a CancelRequest on that address. Where it
 * > cannot (a pool whose clients lack those fields, a `stream` option that reaches the server
 * > some other way), the store logs `keyward.postgres_cancel_failed` and a read keeps running
 * > on the server until it ends by itself (writes end on their own server-side timeouts); set
 * > a server-side `statement_timeout` for the store's role then.
 *
 * > [!NOTE]
 * > An idle connection that breaks makes `pg.Pool` emit `error`, which crashes a process that
 * > has no listener. When the pool has none, the store attaches one that logs through
 * > `logger`; attach your own `pool.on('error', …)` to handle it your way.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { PostgresKeyStore } from 'keyward/postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 2000 });
 * const store = new PostgresKeyStore({ pool });
 * await store.migrate();
 * const auth = createApiKeyAuth({ store });
 * ```
 */
export class PostgresKeyStore implements KeyStore {
  readonly #pool: PgPoolLike;
  readonly #table: KeyTable;
  readonly #timeoutMs: number;
  readonly #sql: ReturnType<typeof statements>;
  readonly #log: ReturnType<typeof completeLogger>;

  /**
   * @param options - see {@link PostgresKeyStoreOptions}; only `pool` is required.
   * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` for a missing pool, a pool without
   *   `connectionTimeoutMillis`, a bad table name or timeout, a logger without a `warn`
   *   method, or an unknown option.
   */
  constructor(given: PostgresKeyStoreOptions) {
    assertOptionsObject(given, FACTORY);
    // Read as options, a pool would only be named by its first own field (`_events`).
    if (isPoolShaped(given)) {
      throw new ApiKeyAuthError('ERR_OPTIONS_INVALID', `${FACTORY} takes options, not the pool itself: new ${FACTORY}({ pool }).`);
    }
    const options = knownOptions(given, OPTION_NAMES, FACTORY);
    this.#pool = checkedPool(options.pool);
    this.#table = keyTable(options.table ?? DEFAULT_TABLE, FACTORY);
    this.#timeoutMs = options.statementTimeoutMs ?? 2_000;
    assertInteger(this.#timeoutMs, 'statementTimeoutMs', 1, 600_000, FACTORY);
    // The store logs only at warn (pool errors, failed cancels): a logger without warn never would.
    if (options.logger !== undefined) assertLoggerShaped(options.logger, FACTORY, ['warn'], ' (pool errors are logged at warn)');
    this.#sql = statements(this.#table.sql, this.#timeoutMs);
    // A logger that throws, or an async one whose promise rejects, would turn a dropped
    // connection into a crash; completeLogger swallows both.
    this.#log = completeLogger(options.logger);
    guardPoolErrors(this.#pool, this.#log);
  }

  /** The table this store reads, as configured (`api_keys` or `schema.name`). */
  get table(): string {
    return this.#table.name;
  }

  /**
   * Creates the table and its indexes where they are missing, in one transaction, having read
   * the catalog first. Safe to run on every start and from several instances at once (an
   * advisory lock serialises them). On a schema that is up to date it issues no DDL, so it
   * needs no CREATE privilege and runs in a read-only session (a hot standby), and it locks no
   * table, so it never waits behind writes. The table is the one the store's queries find
   * (through the `search_path`, for a name without a schema); it is created only where they
   * find none. The same statements ship as `sql/keyward-schema.sql` for migration tools.
   *
   * @throws {ApiKeyAuthError} `ERR_STORE_REFUSED` when PostgreSQL refuses it: a relation of
   *   the table's name that is not a table, or lacks a column keyward reads and writes, or has
   *   one of another type (the message names them, and the table is left as it is); an index
   *   of another shape under keyward's name, or one that cannot be built over the rows there;
   *   a missing table the role may not create. `ERR_STORE_UNAVAILABLE` when PostgreSQL fails
   *   otherwise (a read-only session where something is missing, say).
   * @example
   * ```ts
   * await new PostgresKeyStore({ pool }).migrate();
   * ```
   */
  async migrate(): Promise<void> {
    await this.#transaction('migrate', async (client) => {
      // The statements take the advisory lock first, as sql/keyward-schema.sql does.
      await client.query(schemaStatements(this.#table).join('\n'));
      return true;
    });
  }

  async findByLookupId(lookupId: string): Promise<ApiKeyRow | null> {
    return this.#one('findByLookupId', this.#sql.byLookupId, [lookupId]);
  }

  async findLive(accountId: string, environment: Environment): Promise<ApiKeyRow | null> {
    return this.#one('findLive', this.#sql.live, [accountId, environment]);
  }

  async findById(id: string): Promise<ApiKeyRow | null> {
    return this.#one('findById', this.#sql.byId, [id]);
  }

  /**
   * @throws {ApiKeyAuthError} `ERR_KEY_EXISTS` (409) when the id or lookup id is taken or the
   *   account already has a live key in that environment; `ERR_STORE_REFUSED` when
   *   PostgreSQL refuses the row (a check constraint, say); `ERR_STORE_UNAVAILABLE` otherwise.
   */
  async insert(row: ApiKeyRow): Promise<void> {
    const values = ROW_COLUMNS.map((column) => row[column]);
    // In a transaction, so bounded on the server too (statement_timeout, lock_timeout): an
    // INSERT waiting on the one-live-key index behind another session's uncommitted insert
    // must end there, not commit after `issue` has reported it failed. A cancel alone cannot
    // promise that (a client without a backend key, a pooler that drops it).
    await this.#transaction('insert', async (client) => {
      await client.query(this.#sql.insert, values);
      return true;
    });
  }

  /**
   * One transaction: `SELECT … FOR UPDATE` of the live row, `change` in JavaScript, `UPDATE`,
   * `COMMIT`. If `change` throws, the transaction is rolled back and its error is rethrown
   * as it is. `change` runs while the row is locked, so do slow work (hashing, sealing) before
   * calling: the server ends a transaction that waits `statementTimeoutMs` for its next
   * statement, and the call then fails with `ERR_STORE_UNAVAILABLE`, having written nothing.
   *
   * @throws {ApiKeyAuthError} `ERR_KEY_EXISTS` when the patch sets a lookup id another row
   *   holds; `ERR_STORE_REFUSED` when PostgreSQL refuses the patch (a check constraint, a
   *   value of the wrong type); `ERR_STORE_UNAVAILABLE` when PostgreSQL fails otherwise;
   *   whatever `change` throws.
   * @throws {TypeError} when `change` returns something other than an object of row fields.
   */
  async modify(
    id: string,
    change: (current: ApiKeyRow) => ApiKeyRowChange | null,
  ): Promise<ApiKeyRow | null> {
    return this.#transaction('modify', async (client) => {
      const [locked] = await client.query(this.#sql.lockById, [id]);
      if (locked === undefined) return null;
      const current = readModified(locked);
      const patch = change(readModified(locked));
      if (patch === null) return null;

      const assignments = changedFields(patch);
      if (assignments.length === 0) return current;
      const set = assignments.map(([column], index) => `${column} = $${index + 2}`).join(', ');
      const values = [id, ...assignments.map(([, value]) => value)];
      const [written] = await client.query(
        `UPDATE ${this.#table.sql} SET ${set} WHERE id = $1 RETURNING ${SELECTED}`,
        values,
      );
      return readModified(written!);
    });
  }

  /**
   * One transaction with one `UPDATE` for the whole batch, so its time grows with the batch:
   * keep a batch to what finishes well within `statementTimeoutMs` (the authenticator sends
   * 1,000 uses at most, written in about 30 ms). A row another transaction holds locked (a
   * `modify` under way, a long transaction of the app's) is not waited for: its use is left
   * unwritten and returned in `deferred`, for the next flush.
   *
   * @returns the uses left for a row lock held elsewhere, in `deferred` (often none).
   * @throws {ApiKeyAuthError} `ERR_STORE_REFUSED` when PostgreSQL refuses the write (a trigger
   *   of yours, say); `ERR_STORE_UNAVAILABLE` when it fails otherwise. Nothing of the batch
   *   is written then.
   */
  async recordUsage(usage: readonly KeyUsage[]): Promise<RecordUsageResult> {
    if (usage.length === 0) return { deferred: [] };
    const ids = usage.map((entry) => entry.id);
    const lookupIds = usage.map((entry) => entry.lookup_id);
    const times = usage.map((entry) => isoTime(entry.used_at));
    // In a transaction, bounded on the server like insert: an UPDATE held up (by a table lock,
    // say) must end there, not land after its flush was reported failed.
    const skipped = await this.#transaction('recordUsage', async (client) => {
      const rows = await client.query(this.#sql.usage, [ids, lookupIds, times]);
      return new Set(rows.map((row) => usePair(String(row.id), String(row.lookup_id))));
    });
    return { deferred: usage.filter((entry) => skipped?.has(usePair(entry.id, entry.lookup_id))) };
  }

  /**
   * The one live row a read names, or null. Two or more are refused rather than one picked: a
   * table without keyward's unique indexes (migrate() never run, an index dropped) could hold
   * a copy of a key's row under another account, and the key would pass as that account.
   */
  async #one(operation: string, text: string, values: unknown[]): Promise<ApiKeyRow | null> {
    // Read inside #read: a time it cannot read is the store's fault, mapped as its errors are.
    const rows = await this.#read(operation, async (client) => (await client.query(text, values)).map(toRow));
    if (rows.length > 1) throw moreThanOneLiveRow(operation);
    return rows[0] ?? null;
  }

  /**
   * One read on a checked-out client, with pg's errors mapped to keyward's. Every write goes
   * through {@link #transaction} instead, bounded on the server. A read that runs out of time
   * is cancelled (see BoundedClient); it changes nothing, so its answer is not waited for.
   */
  async #read<T>(operation: string, work: (client: BoundedClient) => Promise<T>): Promise<T> {
    const client = await this.#connect(operation, false);
    try {
      return await work(client);
    } catch (error) {
      throw this.#mapped(operation, error);
    } finally {
      client.release();
    }
  }

  /**
   * Runs `work` in a transaction whose statements and lock waits are bounded on the server
   * too. `work` resolving to null rolls back (nothing to write); an error thrown by `work`
   * itself (such as `change`'s) rolls back and is rethrown unchanged.
   */
  async #transaction<T>(operation: string, work: (client: BoundedClient) => Promise<T | null>): Promise<T | null> {
    // Its statements wait for their outcome too: above all COMMIT, whose late answer says
    // whether the change landed.
    const client = await this.#connect(operation, true);
    try {
      await client.begin(this.#sql.begin);
      const result = await work(client);
      await client.end(result === null ? 'ROLLBACK' : 'COMMIT');
      return result;
    } catch (error) {
      // The server's own error (a lock wait that ran out, a taken lookup id) and an error of
      // `work`'s own (such as `change`'s) leave the connection usable: roll back on it. After a
      // timeout or a broken connection, the client is closed instead, which ends the
      // transaction on the server.
      await client.rollBack();
      if (client.threw(error)) throw this.#mapped(operation, error);
      throw error;
    } finally {
      client.release();
    }
  }

  async #connect(operation: string, waitForOutcome: boolean): Promise<BoundedClient> {
    return BoundedClient.connect(this.#pool, { timeoutMs: this.#timeoutMs, operation, log: this.#log, waitForOutcome });
  }

  /** A failed statement's error as keyward's: a taken key, or a {@link storeFault}. */
  #mapped(operation: string, error: unknown): ApiKeyAuthError {
    const constraint = uniqueViolation(error);
    if (constraint === undefined) return storeFault(operation, error);
    const { primaryKey, lookupId, oneLiveKey } = this.#table.constraints;
    const messages = new Map([
      [primaryKey, 'A key with this id already exists.'],
      [lookupId, 'A key with this lookup id already exists.'],
      [oneLiveKey, 'This account already has a live key in this environment; regenerate it instead.'],
    ]);
    // In migrate(), a unique violation is an index that cannot be built over the rows there.
    const message = operation === 'migrate' ? undefined : messages.get(constraint);
    // Any other unique violation (PostgreSQL's own catalog, say) is no taken key.
    if (message === undefined) return storeFault(operation, error);
    // pg's detail names the taken values (`Key (account_id, environment)=(…)`): a copy without it.
    return new ApiKeyAuthError('ERR_KEY_EXISTS', message, { status: 409, cause: redactedPgError(error) });
  }
}

/** A read that found several live rows where the table's unique indexes allow one. */
function moreThanOneLiveRow(operation: string): ApiKeyAuthError {
  return new ApiKeyAuthError(
    'ERR_STORED_ROW_INVALID',
    `keyward postgres store: ${operation} found more than one live row where keyward's unique indexes allow one; none is used. Run migrate() to create the indexes; it fails until the extra rows are gone.`,
    { status: 500, expose: false },
  );
}

/** The statement texts of one table, built once. */
function statements(table: string, timeoutMs: number) {
  const select = `SELECT ${SELECTED} FROM ${table}`;
  const placeholders = ROW_COLUMNS.map((_, index) => `$${index + 1}`).join(', ');
  return {
    begin: transactionStart(timeoutMs),
    // Two rows are enough to tell that a read names more than one (see #one).
    byLookupId: `${select} WHERE lookup_id = $1 AND ${live()} LIMIT 2`,
    byId: `${select} WHERE id = $1 AND ${live()} LIMIT 2`,
    live: `${select} WHERE account_id = $1 AND environment = $2 AND ${live()} LIMIT 2`,
    lockById: `${select} WHERE id = $1 AND ${live()} FOR UPDATE`,
    insert: `INSERT INTO ${table} (${COLUMNS}) VALUES (${placeholders})`,
    // Duplicate ids in one batch collapse to their latest time first: an UPDATE joined to
    // several source rows would pick one of them at random. Only uses of the row's current
    // lookup id count (one per row after the join), so a flush racing a regenerate cannot
    // stamp the new key. `due` is what the statement's snapshot says to write; `target` locks
    // those rows, skipping any locked elsewhere, and FOR UPDATE checks each again as last
    // committed, so a regenerate that lands meanwhile still wins. Waiting on one locked row
    // would hold every other row of the batch locked meanwhile, holding up manager writes of
    // those keys; never waiting, two flushes cannot deadlock either. The statement returns
    // the uses due whose rows were skipped (or no longer qualify, which the next flush finds):
    // NOT IN, which PostgreSQL runs as one hashed subplan (ids are never null), where NOT
    // EXISTS between the two CTEs, whose sizes it cannot estimate, got a nested loop that
    // compared every pair (260 ms of 280 for 2,000 keys).
    usage: `WITH used AS (
  SELECT id, lookup_id, max(used_at) AS used_at
  FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(id, lookup_id, used_at)
  GROUP BY id, lookup_id
), due AS (
  SELECT k.id, k.lookup_id, used.used_at FROM ${table} AS k
  JOIN used ON used.id = k.id AND used.lookup_id = k.lookup_id
  WHERE ${live('k.')}
    AND (k.last_used_at IS NULL OR k.last_used_at < used.used_at)
), target AS (
  SELECT k.id, due.used_at FROM ${table} AS k
  JOIN due ON due.id = k.id AND due.lookup_id = k.lookup_id
  WHERE ${live('k.')}
    AND (k.last_used_at IS NULL OR k.last_used_at < due.used_at)
  FOR UPDATE OF k SKIP LOCKED
), written AS (
  UPDATE ${table} AS k SET last_used_at = target.used_at FROM target
  WHERE k.id = target.id AND (k.last_used_at IS NULL OR k.last_used_at < target.used_at)
)
SELECT id, lookup_id FROM due WHERE id NOT IN (SELECT id FROM target)`,
  };
}

/**
 * What opens every write transaction, with the store's bounds set on the server for it alone.
 * The values are inlined, not parameters: SET takes none, and `timeoutMs` is a checked integer.
 */
function transactionStart(timeoutMs: number): string {
  // READ COMMITTED whatever the database's default: `modify` compares the row it locked with
  // what its caller read, which needs the locked row's latest committed version. Under
  // REPEATABLE READ or SERIALIZABLE a row changed since the snapshot fails with 40001 instead,
  // and a regenerate that lost a race would read as an outage (503), not as ERR_KEY_CONFLICT.
  //
  // idle_in_transaction_session_timeout: a COMMIT (or the close) held up on the network would
  // otherwise leave the transaction open on the server, holding its row locks, free to commit
  // whenever the COMMIT arrives, after the store has reported the write failed. The server
  // ends the session once the transaction has waited `timeoutMs` for its next statement.
  // - Long enough for every healthy write: nothing runs between a transaction's statements but
  //   synchronous code (`change` may not return a promise; the Argon2 run of regenerate and of
  //   a rehash is done before `modify` begins, and resealing a webhook password inside it takes
  //   microseconds), and
  //   the next statement goes out in the same turn of the event loop as the answer before it
  //   came in. So the server waits one round trip, less than the `timeoutMs` within which
  //   every statement must be answered anyway.
  // - Short enough that a rejected write cannot land later: the store reports a COMMIT that
  //   got no answer failed 2 × `timeoutMs` after sending it (its bound, then the wait for the
  //   cancel's outcome), so more than 2 × `timeoutMs` after the server's last answer. A COMMIT
  //   that reaches the server at all arrives within `timeoutMs` of that answer, which leaves it
  //   more than another `timeoutMs` (its statement_timeout) to finish before the store gives
  //   up. A longer bound would narrow that margin; at 2 × `timeoutMs` or more, a COMMIT could
  //   arrive just as the store rejects and land after it.
  return [
    'BEGIN ISOLATION LEVEL READ COMMITTED',
    `SET LOCAL statement_timeout = ${timeoutMs}`,
    `SET LOCAL lock_timeout = ${timeoutMs}`,
    `SET LOCAL idle_in_transaction_session_timeout = ${timeoutMs}`,
  ].join('; ');
}

/** Whether a value has the two methods every pool (or client) of `pg` has. */
function isPoolShaped(value: unknown): boolean {
  const candidate = value as Partial<PgPoolLike> | null | undefined;
  return typeof candidate?.connect === 'function' && typeof candidate.on === 'function';
}

function checkedPool(pool: unknown): PgPoolLike {
  if (!isPoolShaped(pool)) {
    throw new ApiKeyAuthError('ERR_OPTIONS_INVALID', `${FACTORY}: "pool" is required: pass your pg.Pool.`);
  }
  const candidate = pool as Partial<PgPoolLike>;
  // A pg.Client has connect() and on() too, and its settings under another name.
  if ('connectionParameters' in candidate && !('totalCount' in candidate)) {
    throw new ApiKeyAuthError('ERR_OPTIONS_INVALID', `${FACTORY}: "pool" is a pg.Client; pass a pg.Pool (new pg.Pool({ ..., connectionTimeoutMillis: 2000 })), which the store takes its connections from.`);
  }
  const timeout = candidate.options?.connectionTimeoutMillis;
  if (typeof timeout !== 'number' || !(timeout > 0)) {
    // Without it a hung database holds every request and every pooled connection forever.
    throw new ApiKeyAuthError(
      'ERR_OPTIONS_INVALID',
      `${FACTORY}: "pool" must be created with connectionTimeoutMillis (for example new pg.Pool({ ..., connectionTimeoutMillis: 2000 })), so a hung database cannot hold requests.`,
    );
  }
  return candidate as PgPoolLike;
}

/** Makes sure an idle connection's error cannot crash the process. */
function guardPoolErrors(pool: PgPoolLike, log: ReturnType<typeof completeLogger>): void {
  if (pool.listenerCount('error') > 0) return;
  pool.on('error', (error) => {
    log.warn(
      { event: 'keyward.postgres_pool_error', error: describeError(error) },
      'keyward: an idle PostgreSQL connection failed; the pool opens a new one when needed',
    );
  });
}

/** Copies a result row into an `ApiKeyRow`, leaving out derived columns. */
function toRow(raw: Record<string, unknown>): ApiKeyRow {
  const row: Record<string, unknown> = {};
  for (const column of ROW_COLUMNS) row[column] = TIME_COLUMNS.has(column) ? timeOf(raw[column], column) : raw[column];
  return row as unknown as ApiKeyRow;
}

/**
 * toRow inside `modify`, whose errors from the caller's `change` come back as thrown: a row it
 * cannot read is the store's fault, so it is made one here.
 */
function readModified(raw: Record<string, unknown>): ApiKeyRow {
  try {
    return toRow(raw);
  } catch (error) {
    throw storeFault('modify', error);
  }
}

/** A time column as SELECTED reads it: 'none', or milliseconds since the epoch in text. */
function timeOf(value: unknown, column: string): Date | null {
  if (value === 'none') return null;
  const milliseconds = typeof value === 'string' && EPOCH_MILLISECONDS.test(value) ? Number(value) : Number.NaN;
  // Never null for a time that is there: a missing expiry would mean "never expires".
  if (Number.isNaN(milliseconds)) throw new TypeError(`${column} came back in a form keyward cannot read`);
  // Beyond what a Date holds (PostgreSQL's infinities, years past 275,760) the time is held
  // at the nearest end, which keeps its order against any real clock.
  return new Date(Math.max(-MAX_DATE_MILLISECONDS, Math.min(MAX_DATE_MILLISECONDS, milliseconds)));
}

// Exponents too: before PostgreSQL 14, extract() gives a double, printed as 1e+15 past 10^15.
const EPOCH_MILLISECONDS = /^-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|Infinity)$/;
const MAX_DATE_MILLISECONDS = 8.64e15;

function isoTime(value: unknown): string {
  const time = value instanceof Date ? value.getTime() : Number.NaN;
  if (Number.isNaN(time)) throw new TypeError('recordUsage: used_at must be a valid Date');
  return new Date(time).toISOString();
}
