import { performance } from 'node:perf_hooks';

/** What {@link SharedDeadline.race} gives for work that did not settle in time. */
export const TIMED_OUT = Symbol('timed out');

interface Waiting {
  readonly deadline: number;
  settled: boolean;
  resolve: (value: typeof TIMED_OUT) => void;
}

/**
 * Bounds how long promises may take, all with the same timeout, through one timer shared by
 * every promise in flight rather than a timer per promise: the store lookup runs on every
 * request, and creating, inserting and clearing a timer each time was a measurable part of
 * what keyward costs per request. Since every wait has the same length, deadlines arrive in
 * the order the waits started, so a queue ordered by start time is also ordered by deadline
 * and the timer only ever needs to wake for the oldest wait.
 *
 * The timer holds the process open only while some wait is unsettled (as a timer per wait
 * would); once all have settled it is unref'd and, when it fires, not re-armed.
 */
export class SharedDeadline {
  readonly #timeoutMs: number;
  #queue: Waiting[] = [];
  #head = 0;
  #unsettled = 0;
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param timeoutMs - how long each promise may take, in milliseconds.
   * @example
   * ```ts
   * const deadline = new SharedDeadline(2_000);
   * const row = await deadline.race(store.findByLookupId(lookupId)); // row or TIMED_OUT
   * ```
   */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Waits for `work`, but no longer than the timeout.
   *
   * @param work - the promise (or value) to wait for. A rejection after the timeout is
   *   swallowed, so it never surfaces as an unhandled rejection.
   * @returns what `work` resolves to, or {@link TIMED_OUT} once the timeout has passed.
   * @throws what `work` rejects with, if it rejects in time.
   * @example
   * ```ts
   * if ((await deadline.race(lookup)) === TIMED_OUT) return unavailable();
   * ```
   */
  race<T>(work: T | PromiseLike<T>): Promise<T | typeof TIMED_OUT> {
    return new Promise<T | typeof TIMED_OUT>((resolve, reject) => {
      const waiting: Waiting = { deadline: performance.now() + this.#timeoutMs, settled: false, resolve };
      this.#queue.push(waiting);
      this.#unsettled++;
      this.#arm();
      Promise.resolve(work).then(
        (value) => {
          if (this.#settle(waiting)) resolve(value);
        },
        (error: unknown) => {
          if (this.#settle(waiting)) reject(error);
        },
      );
    });
  }

  #arm(): void {
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#expire(), this.#timeoutMs);
    } else if (this.#unsettled === 1) {
      this.#timer.ref();
    }
  }

  /** Marks a wait settled; false when it already was (it timed out before `work` settled). */
  #settle(waiting: Waiting): boolean {
    if (waiting.settled) return false;
    waiting.settled = true;
    this.#unsettled--;
    if (this.#unsettled === 0) this.#timer?.unref();
    // Most waits settle in the order they started: drop settled ones from the front at once,
    // so the queue stays about as long as the number of waits in flight.
    this.#dropSettledHead();
    return true;
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    const expired: Waiting[] = [];
    for (let i = this.#head; i < this.#queue.length && this.#queue[i]!.deadline <= now; i++) {
      expired.push(this.#queue[i]!);
    }
    for (const waiting of expired) {
      if (this.#settle(waiting)) waiting.resolve(TIMED_OUT);
    }
    const oldest = this.#queue[this.#head];
    if (oldest !== undefined) {
      this.#timer = setTimeout(() => this.#expire(), Math.max(1, Math.ceil(oldest.deadline - now)));
      if (this.#unsettled === 0) this.#timer.unref();
    }
  }

  #dropSettledHead(): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.settled) this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}

/**
 * Waits for `work`, but no longer than `timeoutMs`, with a timer of its own: for waits off the
 * per-request path, or whose length differs from the shared one (a request's second store
 * read, which gets only what its first left of the timeout; a usage write).
 *
 * @param work - the promise (or value) to wait for; a rejection after the timeout is swallowed.
 * @param timeoutMs - how long it may take, in milliseconds; 0 or less times out at once.
 * @returns what `work` resolves to, or {@link TIMED_OUT} once the time has passed.
 * @throws what `work` rejects with, if it rejects in time.
 */
export async function raceWithin<T>(work: T | PromiseLike<T>, timeoutMs: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(resolve, Math.max(0, timeoutMs), TIMED_OUT)));
  const settled = Promise.resolve(work);
  settled.catch(() => {});
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
