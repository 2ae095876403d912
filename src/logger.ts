import { isThenable } from './thenable.js';

/** Fields attached to a log event: codes, reasons, key ids. Never a key or a password. */
export type LogFields = Record<string, unknown>;

/**
 * The logger keyward writes to. The call shape is pino's `(fields, message)`, so a pino or
 * Fastify `request.log` logger can be passed as it is; `console` works too. Every method is
 * optional, and each is looked up when keyward writes, so a level changed at runtime (pino's
 * `logger.level = 'debug'`) applies to the next line.
 */
export interface Logger {
  debug?(fields: LogFields, message: string): void;
  info?(fields: LogFields, message: string): void;
  warn?(fields: LogFields, message: string): void;
  error?(fields: LogFields, message: string): void;
  /**
   * Whether a level writes anything now (pino and winston have it). When it says `debug` is
   * off, keyward does not even build the line for a pass or a refusal.
   */
  isLevelEnabled?(level: string): boolean;
}

/** A logger whose every level exists; missing levels of the app's logger do nothing. */
export type CompleteLogger = Required<Omit<Logger, 'isLevelEnabled'>>;

const noop = () => {};

/** Fills in the levels an app's logger lacks. A logger that throws never breaks a request. */
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

/**
 * Whether an option value can be a logger: an object, or a function with level methods.
 *
 * @param value - the `logger` option as given.
 */
export function isLoggerShaped(value: unknown): boolean {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
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
 * Paths to redact from request logs, in pino's `redact` syntax: the headers that carry keys.
 *
 * @example
 * ```ts
 * const app = Fastify({ logger: { redact: KEYWARD_REDACT_PATHS } });
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
