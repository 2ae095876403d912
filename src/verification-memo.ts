import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** Bounds of the verification memo. */
export interface VerificationMemoOptions {
  /** Most results kept. @default 10000 */
  maxEntries?: number;
  /** Most bytes of keys and bookkeeping kept. @default 4 MiB */
  maxBytes?: number;
}

// A memo key is 43 base64url characters; with the map and LRU links an entry costs a few
// hundred bytes at most. Counting a flat 256 keeps the byte bound honest and cheap.
const BYTES_PER_ENTRY = 256;

/**
 * Remembers Argon2 results so that a key is hashed once, not once per request. An entry is
 * keyed by an HMAC, under a secret that lives only in this process, of the presented key
 * together with the stored hash it was checked against: the memo never holds a cleartext key,
 * and a rotated or rehashed row can never meet an old entry. Failures are remembered too,
 * so one wrong key sent again and again costs one Argon2 run.
 */
export class VerificationMemo {
  readonly #secret = randomBytes(32);
  readonly #results: LRUCache<string, boolean>;

  constructor(options: VerificationMemoOptions = {}) {
    this.#results = new LRUCache<string, boolean>({
      max: options.maxEntries ?? 10_000,
      maxSize: options.maxBytes ?? 4 * 1024 * 1024,
      sizeCalculation: () => BYTES_PER_ENTRY,
    });
  }

  /** The memo key of a presented key checked against a stored hash. */
  keyOf(presentedKey: string, storedHash: string, pepperId = ''): string {
    // One update of the joined text gives the same MAC as one update per part, at less cost
    // per request (this runs on every authentication, memo hit or not).
    return createHmac('sha256', this.#secret)
      .update(`${presentedKey}\0${storedHash}\0${pepperId}`)
      .digest('base64url');
  }

  /** The remembered result, or undefined when this pair was never verified. */
  get(memoKey: string): boolean | undefined {
    return this.#results.get(memoKey);
  }

  set(memoKey: string, matches: boolean): void {
    this.#results.set(memoKey, matches);
  }

  /** Entries currently held. */
  get size(): number {
    return this.#results.size;
  }
}
