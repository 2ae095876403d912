import { isThenable } from './thenable.js';

/** Fields attached to a log event: codes, reasons, key ids. Never a key or a password. */
export type LogFields = Record<string, unknown>;

/**
 * The logger keyward writes to. The call shape is pino's `(fields, message)`, so a pino or
 * Fastify `request.log` logger can be passed as it is; `console` works too. Every method is
 * optional.
 */
export interface Logger {
  debug?(fields: LogFields, message: string): void;
  info?(fields: LogFields, message: string): void;
  warn?(fields: LogFields, message: string): void;
  error?(fields: LogFields, message: string): void;
}

/** A logger whose every level exists; missing levels of the app's logger do nothing. */
export type CompleteLogger = Required<Logger>;

const noop = () => {};

/** Fills in the levels an app's logger lacks. A logger that throws never breaks a request. */
export function completeLogger(logger: Logger | undefined): CompleteLogger {
  const level = (name: keyof Logger) => {
    const write = logger?.[name];
    if (typeof write !== 'function') return noop;
    return (fields: LogFields, message: string) => {
      try {
        const written: unknown = write.call(logger, fields, message);
        // An async logger's rejection, left unobserved, would end the process.
        if (isThenable(written)) written.then(undefined, noop);
      } catch {
        // A broken logger must not turn an authentication decision into a crash.
      }
    };
  };
  return { debug: level('debug'), info: level('info'), warn: level('warn'), error: level('error') };
}

/**
 * Whether a level of a completed logger writes nothing (the logger given had no such
 * method), so that callers can skip building its fields.
 */
export function isSilent(write: CompleteLogger[keyof Logger]): boolean {
  return write === noop;
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
