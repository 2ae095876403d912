/**
 * Lets one log line per key through per interval and counts the ones it holds back. Meant for
 * events an outsider can trigger at request rate, such as a full Argon2 queue or a database
 * outage, where one line per request would flood the app's logs.
 */
export class LogSampler {
  readonly #intervalMs: number;
  readonly #now: () => number;
  // Keyed by a closed set of reasons, so it stays a handful of entries.
  readonly #windows = new Map<string, { openedAt: number; skipped: number }>();

  constructor(intervalMs: number, now: () => number = Date.now) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /**
   * Asks whether a line for `key` may be written now.
   *
   * @returns the number of lines held back since the last one let through (0 for none), or
   *   undefined when this line is to be held back too.
   */
  admit(key: string): number | undefined {
    const now = this.#now();
    const window = this.#windows.get(key);
    if (window && now - window.openedAt < this.#intervalMs) {
      window.skipped++;
      return undefined;
    }
    this.#windows.set(key, { openedAt: now, skipped: 0 });
    return window?.skipped ?? 0;
  }
}
