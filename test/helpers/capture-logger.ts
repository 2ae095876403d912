import { API_KEY_PATTERN, type LogFields, type Logger } from 'keyward';

/** One captured log call. */
export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: LogFields;
  message: string;
}

/**
 * A logger that keeps every call and notes each line that looks like a keyward key or holds
 * one of the secrets it was told about. keyward swallows logger exceptions (a broken logger
 * must not break a request), so leaks are collected and checked with {@link assertNoLeaks}.
 */
export class CaptureLogger implements Logger {
  readonly entries: LogEntry[] = [];
  readonly leaks: string[] = [];
  readonly #secrets: string[];

  constructor(secrets: string[] = []) {
    this.#secrets = secrets;
  }

  debug(fields: LogFields, message: string) { this.#keep('debug', fields, message); }
  info(fields: LogFields, message: string) { this.#keep('info', fields, message); }
  warn(fields: LogFields, message: string) { this.#keep('warn', fields, message); }
  error(fields: LogFields, message: string) { this.#keep('error', fields, message); }

  /** Adds secrets (keys, passwords) that must never appear in a line. */
  forbid(...secrets: string[]): void {
    this.#secrets.push(...secrets);
  }

  #keep(level: LogEntry['level'], fields: LogFields, message: string): void {
    const line = JSON.stringify({ fields, message }, (_key, value) => (value instanceof Error ? String(value) : value));
    if (API_KEY_PATTERN.test(line) || this.#secrets.some((secret) => line.includes(secret))) {
      // Record where, not what: the test output must not repeat the secret either.
      this.leaks.push(`${level}: ${message.slice(0, 40)}`);
    }
    this.entries.push({ level, fields, message });
  }

  /** Throws if any captured line carried a key or a forbidden secret. */
  assertNoLeaks(): void {
    if (this.leaks.length > 0) throw new Error(`log lines carry secret material: ${this.leaks.join('; ')}`);
  }
}
