import { Argon2PoolBusyError } from './argon2-pool.js';
import { bytesEqual } from './compare.js';
import { computeArgon2id } from './hash.js';
import type { PepperRing } from './pepper.js';
import { parseStoredHash, type ParsedArgon2Hash, type StoredHashFault } from './phc.js';
import { rowPepper, type BoundRowFields } from './row-binding.js';
import { holdsFor, type MemoSubject, type VerificationMemo } from './verification-memo.js';

/** The row a secret is checked against: its bound fields and its stored hash, as read. */
export type CheckedRow = BoundRowFields & { key_hash: unknown };

/**
 * Runs one Argon2id computation; in-thread by default, the worker pool (`Argon2Pool.run`) in
 * production setups. A runner that cannot take the work now rejects with
 * `Argon2PoolBusyError`.
 */
export type Argon2Runner = (
  secret: string,
  target: Pick<ParsedArgon2Hash, 'params' | 'salt'> & { hashLength: number },
  pepper?: Uint8Array,
) => Promise<Uint8Array>;

/**
 * Result of checking a presented secret against a row's stored hash. `overloaded` means the
 * secret was not checked at all because the Argon2 pool is full.
 */
export type SecretCheck =
  | { ok: true; matches: boolean }
  | { ok: false; fault: StoredHashFault | 'overloaded' };

/**
 * Checks secrets against stored hashes: memo first, then Argon2 (one computation shared by
 * identical checks in flight at the same time), then the constant-time comparison.
 */
export class SecretVerifier {
  readonly #memo: VerificationMemo | undefined;
  readonly #run: Argon2Runner;
  readonly #inFlight = new Map<string, Promise<boolean>>();
  readonly #peppers: PepperRing | undefined;
  readonly #busy: () => boolean;

  /**
   * @param memo - remembered results, or undefined to compute every time.
   * @param run - the Argon2 computation.
   * @param peppers - the app's peppers; a hash naming another pepper id is a stored-hash fault.
   * @param busy - whether `run` would refuse a new computation now (a full pool, or closed).
   */
  constructor(
    memo: VerificationMemo | undefined,
    run: Argon2Runner = computeArgon2id,
    peppers?: PepperRing,
    busy: () => boolean = () => false,
  ) {
    this.#memo = memo;
    this.#run = run;
    this.#peppers = peppers;
    this.#busy = busy;
  }

  /**
   * The memo key of a presented key, or undefined when there is no memo. Computed once per
   * request and handed to {@link matched}, {@link recall}, {@link hasMatched} and
   * {@link check}.
   *
   * @param presentedKey - the whole presented key.
   */
  memoKeyOf(presentedKey: string): string | undefined {
    return this.#memo?.keyOf(presentedKey);
  }

  /**
   * Whether the presented key has matched some stored hash here: the row is worth reading
   * even for a client over its attempt limit.
   *
   * @param memoKey - from {@link memoKeyOf}.
   */
  hasMatched(memoKey: string | undefined): boolean {
    return memoKey !== undefined && this.#memo!.hasMatched(memoKey);
  }

  /**
   * The row and stored hash the presented key last matched here, or undefined (always without
   * a memo). Counts as a use of the memo's entry.
   *
   * @param memoKey - from {@link memoKeyOf}.
   */
  matched(memoKey: string | undefined): MemoSubject | undefined {
    return memoKey === undefined ? undefined : this.#memo!.matched(memoKey);
  }

  /**
   * The memo's answer for this key against this row and its stored hash, which costs no
   * Argon2 run, or undefined when the check would have to compute. The attempt throttle lets
   * such answers through during an attack.
   *
   * @param memoKey - from {@link memoKeyOf}.
   * @param row - the row as read, with its PHC string.
   * @param matched - what {@link matched} gave earlier in the request, if asked: a match
   *   remembered then is still true (a key always verifies the same against one row's hash),
   *   so the same row and hash need no second lookup.
   */
  recall(memoKey: string | undefined, row: CheckedRow, matched?: MemoSubject): SecretCheck | undefined {
    if (memoKey === undefined || typeof row.key_hash !== 'string') return undefined;
    const subject = row as MemoSubject;
    if (holdsFor(matched, subject)) return NO_RUN_MATCH;
    const remembered = this.#memo!.get(memoKey, subject);
    if (remembered === undefined) return undefined;
    return remembered ? NO_RUN_MATCH : NO_RUN_MISMATCH;
  }

  /**
   * Checks the secret. The answer comes as it is when no computation has to be waited for (the
   * memo knows it, the stored hash is at fault, or the pool is full and no identical check is
   * running to join), and as a promise otherwise: under a flood of forgeries that fills the
   * pool, each 503 then costs no promise chain.
   *
   * @param presentedKey - the whole presented key (memo input only, never stored).
   * @param secret - its secret part.
   * @param row - the row as read, with its PHC string: a peppered hash is bound to its row.
   * @param memoKey - from {@link memoKeyOf}, when the caller already has it.
   */
  check(
    presentedKey: string,
    secret: string,
    row: CheckedRow,
    memoKey = this.memoKeyOf(presentedKey),
  ): SecretCheck | Promise<SecretCheck> {
    const remembered = this.recall(memoKey, row);
    if (remembered !== undefined) return remembered;

    const storedHash = row.key_hash;
    const parsed = parseStoredHash(storedHash);
    if (!parsed.ok) return { ok: false, fault: parsed.fault };
    const { pepperId } = parsed.value;
    if (pepperId !== undefined && !this.#peppers?.secretFor(pepperId)) return { ok: false, fault: 'unknown_pepper' };
    if (pepperId === undefined && this.#peppers?.refuseUnpeppered) return { ok: false, fault: 'unpeppered' };
    if (secret.length === 0) return { ok: true, matches: false };

    // The same key against the same row and hash (during a rehash, one key may be checked
    // against the old and the new hash at once, and those are two computations) shares one
    // computation. Without a memo, running computations are found by the presented key itself,
    // held only while it runs, as the request holding it does.
    const subject: MemoSubject = { id: row.id, lookup_id: row.lookup_id, account_id: row.account_id, environment: row.environment, key_hash: storedHash as string };
    const id = JSON.stringify([memoKey ?? presentedKey, subject.key_hash, subject.id, subject.lookup_id, subject.account_id, subject.environment]);
    const running = this.#inFlight.get(id);
    // A check that joins a computation already running costs no Argon2 run of its own.
    if (running) return settle(running, true);
    if (this.#busy()) return OVERLOADED;
    return settle(this.#started(id, memoKey, subject, secret, parsed.value), false);
  }

  /** Starts the computation of `id` and shares it until it ends. */
  #started(
    id: string,
    memoKey: string | undefined,
    subject: MemoSubject,
    secret: string,
    parsed: ParsedArgon2Hash,
  ): Promise<boolean> {
    const computation = this.#compute(secret, parsed, subject)
      .then((matches) => {
        if (memoKey !== undefined) this.#memo!.set(memoKey, subject, matches);
        return matches;
      })
      .finally(() => this.#inFlight.delete(id));
    this.#inFlight.set(id, computation);
    return computation;
  }

  async #compute(secret: string, parsed: ParsedArgon2Hash, row: BoundRowFields): Promise<boolean> {
    const pepper = parsed.pepperId === undefined ? undefined : this.#peppers?.secretFor(parsed.pepperId);
    const computed = await this.#run(secret, { ...parsed, hashLength: parsed.hash.length }, pepper && rowPepper(pepper, row));
    return bytesEqual(computed, parsed.hash);
  }
}

/** A computation's answer as a check; a full pool is an expected answer, anything else a fault. */
async function settle(computation: Promise<boolean>, joined: boolean): Promise<SecretCheck> {
  try {
    const matches = await computation;
    if (joined) return matches ? NO_RUN_MATCH : NO_RUN_MISMATCH;
    return { ok: true, matches };
  } catch (error) {
    // The pool may still refuse what it looked ready for (it began closing meanwhile).
    if (error instanceof Argon2PoolBusyError) return OVERLOADED;
    throw error;
  }
}

// Answers that cost no Argon2 run of their own (from the memo, or from a computation another
// request had started) carry a tag, so the attempt throttle counts a failure once per run.
const NO_RUN_MATCH = Object.freeze({ ok: true, matches: true, noRun: true } as const);
const NO_RUN_MISMATCH = Object.freeze({ ok: true, matches: false, noRun: true } as const);
const OVERLOADED: SecretCheck = Object.freeze({ ok: false, fault: 'overloaded' } as const);

/**
 * Whether a check cost no Argon2 run of its own: answered from the memo, or by a computation
 * of the same key and hash that another request had already started.
 *
 * @param check - a result of {@link SecretVerifier.check}.
 * @returns true for such answers.
 * @example
 * ```ts
 * if (!check.matches && !costNoArgon2Run(check)) throttle.recordFailure(lookupId, client);
 * ```
 */
export function costNoArgon2Run(check: SecretCheck): boolean {
  return check === NO_RUN_MATCH || check === NO_RUN_MISMATCH;
}
