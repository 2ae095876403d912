import { describeError } from './describe-error.js';
import type { CompleteLogger } from './logger.js';
import type { KeyStore, KeyUsage } from './store.js';

/** One key's latest use, waiting for the next flush. */
interface NotedUse {
  keyId: string;
  lookupId: string;
  usedAtMs: number;
}

/**
 * Writes `last_used_at` behind the request path. Uses are coalesced per key (the latest time
 * wins) and flushed in one batch per interval, so the store sees at most one write per key per
 * interval however many requests arrive. A failed flush keeps its uses for the next one and
 * never touches a request. A write that does not finish within the store timeout counts as
 * failed, so neither the interval nor `close()` can hang on a stuck store.
 */
export class UsageRecorder {
  readonly #store: KeyStore;
  readonly #logger: CompleteLogger;
  readonly #timer: NodeJS.Timeout;
  readonly #writeTimeoutMs: number;
  /** The latest use of each key since the last flush, per lookup id (see {@link #slotOf}). */
  #pending = new Map<string, NotedUse>();
  #flushing: Promise<void> | undefined;
  /**
   * Failed flushes in a row, and how many of them make one log line: every one at an interval
   * of a second or more, every tenth at 100 ms. With an interval of a few milliseconds and a
   * store that keeps failing, a line per flush would be hundreds a second.
   */
  #failedInARow = 0;
  readonly #failuresPerLine: number;

  constructor(store: KeyStore, intervalMs: number, writeTimeoutMs: number, logger: CompleteLogger) {
    this.#store = store;
    this.#logger = logger;
    this.#writeTimeoutMs = writeTimeoutMs;
    this.#failuresPerLine = Math.ceil(1_000 / intervalMs);
    this.#timer = setInterval(() => void this.#flushOnce(), intervalMs);
    // A pending write is no reason to keep the process alive; close() flushes it.
    this.#timer.unref();
  }

  /**
   * Notes a successful use of the key with this lookup id; costs a map write.
   *
   * @param usedAtMs - when, in milliseconds: the Date is made once per key and flush, not
   *   once per request.
   */
  record(keyId: string, lookupId: string, usedAtMs: number): void {
    const waiting = this.#pending.get(keyId);
    // The common case, a key used again within the interval, changes the waiting use in place.
    if (waiting !== undefined && waiting.lookupId === lookupId) waiting.usedAtMs = usedAtMs;
    else this.#pending.set(this.#slotOf(keyId, lookupId, waiting), { keyId, lookupId, usedAtMs });
  }

  /**
   * Where a use waits: under the key id, or, when a use of the same key under another lookup
   * id already waits there, in the key's second slot. That happens only around a regenerate:
   * a request of the old key that read the row just before it can pass after the new key's
   * first use. Both are sent, and the store records the one whose lookup id the row has, so
   * the late old use cannot hide the new key's. One second slot, taken by the latest other
   * lookup id, keeps a key at two waiting uses however often it is regenerated while the
   * store keeps failing (an older lookup id's use would be skipped by the store anyway).
   */
  #slotOf(keyId: string, lookupId: string, waiting = this.#pending.get(keyId)): string {
    return waiting === undefined || waiting.lookupId === lookupId ? keyId : `${keyId}\0`;
  }

  /**
   * Writes the pending uses, unless a write is already under way: then that write is the
   * interval's. Resolves when done; never rejects.
   */
  #flushOnce(): Promise<void> {
    this.#flushing ??= this.#writePending().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /**
   * Writes every use noted before this call. A write already under way took only the uses
   * noted before it began, so it is waited for and what came after is written next. Never
   * rejects.
   */
  async flush(): Promise<void> {
    await this.#flushing;
    await this.#flushOnce();
  }

  /** Stops the interval and writes what is pending. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  async #writePending(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.values()];
    this.#pending = new Map();
    const usage = batch.map(({ keyId, lookupId, usedAtMs }): KeyUsage => ({ id: keyId, lookup_id: lookupId, used_at: new Date(usedAtMs) }));

    try {
      await this.#recordWithin(usage);
      this.#failedInARow = 0;
    } catch (error) {
      // Put the batch back for the next try, except where a key was used again meanwhile:
      // that later use supersedes it.
      for (const use of batch) {
        const slot = this.#slotOf(use.keyId, use.lookupId);
        if (!this.#pending.has(slot)) this.#pending.set(slot, use);
      }
      if (this.#failedInARow++ % this.#failuresPerLine !== 0) return;
      this.#logger.warn(
        { event: 'keyward.usage_flush_failed', keys: usage.length, error: describeError(error) },
        'keyward could not record last_used_at; it will retry on the next flush',
      );
    }
  }

  /** The store's write, or a rejection once the write timeout has passed. */
  async #recordWithin(usage: KeyUsage[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`recordUsage took longer than ${this.#writeTimeoutMs} ms`)), this.#writeTimeoutMs);
    });
    const write = Promise.resolve().then(() => this.#store.recordUsage(usage));
    // A write that settles after the timeout must not surface as an unhandled rejection.
    write.catch(() => {});
    try {
      await Promise.race([write, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
