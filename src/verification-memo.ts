import type { LRUCache } from 'lru-cache';
import { ProcessHmacSha256 } from './hmac-sha256.js';
import { boundedLru, NO_LRU_CALL_OPTIONS } from './lru-options.js';

/** Bounds of the verification memo. */
export interface VerificationMemoOptions {
  /** Most results kept. @default 10000 */
  maxEntries?: number | undefined;
  /** Most bytes of keys and bookkeeping kept. @default 4 MiB */
  maxBytes?: number | undefined;
}

// An entry holds a 43-character memo key, the stored hash it was checked against (about 100
// characters) and the LRU's links: a few hundred bytes. Counting a flat 384 keeps the byte
// bound honest and cheap.
const BYTES_PER_ENTRY = 384;

interface Remembered {
  /** The stored hash the key was checked against. */
  storedHash: string;
}

/**
 * Remembers Argon2 results so that a key is hashed once, not once per request. Entries are
 * found by an HMAC of the presented key under a secret that lives only in this process, and
 * each holds the stored hash it was checked against: a result counts only for a row whose
 * hash is that very hash, so a rotated or rehashed row never meets an old entry, and the memo
 * never holds a cleartext key. Failures are remembered too, so one wrong key sent again and
 * again costs one Argon2 run.
 *
 * Keyed by the presented key alone, the memo can tell before the store is asked whether a key
 * has verified here: the attempt throttle answers a client over its limit without a store
 * query, except for keys this instance has verified.
 *
 * Matches and mismatches live in two separate LRUs that split the bounds: a flood of
 * distinct forged keys can only evict other forgeries, never a verified key, so genuine
 * callers keep their memo hits during an attack.
 */
export class VerificationMemo {
  readonly #hmac = new ProcessHmacSha256();
  readonly #matches: LRUCache<string, Remembered>;
  readonly #mismatches: LRUCache<string, Remembered>;

  constructor(options: VerificationMemoOptions = {}) {
    const maxEntries = options.maxEntries ?? 10_000;
    const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
    const half = (value: number) => Math.max(1, Math.floor(value / 2));
    const bounds = { max: half(maxEntries), maxSize: half(maxBytes), sizeCalculation: () => BYTES_PER_ENTRY };
    this.#matches = boundedLru<Remembered>(bounds);
    this.#mismatches = boundedLru<Remembered>(bounds);
  }

  /**
   * The memo key of a presented key: its HMAC, in base64url. A pepper needs no part of its
   * own: its id is inside the stored hash (`keyid=`), which an entry must equal.
   */
  keyOf(presentedKey: string): string {
    // Runs on every authentication, memo hit or not.
    return this.#hmac.digest(presentedKey);
  }

  /** The remembered result of this key against this stored hash, or undefined. */
  get(memoKey: string, storedHash: string): boolean | undefined {
    if (this.#matches.get(memoKey, NO_LRU_CALL_OPTIONS)?.storedHash === storedHash) return true;
    if (this.#mismatches.get(memoKey, NO_LRU_CALL_OPTIONS)?.storedHash === storedHash) return false;
    return undefined;
  }

  /**
   * Whether this key matched a stored hash here, before any row is read. Only says that the
   * row is worth reading: the result counts only if the row still has that hash.
   */
  hasMatched(memoKey: string): boolean {
    return this.#matches.has(memoKey, NO_LRU_CALL_OPTIONS);
  }

  /**
   * The stored hash this key last matched here, or undefined; counts as a use of the entry.
   * Read before the row: a row that still has this hash needs no second lookup.
   */
  matchedHash(memoKey: string): string | undefined {
    return this.#matches.get(memoKey, NO_LRU_CALL_OPTIONS)?.storedHash;
  }

  /** Remembers one result; a key keeps only its latest result. */
  set(memoKey: string, storedHash: string, matches: boolean): void {
    const [keep, drop] = matches ? [this.#matches, this.#mismatches] : [this.#mismatches, this.#matches];
    drop.delete(memoKey);
    keep.set(memoKey, { storedHash }, NO_LRU_CALL_OPTIONS);
  }

  /** Entries currently held. */
  get size(): number {
    return this.#matches.size + this.#mismatches.size;
  }
}
