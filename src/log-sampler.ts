import type { LogFields } from './logger.js';

/**
 * Lets one log line per key through per interval and counts the ones it holds back. Meant for
 * events an outsider can trigger at request rate, such as a full Argon2 queue or a database
 * outage, where one line per request would flood the app's logs.
 *
 * Each window is a timer, not a comparison with the wall clock, so a clock stepped back
 * cannot silence lines for the length of the step. When a window ends, its held-back count
 * is reported through `onHeldBack` (once the burst is over, not with the next line, which may
 * come days later) and the key is forgotten: only keys seen within the last interval are
 * held in memory.
 */
export class LogSampler {
  readonly #intervalMs: number;
  readonly #onHeldBack: (key: string, skipped: number) => void;
  readonly #windows = new Map<string, { skipped: number; timer: NodeJS.Timeout }>();

  /**
   * @param intervalMs - how long a window lasts.
   * @param onHeldBack - called when a window that held lines back ends, with its count.
   */
  constructor(intervalMs: number, onHeldBack: (key: string, skipped: number) => void) {
    this.#intervalMs = intervalMs;
    this.#onHeldBack = onHeldBack;
  }

  /**
   * Asks whether a line for `key` may be written now: true for the first line of a window,
   * false (and counted) for the others.
   */
  admit(key: string): boolean {
    const open = this.#windows.get(key);
    if (open) {
      open.skipped++;
      return false;
    }
    const window = {
      skipped: 0,
      timer: setTimeout(() => {
        this.#windows.delete(key);
        if (window.skipped > 0) this.#onHeldBack(key, window.skipped);
      }, this.#intervalMs),
    };
    // An open window is no reason to keep the process alive; flush() reports what it holds.
    window.timer.unref();
    this.#windows.set(key, window);
    return true;
  }

  /** Reports every count still held back now, and ends every window. */
  flush(): void {
    for (const [key, window] of this.#windows) {
      clearTimeout(window.timer);
      if (window.skipped > 0) this.#onHeldBack(key, window.skipped);
    }
    this.#windows.clear();
  }
}

/**
 * The usual `onHeldBack` of a sampler: one `keyward.log_held_back` line, at the level the
 * held-back lines would have gone to, naming their kind and count.
 *
 * @param write - the logger level the sampled lines go to.
 */
export function heldBackLine(write: (fields: LogFields, message: string) => void): (kind: string, skipped: number) => void {
  return (kind, skipped) =>
    write({ event: 'keyward.log_held_back', kind, skipped }, `keyward: ${skipped} more "${kind}" lines in the last second were not logged`);
}

/** The log samplers of one authenticator, per level. */
export interface SampledLines {
  error: LogSampler;
  warn: LogSampler;
}
