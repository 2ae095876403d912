import { Argon2PoolBusyError, defaultArgon2MaxQueue } from './argon2-pool.js';
import { computeArgon2id } from './hash.js';

/**
 * Argon2 on the event loop (the authenticator's `argon2Pool: false`, the key manager's
 * hashes): one computation at a time, at most `maxQueue` more waiting, and the rest refused
 * as a full pool refuses them (503). Each hash-wasm computation takes its whole memory cost
 * (19 MiB by default) as it starts; started all at once, a flood of first-seen keys would
 * hold that many times over, gigabytes for a few hundred.
 */
export class InThreadArgon2 {
  readonly #maxQueue: number;
  /** Computations waiting for their turn, in order: each one's way to go on, or to give up. */
  readonly #waiting: { go(): void; refuse(error: Error): void }[] = [];
  #running = false;
  #closed = false;

  /** @param maxQueue - computations that may wait; the pool's default for one thread. */
  constructor(maxQueue = defaultArgon2MaxQueue(1)) {
    this.#maxQueue = maxQueue;
  }

  /** Whether a new computation would be refused now: the queue is full, or closed. */
  get busy(): boolean {
    return this.#closed || this.#waiting.length >= this.#maxQueue;
  }

  /** Computations running or waiting now. */
  get pending(): number {
    return this.#waiting.length + (this.#running ? 1 : 0);
  }

  /**
   * Computes as {@link computeArgon2id} does, once the computations before it have ended.
   *
   * @throws {Argon2PoolBusyError} (as a rejection) when the queue is full or after close().
   */
  readonly run: typeof computeArgon2id = async (...args) => {
    if (this.#closed) throw new Argon2PoolBusyError('closed');
    if (this.#running) {
      if (this.#waiting.length >= this.#maxQueue) throw new Argon2PoolBusyError('full');
      await new Promise<void>((go, refuse) => this.#waiting.push({ go, refuse }));
    }
    this.#running = true;
    try {
      return await computeArgon2id(...args);
    } finally {
      // Hands the turn straight to the next one, which never sees #running false.
      const next = this.#waiting.shift();
      if (next) next.go();
      else this.#running = false;
    }
  };

  /** Refuses new computations and drops those waiting (503), as the pool's close() does; the running one finishes. */
  close(): void {
    this.#closed = true;
    for (const waiting of this.#waiting.splice(0)) waiting.refuse(new Argon2PoolBusyError('closed'));
  }
}
