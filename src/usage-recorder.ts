import type { CompleteLogger } from './logger.js';
import type { KeyStore, KeyUsage } from './store.js';

/**
 * Writes `last_used_at` behind the request path. Uses are coalesced per key (the latest time
 * wins) and flushed in one batch per interval, so the store sees at most one write per key per
 * interval however many requests arrive. A failed flush keeps its uses for the next one and
 * never touches a request.
 */
export class UsageRecorder {
  readonly #store: KeyStore;
  readonly #logger: CompleteLogger;
  readonly #timer: NodeJS.Timeout;
  #pending = new Map<string, Date>();
  #flushing: Promise<void> | undefined;

  constructor(store: KeyStore, intervalMs: number, logger: CompleteLogger) {
    this.#store = store;
    this.#logger = logger;
    this.#timer = setInterval(() => void this.flush(), intervalMs);
    // A pending write is no reason to keep the process alive; close() flushes it.
    this.#timer.unref();
  }

  /** Notes a successful use; costs a map write. */
  record(keyId: string, usedAt: Date): void {
    this.#pending.set(keyId, usedAt);
  }

  /** Writes every pending use now. Resolves when done; never rejects. */
  flush(): Promise<void> {
    this.#flushing ??= this.#writePending().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Stops the interval and writes what is pending. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flushing;
    await this.flush();
  }

  async #writePending(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    const usage: KeyUsage[] = [...batch].map(([id, used_at]) => ({ id, used_at }));

    try {
      await this.#store.recordUsage(usage);
    } catch (error) {
      // Put the batch back under anything recorded meanwhile (later times win) for the next try.
      for (const [id, usedAt] of batch) {
        const newer = this.#pending.get(id);
        if (!newer || newer < usedAt) this.#pending.set(id, usedAt);
      }
      this.#logger.warn(
        { event: 'keyward.usage_flush_failed', keys: usage.length, error: describeError(error) },
        'keyward could not record last_used_at; it will retry on the next flush',
      );
    }
  }
}

/** A store error's name, code and message, for operators. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}`;
}
