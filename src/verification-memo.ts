import { LRUCache } from 'lru-cache';
import { ProcessHmacSha256 } from './hmac-sha256.js';

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
 *
 * Matches and mismatches live in two separate LRUs that split the bounds: a flood of
 * distinct forged keys can only evict other forgeries, never a verified key, so genuine
 * callers keep their memo hits during an attack.
 */
export class VerificationMemo {
  readonly #hmac = new ProcessHmacSha256();
  readonly #matches: LRUCache<string, true>;
  readonly #mismatches: LRUCache<string, false>;

  constructor(options: VerificationMemoOptions = {}) {
    const maxEntries = options.maxEntries ?? 10_000;
    const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    const half = (value: number) => Math.max(1, Math.floor(value / 2));
    const bounds = { max: half(maxEntries), maxSize: half(maxBytes), sizeCalculation: () => BYTES_PER_ENTRY };
    this.#matches = new LRUCache<string, true>(bounds);
    this.#mismatches = new LRUCache<string, false>(bounds);
  }

  /**
   * The memo key of a presented key checked against a stored hash. A pepper needs no part of
   * its own: its id is inside the stored hash (`keyid=`).
   */
  keyOf(presentedKey: string, storedHash: string): string {
    // Runs on every authentication, memo hit or not: one HMAC of the joined text.
    return this.#hmac.digest(`${presentedKey}\0${storedHash}`);
  }

  /** The remembered result, or undefined when this pair was never verified. */
  get(memoKey: string): boolean | undefined {
    return this.#matches.get(memoKey) ?? this.#mismatches.get(memoKey);
  }

  set(memoKey: string, matches: boolean): void {
    if (matches) this.#matches.set(memoKey, true);
    else this.#mismatches.set(memoKey, false);
  }

  /** Entries currently held. */
  get size(): number {
    return this.#matches.size + this.#mismatches.size;
  }
}
