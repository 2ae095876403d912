import type { LRUCache } from 'lru-cache';
import { ProcessHmacBlake2s } from './hmac-blake2s.js';
import { boundedLru, NO_LRU_CALL_OPTIONS } from './lru-options.js';
import { sameBoundFields, type BoundRowFields } from './row-binding.js';

/** Bounds of the verification memo. */
export interface VerificationMemoOptions {
  /** Most results kept. @default 10000 */
  maxEntries?: number | undefined;
  /** Most bytes of keys and bookkeeping kept. @default 5 MiB */
  maxBytes?: number | undefined;
}

// What an entry costs besides its row's strings: the LRU's links, the entry object and its
// memo key (measured: about 300 bytes, with a 43-character memo key; today's 16 code units
// take no more).
const ENTRY_OVERHEAD_BYTES = 300;
// V8 keeps a string of Latin-1 characters in a byte each, any other in two bytes each.
const WIDE_CHARACTER = /[^\u0000-\u00ff]/;

/**
 * The bytes an entry holds: its overhead and the strings it compares (the stored hash, about
 * 100 characters, and the row's ids). Weighed when an entry is set, never on a hit.
 */
function entryBytes(subject: MemoSubject): number {
  const text = subject.key_hash + subject.id + subject.lookup_id + subject.account_id + subject.environment;
  return ENTRY_OVERHEAD_BYTES + text.length * (WIDE_CHARACTER.test(text) ? 2 : 1);
}

/**
 * What a result was computed for: a row's stored hash and the fields a peppered hash is bound
 * to. A result holds for another row only if all of them are the same.
 */
export type MemoSubject = BoundRowFields & { key_hash: string };

/**
 * Remembers Argon2 results so that a key is hashed once, not once per request. Entries are
 * found by an HMAC of the presented key under a secret that lives only in this process, and
 * each holds the stored hash it was checked against and the row's ids: a result counts only
 * for a row whose hash is that very hash, so a rotated or rehashed row never meets an old
 * entry, and only for the row it was computed for, as a peppered hash is bound to its row. The
 * memo never holds a cleartext key. Failures are remembered too, so one wrong key sent again and
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
  readonly #hmac = new ProcessHmacBlake2s();
  readonly #matches: LRUCache<string, MemoSubject>;
  readonly #mismatches: LRUCache<string, MemoSubject>;

  constructor(options: VerificationMemoOptions = {}) {
    const maxEntries = options.maxEntries ?? 10_000;
    // 10,000 entries of a typical row (a 12-character account id) take about 4.6 MB.
    const maxBytes = options.maxBytes ?? 5 * 1024 * 1024;
    const half = (value: number) => Math.max(1, Math.floor(value / 2));
    // lru-cache keeps no entry heavier than its whole bound: such a key is verified each time.
    const bounds = { max: half(maxEntries), maxSize: half(maxBytes), sizeCalculation: entryBytes };
    this.#matches = boundedLru<MemoSubject>(bounds);
    this.#mismatches = boundedLru<MemoSubject>(bounds);
  }

  /**
   * The memo key of a presented key: its HMAC, as 16 code units. A pepper needs no part of its
   * own: its id is inside the stored hash (`keyid=`), which an entry must equal.
   */
  keyOf(presentedKey: string): string {
    // Runs on every authentication, memo hit or not.
    return this.#hmac.digest(presentedKey);
  }

  /** The remembered result of this key against this row and its stored hash, or undefined. */
  get(memoKey: string, row: MemoSubject): boolean | undefined {
    if (holdsFor(this.#matches.get(memoKey, NO_LRU_CALL_OPTIONS), row)) return true;
    if (holdsFor(this.#mismatches.get(memoKey, NO_LRU_CALL_OPTIONS), row)) return false;
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
   * The row and stored hash this key last matched here, or undefined; counts as a use of the
   * entry. Read before the row: a row that is still that row with that hash needs no second
   * lookup (see {@link holdsFor}).
   */
  matched(memoKey: string): MemoSubject | undefined {
    return this.#matches.get(memoKey, NO_LRU_CALL_OPTIONS);
  }

  /** Remembers one result for this row; a key keeps only its latest result. */
  set(memoKey: string, row: MemoSubject, matches: boolean): void {
    const [keep, drop] = matches ? [this.#matches, this.#mismatches] : [this.#mismatches, this.#matches];
    drop.delete(memoKey);
    // The fields only, not the row: an entry keeps no more of it alive than it compares.
    const { id, lookup_id, account_id, environment, key_hash } = row;
    keep.set(memoKey, { id, lookup_id, account_id, environment, key_hash }, NO_LRU_CALL_OPTIONS);
  }

  /** Entries currently held. */
  get size(): number {
    return this.#matches.size + this.#mismatches.size;
  }
}

/**
 * Whether a remembered result holds for this row: the same stored hash, on the same row.
 *
 * @param remembered - an entry from {@link VerificationMemo.matched}, or undefined.
 * @param row - the row as read now.
 */
export function holdsFor(remembered: MemoSubject | undefined, row: MemoSubject): boolean {
  return remembered !== undefined && remembered.key_hash === row.key_hash && sameBoundFields(remembered, row);
}
