import { invalidOption } from './errors.js';
import { closestName, isClass, quotedName } from './options.js';
import { isThenable } from './thenable.js';

/** Fields attached to a log event: codes, reasons, key ids. Never a key or a password. */
export type LogFields = Record<string, unknown>;

/**
 * The logger keyward writes to. The call shape is pino's `(fields, message)`, so a pino or
 * Fastify `request.log` logger can be passed as it is; `console` works too (`console.log` does
 * not: it has no level methods). winston's methods take the message first, so a winston
 * logger needs level methods that swap the two (the README's "Logging through winston").
 * Each method is optional, but a logger must have at least one of them when it is passed
 * (`PostgresKeyStore` needs `warn`), or the factory throws `ERR_OPTIONS_INVALID`. Each is
 * looked up when keyward writes, so a level changed at runtime (pino's
 * `logger.level = 'debug'`) applies to the next line.
 */
export interface Logger {
  // Properties rather than methods, so each can say `| undefined`: a level left undefined is
  // one the logger lacks, and apps compiled with exactOptionalPropertyTypes may pass it so.
  debug?: LogMethod | undefined;
  info?: LogMethod | undefined;
  warn?: LogMethod | undefined;
  error?: LogMethod | undefined;
  /**
   * Whether a level writes anything now (pino and winston have it). When it says `debug` is
   * off, keyward does not even build the line for a pass or a refusal.
   */
  isLevelEnabled?: ((level: string) => boolean) | undefined;
}

/** One level of a {@link Logger}: pino's `(fields, message)` call shape. */
export type LogMethod = (fields: LogFields, message: string) => void;

/**
 * A logger whose every level exists; missing levels of the app's logger do nothing. Spelt
 * out rather than `Required<Logger>`, which keeps `| undefined` under exactOptionalPropertyTypes.
 */
export type CompleteLogger = Record<'debug' | 'info' | 'warn' | 'error', LogMethod>;

const noop = () => {};

/**
 * Fills in the levels an app's logger lacks. A logger that throws never breaks a request.
 *
 * @internal Shared with keyward's other entry points; not public API, and may change in any release.
 */
export function completeLogger(logger: Logger | undefined): CompleteLogger {
  if (logger === undefined) return { debug: noop, info: noop, warn: noop, error: noop };
  const level = (name: keyof CompleteLogger) => (fields: LogFields, message: string) => {
    try {
      const write = logger[name];
      if (typeof write !== 'function') return;
      const written: unknown = write.call(logger, fields, message);
      // An async logger's rejection, left unobserved, would end the process.
      if (isThenable(written)) written.then(undefined, noop);
    } catch {
      // A broken logger (a throwing method or getter) must not turn a decision into a crash.
    }
  };
  return { debug: level('debug'), info: level('info'), warn: level('warn'), error: level('error') };
}

/** The level methods a logger may have. */
export type LogLevel = keyof CompleteLogger;

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * Checks that an option value can be a logger: an object, or a function (a callable logger),
 * that has at least one of `levels` as a method when it is passed. Anything else would be
 * taken and then never written to, so a store outage would go unlogged. Methods are still
 * looked up on every write (see {@link completeLogger}), so one replaced later applies; the
 * check only refuses a logger that could never write. A getter that throws counts as a
 * method, as in {@link mayLog}: the writes guard against it.
 *
 * @param value - the `logger` option as given.
 * @param factory - the factory it was given to; the message starts with it.
 * @param levels - the levels the caller writes to; the logger needs at least one of them.
 * @param why - what the caller writes at those levels, for the message, or empty.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID`, naming what was expected, with a
 *   did-you-mean for a misspelt level method.
 *
 * @internal Shared with keyward's other entry points; not public API, and may change in any release.
 */
export function assertLoggerShaped(value: unknown, factory: string, levels: readonly LogLevel[] = LEVELS, why = ''): void {
  const wanted = levels.length === 1
    ? `a ${levels[0]} method`
    : `at least one of the ${levels.slice(0, -1).join(', ')} and ${levels.at(-1)} methods`;
  const expected = `${factory}: "logger" must be an object (or a function) with ${wanted}${why}`;
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    invalidOption(`${expected}; got ${value === null ? 'null' : `a ${typeof value}`}.`);
  }
  const logger = value as Record<string, unknown>;
  let classLevel: LogLevel | undefined;
  for (const level of levels) {
    try {
      const method = logger[level];
      if (typeof method !== 'function') continue;
      // A class is a function that throws when called without `new`: every write would fail.
      if (!isClass(method as (...args: never[]) => unknown)) return;
      classLevel ??= level;
    } catch {
      return;
    }
  }
  if (classLevel) invalidOption(`${expected}; it has none ("${classLevel}" is a class, which cannot be called).`);
  // winston's syslog levels name it `warning`, which no spelling distance reaches from `warn`.
  if (levels.includes('warn') && hasMethod(logger, 'warning')) {
    invalidOption(`${expected}; it has none ("warning" is not one). Did you mean "warn"? (winston with syslog levels needs a warn method added.)`);
  }
  const near = nearLevel(logger, levels);
  if (near && near.name === near.level) invalidOption(`${expected}; it has none ("${near.level}" is not a function).`);
  if (near) invalidOption(`${expected}; it has none (${quotedName(near.name)} is not one). Did you mean "${near.level}"?`);
  // console.log, or a bare (fields, message) function: keyward calls level methods only.
  if (typeof value === 'function') invalidOption(`${expected}; the function given has none (pass console, not console.log).`);
  invalidOption(`${expected}; it has none.`);
}

function hasMethod(logger: Record<string, unknown>, name: string): boolean {
  try {
    return typeof logger[name] === 'function';
  } catch {
    return false;
  }
}

/**
 * The first own property of `logger` named as one of `levels` (so not a function) or close to
 * one (misspelt), and that level.
 */
function nearLevel(logger: object, levels: readonly LogLevel[]): { name: string; level: string } | undefined {
  let names: string[];
  try {
    names = Object.keys(logger);
  } catch {
    return undefined; // a proxy whose ownKeys trap throws
  }
  for (const name of names) {
    const level = closestName(name, levels);
    if (level !== undefined) return { name, level };
  }
  return undefined;
}

/**
 * Whether a line at this level could be written now: the logger has a method for it and, if
 * it can tell (`isLevelEnabled`), the level is on. Lets callers skip building lines nobody
 * writes. Never throws: a logger that throws here counts as writing.
 *
 * @param logger - the app's logger, or undefined for none.
 * @param level - the level the line would go to.
 */
export function mayLog(logger: Logger | undefined, level: keyof CompleteLogger): boolean {
  if (logger === undefined) return false;
  try {
    if (typeof logger[level] !== 'function') return false;
    return typeof logger.isLevelEnabled !== 'function' || logger.isLevelEnabled(level) !== false;
  } catch {
    return true;
  }
}

/**
 * Paths to redact from request logs, in pino's `redact` syntax: the default headers that carry
 * keys (add your own for another `apiKeyHeader` or a query carrier). Frozen; spread it where a
 * logger's types want a mutable array.
 *
 * @example
 * ```ts
 * const app = Fastify({ logger: { redact: [...KEYWARD_REDACT_PATHS] } });
 * ```
 */
export const KEYWARD_REDACT_PATHS: readonly string[] = Object.freeze([
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'request.headers.authorization',
  'request.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
]);
