import { describeError } from './describe-error.js';
import type { CompleteLogger } from './logger.js';
import { raceWithin, TIMED_OUT } from './shared-deadline.js';
import type { KeyStore, KeyUsage } from './store.js';
import { callsFor, deferredOf, type NotedUse, type USAGE_BATCH_LIMIT } from './usage-calls.js';
import { LockedRowNotice } from './locked-row-notice.js';

/**
 * Failed calls that end a flush. One costs only its own uses (a batch the store refuses, say);
 * a second says the store itself is failing, and trying the rest would cost up to a write
 * timeout per call, close() included. The rest is kept for the next flush.
 */
const FAILED_CALLS_ENDING_A_FLUSH = 2;

/** A `recordUsage` call given up on at the write timeout (it may still land). */
class WriteTimedOut extends Error {}


/**
 * Writes `last_used_at` behind the request path. Uses are coalesced per key (the latest time
 * wins) and flushed once per interval, in calls of at most {@link USAGE_BATCH_LIMIT} uses, so
 * the store sees at most one write per key per interval however many requests arrive. A call
 * that fails keeps its uses for the next flush, as do uses the store deferred; what the other
 * calls wrote is done. None of it touches a request. A call that does not finish within the
 * store timeout counts as failed, so neither the interval nor `close()` can hang on a stuck
 * store; the store is given no second call until that one settles, so calls given up on cannot
 * pile up in it.
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
   * The store's last `recordUsage` call, until it settles: after the write timeout too. A
   * write given up on may still hold a pooled connection, waiting on a table lock say; starting
   * another each interval would take one more each time, until lookups found none.
   */
  #unsettledWrite: Promise<void> | undefined;
  /**
   * Failed flushes in a row, and how many of them make one log line: every one at an interval
   * of a second or more, every tenth at 100 ms. With an interval of a few milliseconds and a
   * store that keeps failing, a line per flush would be hundreds a second.
   */
  #failedInARow = 0;
  readonly #failuresPerLine: number;
  /** Set by close(): a failed flush then loses its uses, so it is always logged. */
  #closing = false;
  /** Logs uses deferred flush after flush for long: a row some transaction keeps locked. */
  readonly #lockedRows: LockedRowNotice;
  /**
   * Keys whose last call failed, with that call's size. Their uses go last in the next flush,
   * in calls of half that size, so a use the store refuses for good (a row an operator's
   * constraint rejects, say) is cut off from the others within ten flushes (1,000 to 1) and
   * holds none of them up after that. A key leaves once a call with its use succeeds.
   */
  readonly #suspects = new Map<string, number>();

  constructor(store: KeyStore, intervalMs: number, writeTimeoutMs: number, logger: CompleteLogger) {
    this.#store = store;
    this.#logger = logger;
    this.#writeTimeoutMs = writeTimeoutMs;
    this.#failuresPerLine = Math.ceil(1_000 / intervalMs);
    this.#lockedRows = new LockedRowNotice(logger);
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
    if (waiting !== undefined && waiting.lookupId === lookupId) return laterOf(waiting, usedAtMs);
    const slot = this.#slotOf(keyId, lookupId, waiting);
    const inSecondSlot = slot === keyId ? undefined : this.#pending.get(slot);
    if (inSecondSlot !== undefined && inSecondSlot.lookupId === lookupId) return laterOf(inSecondSlot, usedAtMs);
    this.#pending.set(slot, { keyId, lookupId, usedAtMs });
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

  /**
   * Stops the interval and writes what is pending. A flush under way, or a call given up on
   * that still runs, is waited for, then one last attempt is made. Each call is bounded by the
   * write timeout and each flush ends at its second failed call, so on a store that fails,
   * closing takes at most five write timeouts, plus the time of the calls that succeed. Uses
   * that attempt cannot write (deferred ones included) are lost, and that is always logged,
   * with their count.
   */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    if (this.#unsettledWrite !== undefined) await raceWithin(this.#unsettledWrite, this.#writeTimeoutMs);
    // A flushUsage() call may have started another meanwhile: each is bounded (see above).
    while (this.#flushing !== undefined) await this.#flushing;
    // Only the last attempt loses what it cannot write: earlier failures were retried.
    this.#closing = true;
    await this.#flushOnce();
  }

  /**
   * Writes the pending uses in calls of {@link USAGE_BATCH_LIMIT}, one after another; puts back
   * the uses of calls that failed, of calls not made and those the store deferred.
   */
  async #writePending(): Promise<void> {
    if (this.#pending.size === 0) return;
    if (this.#unsettledWrite !== undefined) {
      // Its uses stay where they are, and are written once the store has answered.
      const error = new Error(`the last recordUsage, given up on after ${this.#writeTimeoutMs} ms, has not settled yet`);
      return this.#failed(this.#pending.size, error);
    }
    const uses = [...this.#pending.values()];
    this.#pending = new Map();
    const failed: NotedUse[][] = [];
    let unwritten = 0;
    let deferred = 0;
    let firstError: unknown;

    for (const batch of callsFor(uses, this.#suspects)) {
      // A call given up on still holds the store: it gets no other until that one settles.
      if (this.#unsettledWrite !== undefined || failed.length === FAILED_CALLS_ENDING_A_FLUSH) {
        for (const use of batch) this.#putBack(use);
        unwritten += batch.length;
        continue;
      }

      try {
        const left = await this.#recordWithin(batch);
        for (const use of batch) this.#suspects.delete(use.keyId);
        for (const use of left) this.#putBack(use);
        deferred += left.length;
      } catch (error) {
        // Only a call the store refused narrows down; one given up on at the timeout says
        // nothing about its uses (and may land yet).
        if (!(error instanceof WriteTimedOut)) for (const use of batch) this.#suspects.set(use.keyId, batch.length);
        failed.push(batch);
        unwritten += batch.length;
        firstError ??= error;
      }
    }
    for (const use of failed.flat()) this.#putBack(use);

    this.#lockedRows.note(this.#closing ? 0 : deferred);
    // Deferred uses are retried like failed ones, but only the last attempt loses them.
    const lost = this.#closing ? unwritten + deferred : unwritten;
    if (lost === 0) {
      this.#failedInARow = 0;
      return;
    }
    const error = firstError ?? new Error(`the store deferred ${deferred} uses, their rows held by another write`);
    this.#failed(lost, error);
  }

  /**
   * Puts back a use that was not written, for the next try: into an empty slot, or merged with
   * a use of the same lookup id noted since. Never over another lookup id's use, which was noted
   * later (the key regenerated meanwhile); with both slots so taken, the store would skip it.
   */
  #putBack(use: NotedUse): void {
    for (const slot of [use.keyId, `${use.keyId}\0`]) {
      const waiting = this.#pending.get(slot);
      if (waiting === undefined) return void this.#pending.set(slot, use);
      if (waiting.lookupId === use.lookupId) return laterOf(waiting, use.usedAtMs);
    }
  }

  /** Logs a failed flush: sampled while retries follow, always when closing loses the uses. */
  #failed(keys: number, error: unknown): void {
    if (this.#closing) {
      this.#logger.warn(
        { event: 'keyward.usage_flush_failed', keys, error: describeError(error) },
        'keyward could not record last_used_at before closing; these uses are lost',
      );
      return;
    }
    if (this.#failedInARow++ % this.#failuresPerLine !== 0) return;
    this.#logger.warn(
      { event: 'keyward.usage_flush_failed', keys, error: describeError(error) },
      'keyward could not record last_used_at; it will retry on the next flush',
    );
  }

  /**
   * The store's call for `batch`, or a rejection once the write timeout has passed. Resolves
   * to the uses of the batch the store deferred.
   */
  async #recordWithin(batch: readonly NotedUse[]): Promise<NotedUse[]> {
    const usage = batch.map(({ keyId, lookupId, usedAtMs }): KeyUsage => ({ id: keyId, lookup_id: lookupId, used_at: new Date(usedAtMs) }));
    const write = Promise.resolve().then(() => this.#store.recordUsage(usage));
    // The first reaction to the write, so the store is free again before anything awaits it.
    const forget = () => {
      if (this.#unsettledWrite === settled) this.#unsettledWrite = undefined;
    };
    const settled = write.then(forget, forget);
    this.#unsettledWrite = settled;
    const result = await raceWithin(write, this.#writeTimeoutMs);
    if (result === TIMED_OUT) {
      throw new WriteTimedOut(`recordUsage took longer than ${this.#writeTimeoutMs} ms`);
    }
    return deferredOf(batch, result);
  }
}

/** Keeps the later of two times of one use: a clock set back must not move it backwards. */
function laterOf(use: NotedUse, usedAtMs: number): void {
  if (usedAtMs > use.usedAtMs) use.usedAtMs = usedAtMs;
}
