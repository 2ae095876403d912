// Imports only dependency-free modules, like describe-error.ts: the postgres entry point
// bundles it without a second copy of the core's classes.
import { ownField } from './own-field.js';
import { secretStart } from './secret-like.js';

/**
 * What keyward may pass on of a `pg` error: the copy the Postgres store sets as an error's
 * `cause`, in place of pg's own.
 *
 * pg's DatabaseError carries PostgreSQL's whole answer, and parts of it quote the row:
 * - `detail`: `Failing row contains (…)` for a check or not-null violation, the whole new row
 *   (hash, sealed webhook password, account id); `Key (lookup_id)=(…)` for a unique one;
 * - `where`: `unnamed portal parameter $2 = '…'`, the value itself once the server sets
 *   `log_parameter_max_length_on_error`;
 * - `hint`, `internalQuery`: whatever a function of the operator's writes there;
 * - `message`, and so the first line of `stack`: for a data exception (class 22) it quotes the
 *   value (`invalid input syntax for type integer: "…"`); for an error a function raises
 *   (a trigger's `RAISE`, under whatever SQLSTATE it chose), it says what the function put
 *   there.
 *
 * `util.inspect` and `console.error` print all of these from a `cause`. The copy keeps what
 * cannot hold a value of a row and is what an operator acts on: the name, the SQLSTATE
 * `code`, `severity`, `schema`, `table`, `column`, `dataType`, `constraint`, where in
 * PostgreSQL's source it was raised (`routine`, `file`, `line`), `position` in keyward's own
 * statement, a socket error's `errno`, `syscall`, `address` and `port`, and the stack frames.
 * An error a function of the database wrote (a trigger's `RAISE`, or a statement a function
 * ran) keeps none of the name fields and none of its text: a function chooses all of them,
 * its SQLSTATE too. Otherwise pg's message is kept only where PostgreSQL builds it from names
 * alone (see {@link NAMES_ONLY}), or where keyward's own migrate() raised it, and rebuilt from
 * the kept fields elsewhere. Even there it is kept only when every name in it looks like one
 * ({@link namesOnly}): a CHECK or a view that casts a column to a `reg*` type or passes it to
 * `current_setting` makes PostgreSQL quote the column's value (a key hash, a sealed webhook
 * password) as the name it did not find. An error that is not PostgreSQL's
 * answer (a socket error, pg's own, keyward's timeouts) keeps its message, but for the host
 * name a lookup failed for: a malformed connection string can make a password the host.
 *
 * @param error - what a query, a connect or keyward's reading of a row threw.
 * @returns a new Error; `error` itself is left as it is.
 * @example
 * ```ts
 * new ApiKeyAuthError('ERR_STORE_UNAVAILABLE', message, { cause: redactedPgError(error) });
 * ```
 */
export function redactedPgError(error: unknown): Error {
  return copyOf(error, 0);
}

/**
 * The SQLSTATE of an error that is PostgreSQL's answer (pg's DatabaseError: a five-character
 * `code` and a `severity`), or undefined for any other error. A socket error has a `code` too
 * (`EPIPE` even looks like a SQLSTATE), but no severity.
 */
export function serverSqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  // Own fields only: pg sets them on the error itself, and a read through the prototype chain
  // could be planted.
  const code = ownField(error as { code?: unknown }, 'code');
  const severity = ownField(error as { severity?: unknown }, 'severity');
  return typeof code === 'string' && SQLSTATE.test(code) && typeof severity === 'string' ? code : undefined;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** Fields copied as they are: codes and places, never a value of a row. */
const KEPT = [
  ...['code', 'severity', 'routine', 'file', 'line', 'position'],
  ...['errno', 'syscall', 'address', 'port'],
] as const;

/**
 * Fields that name a schema, table, column, type or constraint: copied when PostgreSQL set
 * them, left out when a function wrote them (`RAISE … USING COLUMN = …` takes any text).
 */
const NAMES = ['schema', 'table', 'column', 'dataType', 'constraint'] as const;

// Where an error arose in a function of the database's (a trigger, say): PostgreSQL names the
// function in `where`. keyward's own migrate() runs DO blocks, which it calls inline_code_block.
const IN_A_FUNCTION = /\b(?:PL\/pgSQL|SQL) function (?!inline_code_block\b)/;

/**
 * SQLSTATE classes whose messages PostgreSQL builds from names, settings and keyward's own
 * statement text, never from a parameter or a row: feature not supported (0A), connection
 * (08), transaction state (25), authorization (28), catalog and schema names (3D, 3F),
 * rollback (40: serialization failure, deadlock), syntax and access (42), resources (53, 54),
 * object state (55: lock not available), operator intervention (57: cancel, shutdown),
 * system and internal errors (58, XX).
 */
const NAMES_ONLY = /^(?:0A|08|25|28|3D|3F|40|42|53|54|55|57|58|XX)/;

/** The integrity violations (class 23), by name, for the message rebuilt from the fields. */
const INTEGRITY: Readonly<Record<string, string>> = {
  '23502': 'not-null violation',
  '23503': 'foreign key violation',
  '23505': 'unique violation',
  '23514': 'check violation',
  '23P01': 'exclusion violation',
};

/** The name of an error as a class or library gives it: `error`, `DatabaseError`. */
const ERROR_NAME = /^\w{1,64}$/;

/** Copies nested errors (`cause`, an AggregateError's `errors`) this deep, no deeper. */
const MAX_DEPTH = 2;

/** {@link redactedPgError} of an error found `depth` causes down. */
function copyOf(error: unknown, depth: number): Error {
  if (!(error instanceof Error)) {
    return new Error(`something other than an Error was thrown (${error === null ? 'null' : typeof error})`);
  }

  const written = writtenByFunction(error);
  const copy = new Error(safeMessage(error, written));
  const name = readSafely(() => error.name);
  // pg names its errors `error`; a name that is no identifier could carry anything.
  hidden(copy, 'name', typeof name === 'string' && ERROR_NAME.test(name) ? name : 'Error');
  for (const field of written ? KEPT : [...KEPT, ...NAMES]) {
    const value = ownField(error as unknown as Record<string, unknown>, field);
    if (typeof value === 'string' || typeof value === 'number') Object.assign(copy, { [field]: value });
  }
  copy.stack = `${copy.name}: ${copy.message}${framesOf(error)}`;

  if (depth < MAX_DEPTH) {
    const cause = ownField(error as { cause?: unknown }, 'cause');
    if (cause !== undefined) hidden(copy, 'cause', copyOf(cause, depth + 1));
    const errors = ownField(error as { errors?: unknown }, 'errors');
    if (Array.isArray(errors)) hidden(copy, 'errors', errors.map((each: unknown) => copyOf(each, depth + 1)));
  }
  return copy;
}

/** A field of pg's error as text, or undefined when it is not a non-empty string. */
function textField(error: Error, name: string): string | undefined {
  const value = ownField(error as unknown as Record<string, unknown>, name);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Whether a function of the database's wrote the error (a trigger's `RAISE`, or a statement a
 * function ran): its text, its SQLSTATE and its name fields are then the function's to choose,
 * and may hold a row's values whatever the class says. keyward's own migrate() blocks are not.
 */
export function writtenByFunction(error: Error): boolean {
  if (serverSqlState(error) === undefined) return false;
  const where = textField(error, 'where');
  if (where !== undefined) return IN_A_FUNCTION.test(where);
  return textField(error, 'routine') === 'exec_stmt_raise';
}

/** pg's message where it holds no value (see {@link redactedPgError}), else one from the fields. */
function safeMessage(error: Error, written: boolean): string {
  const message = readSafely(() => error.message);
  const text = typeof message === 'string' ? message : '';
  const code = serverSqlState(error);
  if (code === undefined) return withHostWithheld(error, text);
  if (written) return 'raised in a function of the database: its text is not repeated here, as it may quote a value';
  const field = (name: string) => textField(error, name);
  // keyward's own RAISE in migrate(), which names a table and an index; any other RAISE text
  // (a function's) was answered above.
  if (field('routine') === 'exec_stmt_raise') return text.startsWith('keyward: ') ? text : 'raised: its text is not repeated here';
  if (NAMES_ONLY.test(code) && namesOnly(text)) return text;

  const [schema, table, column, constraint] = [field('schema'), field('table'), field('column'), field('constraint')];
  const where = [
    constraint === undefined ? '' : ` of constraint "${constraint}"`,
    column === undefined ? '' : ` in column "${column}"`,
    table === undefined ? '' : ` on table "${schema === undefined ? '' : `${schema}.`}${table}"`,
  ].join('');
  if (code.startsWith('23')) return `${INTEGRITY[code] ?? 'integrity constraint violation'}${where}`;
  if (code.startsWith('22')) return `data exception${where}: the refused value is not repeated here`;
  return `PostgreSQL error${where}: its text is ${NOT_REPEATED}, as it may quote a value`;
}

/** What a copy's message says when it leaves PostgreSQL's text out. */
export const NOT_REPEATED = 'not repeated here';

/** What stands in a socket error's message for the host name it could not resolve. */
const WITHHELD_HOST = '…';

/**
 * Whether a message of a names-only class holds names and nothing else: every double-quoted
 * part, and every other word that is not a plain word or number, {@link looksLikeName}, and no
 * quote is left over. A CHECK or a view that casts a column to a `reg*` type or passes it to
 * `current_setting` makes PostgreSQL quote the column's value as the name it did not find, and
 * PostgreSQL does not escape a quote inside a name, so a value in quotes of its own
 * (`quote_ident`) cannot be told from two names: any doubt keeps the whole text out.
 */
function namesOnly(text: string): boolean {
  let rest = text;
  for (const [quoted, name] of text.matchAll(QUOTED)) {
    if (!looksLikeName(name!)) return false;
    rest = rest.replace(quoted, ' ');
  }
  if (rest.includes('"')) return false;
  return rest.split(/\s+/).every((word) => {
    const bare = word.replace(EDGE_PUNCTUATION, '');
    return bare === '' || PLAIN_WORD.test(bare) || looksLikeName(bare);
  });
}

/** A double-quoted part of a message, up to the next quote. */
const QUOTED = /"([^"]*)"/g;

/** Punctuation a message puts around a word: `(too many dotted names):`. */
const EDGE_PUNCTUATION = /^[(\[]+|[)\],.:;]+$/g;

/** A word of the message's own wording, or a number. */
const PLAIN_WORD = /^(?:\p{L}+|\d+)$/u;

/**
 * One part of a dotted name: letters of any script, digits, `_`, `$`, `-`, `@` (Azure's
 * `user@server`), `:` (an IPv6 address) and spaces, at most 63 characters (PostgreSQL's limit).
 * Not `=`, `,`, `+`, `/` or a control character: a key hash has them.
 */
const NAME_PART = /^[\p{L}\p{N}_$@: -]{1,63}$/u;

/**
 * Whether a name in a names-only message looks like one a person gave (`api_keys`,
 * `keyward.api_keys`, `my-database`, `app@myserver`, `::1`) rather than a value: at most four
 * dotted parts of name characters, and nothing {@link secretStart} takes for a secret. A key
 * hash (`$argon2id$v=19$m=…`) and a sealed password (five dotted parts, random base64url) are
 * not names; a lookup id or an account id, which are no secrets, can be. A name that looks
 * random (`PrimaryUsEast1Db`) is taken for a value too.
 */
function looksLikeName(text: string): boolean {
  const parts = text.split('.');
  return parts.length <= 4 && parts.every((part) => NAME_PART.test(part)) && !SEALED_START.test(text) && secretStart(text) < 0;
}

/**
 * The start of a sealed value (`v1.<key id>.`): PostgreSQL's parser of a `reg*` input cuts a
 * value at `--`, as it does a comment, so a sealed password can come back as four parts or
 * fewer, lower-cased.
 */
const SEALED_START = /(?:^|[^0-9a-z])v\d+\.[0-9a-z_-]+\./i;

/**
 * A socket error's message with the host name it failed to resolve (`getaddrinfo ENOTFOUND …`)
 * withheld: `postgres://<password>:5432/db`, a connection string without its user and `@`,
 * makes pg resolve the password, and no test of the name's shape tells a word-like password
 * from a host. The operator has the host in the connection settings.
 */
function withHostWithheld(error: Error, text: string): string {
  const hostname = textField(error, 'hostname');
  return hostname === undefined ? text : text.split(hostname).join(WITHHELD_HOST);
}

/** Sets a field as Error's own are set: not enumerable, so JSON and inspect's list skip it. */
function hidden(target: Error, field: string, value: unknown): void {
  Object.defineProperty(target, field, { value, configurable: true, writable: true });
}

/**
 * The `at …` lines of the error's stack, without the message above them. The stack starts with
 * a name and the message as the error was made, and a message may hold lines of its own that
 * look like frames (a value PostgreSQL quoted, starting with a line break and `at`): so the
 * frames are read only after the message, and none at all when the stack's first line does not
 * lead into it (the name may have changed since: pg names its errors after making them).
 */
function framesOf(error: Error): string {
  const [stack, message] = [readSafely(() => error.stack), readSafely(() => error.message)];
  if (typeof stack !== 'string' || typeof message !== 'string') return '';
  const messageAt = stack.indexOf(`: ${message}\n`);
  if (messageAt < 0 || stack.slice(0, messageAt).includes('\n')) return '';
  return stack
    .slice(messageAt + message.length + 3)
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .map((line) => `\n${line}`)
    .join('');
}

/** A field of a thrown value, or undefined when its getter throws: copying must not fail. */
function readSafely(read: () => unknown): unknown {
  try {
    return read();
  } catch {
    return undefined;
  }
}
