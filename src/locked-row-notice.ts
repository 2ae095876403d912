import type { CompleteLogger } from './logger.js';

/**
 * How long uses may go on being deferred, flush after flush, before it is logged: a row lock
 * held by another write is normal for a moment, not for ten minutes (an open transaction).
 */
export const LOCKED_ROW_NOTICE_MS = 600_000;

/**
 * Tells the operator of rows a store keeps deferring uses of (`recordUsage` answering
 * `{ deferred }`). Deferred uses are retried without a word, as a row lock held by another
 * write is normal for a moment; flushes that have all deferred some for
 * {@link LOCKED_ROW_NOTICE_MS} say something holds a row for good (a transaction left open,
 * say). That is logged at warn (`keyward.usage_deferred`), then again each such period while
 * it lasts.
 *
 * @example
 * ```ts
 * const lockedRows = new LockedRowNotice(logger);
 * lockedRows.note(deferredThisFlush); // after every flush; 0 ends a streak
 * ```
 */
export class LockedRowNotice {
  readonly #logger: CompleteLogger;
  /** When the flushes began to defer uses, every one since; undefined while none does. */
  #since: number | undefined;
  /** When it was last logged. */
  #loggedAt = 0;

  constructor(logger: CompleteLogger) {
    this.#logger = logger;
  }

  /**
   * Notes what a flush left deferred.
   *
   * @param deferred - uses the flush's calls came back deferred; 0 ends a streak.
   */
  note(deferred: number): void {
    if (deferred === 0) {
      this.#since = undefined;
      return;
    }
    const now = Date.now();
    this.#since ??= now;
    if (now - this.#since < LOCKED_ROW_NOTICE_MS || now - this.#loggedAt < LOCKED_ROW_NOTICE_MS) return;
    this.#loggedAt = now;
    const minutes = Math.round((now - this.#since) / 60_000);
    this.#logger.warn(
      { event: 'keyward.usage_deferred', keys: deferred, minutes },
      `keyward could not record last_used_at for ${deferred} keys: another transaction has held their rows locked through every flush for ${minutes} minutes; it keeps retrying`,
    );
  }
}
