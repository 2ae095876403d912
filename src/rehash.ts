import { computeArgon2id, hashSecret } from './hash.js';
import { ownOptions } from './options.js';
import type { CompleteLogger } from './logger.js';
import type { PepperRing } from './pepper.js';
import { fallsShortOfPolicy, rehashParams } from './hash-policy.js';
import { parseStoredHash, type Argon2Params } from './phc.js';
import { rowPepper } from './row-binding.js';
import type { KeyStore } from './store.js';
import { holdsFor, type MemoSubject } from './verification-memo.js';
import { describeError } from './describe-error.js';
import { heldBackLine, LogSampler } from './log-sampler.js';
import { SharedDeadline, TIMED_OUT } from './shared-deadline.js';

// After a failed rehash, a key is left alone for a minute, then 2, 4, ... up to an hour.
const BACKOFF_FIRST_MS = 60_000;
const BACKOFF_MAX_MS = 3_600_000;
// Keys backing off at once. Once that many are, no other key is rehashed until one's backoff
// runs out or it succeeds: forgetting one still backing off instead would let it retry at once
// and push the next out, so past the bound every key would cost a run per use again.
const BACKOFF_MAX_KEYS = 10_000;
// At the bound, how often the keys whose backoff ran out are looked for: a pass over every
// entry, so at most once a second rather than once per success while the bound holds.
const SWEEP_INTERVAL_MS = 1_000;

/** How a {@link Rehasher} runs, beyond its store, policy and logger. */
export interface RehasherOptions {
  /** The Argon2 computation; the worker pool in production setups. */
  run?: typeof computeArgon2id;
  /**
   * Whether the Argon2 computation is free now (no verification running or waiting). A rehash
   * starts only then, so it never takes a queue place from a key's first check.
   */
  idle?: () => boolean;
  /** Longest a rehash's `store.modify` may take before it counts as failed. @default 2000 */
  writeTimeoutMs?: number;
  /** A monotonic clock in milliseconds, for the backoff. */
  now?: () => number;
  /** Samples the failure lines; the authenticator shares its own. */
  failureLog?: LogSampler;
  /**
   * Told of each hash written, with the token `schedule` was given for that key and the row
   * with its new hash: the hash is known to match the secret it was computed from, so the
   * authenticator's memo can take it and the key's next request needs no Argon2 run at the
   * new, dearer parameters.
   */
  rehashed?: (token: string, upgraded: MemoSubject) => void;
}

/** What new hashes are written with: the target a stored hash is upgraded to. */
export interface HashPolicy {
  params: Readonly<Argon2Params>;
  pepper: PepperRing | undefined;
}

/**
 * Upgrades stored hashes after successful verifications, off the request path: one Argon2
 * run and one compare-and-set `store.modify` per key, skipped when the row changed meanwhile
 * (a regenerate or another instance's rehash won). One runs at a time, and only while the
 * Argon2 computation is idle. A failure (the write rejected or too slow, or no pool thread
 * free) never touches a request: it is logged, at most once a second (then a count of the
 * lines held back), and the key is tried again when its secret is next verified, after a backoff, doubling from a
 * minute up to an hour. Without it, a store that rejects every write (a read-only role) would
 * cost an Argon2 run per success of every key on old parameters, and starve first-seen
 * verifications of pool threads. While {@link BACKOFF_MAX_KEYS} keys are backing off, no
 * other key is rehashed, and `keyward.rehash_paused` says so.
 */
export class Rehasher {
  readonly #store: KeyStore;
  readonly #policy: HashPolicy;
  readonly #logger: CompleteLogger;
  readonly #run: typeof computeArgon2id;
  readonly #idle: () => boolean;
  readonly #writeDeadline: SharedDeadline;
  readonly #now: () => number;
  // The rehash under way: at most one at a time.
  #underWay: Promise<void> | undefined;
  // Keys whose last rehash failed: the ones backing off, and some whose backoff ran out since
  // the last sweep. Never more than BACKOFF_MAX_KEYS, as a key is added only below it.
  readonly #backoff = new Map<string, { failures: number; retryAt: number }>();
  // Failure counts of keys swept out of #backoff, so a key that fails again after its backoff
  // ran out still waits twice as long as the last time. Dropping them with the sweep would be
  // simpler, but once 10,000 keys fail, sweeps would keep resetting their backoff to a minute:
  // up to 10,000 Argon2 runs a minute instead of about 10,000 an hour. They do not count
  // toward the bound (such a key may be tried again anyway), and past BACKOFF_MAX_KEYS the
  // oldest is forgotten, its key starting over at a minute, so memory stays bounded.
  readonly #history = new Map<string, number>();
  #sweptAt = -Infinity;
  // Whether the last key offered found the bound reached, so the pause is logged once.
  #paused = false;
  readonly #failureLog: LogSampler;
  readonly #rehashed: RehasherOptions['rehashed'];

  /**
   * @param store - where the row lives.
   * @param policy - parameters and pepper to rehash to.
   * @param logger - where outcomes go (key ids only).
   * @param given - the Argon2 computation, when it is idle, the write timeout, a clock, a log
   *   sampler and the `rehashed` callback; see {@link RehasherOptions}.
   */
  constructor(store: KeyStore, policy: HashPolicy, logger: CompleteLogger, given: RehasherOptions = {}) {
    // Fields left out read as undefined, not as what a polluted Object.prototype holds.
    const options = ownOptions(given, ['run', 'idle', 'writeTimeoutMs', 'now', 'failureLog', 'rehashed']);
    this.#store = store;
    this.#policy = policy;
    this.#logger = logger;
    this.#run = options.run ?? computeArgon2id;
    this.#idle = options.idle ?? (() => true);
    this.#writeDeadline = new SharedDeadline(options.writeTimeoutMs ?? 2_000);
    this.#now = options.now ?? (() => performance.now());
    this.#failureLog = options.failureLog ?? new LogSampler(1_000, heldBackLine(logger.warn));
    this.#rehashed = options.rehashed;
  }

  /**
   * Rewrites a row's hash in the background when it falls short of the policy.
   *
   * @param row - the row the secret was just verified against, with that hash.
   * @param secret - the verified secret part; held only until the new hash is computed.
   * @param token - handed back with the new hash to the `rehashed` option (the memo key).
   */
  schedule(row: MemoSubject, secret: string, token?: string): void {
    const keyId = row.id;
    // One at a time, and never while a verification runs or waits: a rehash only improves a
    // stored hash, and the next success will offer it again.
    if (this.#underWay !== undefined || !this.#idle()) return;
    const backoff = this.#backoff.get(keyId);
    if (backoff !== undefined && this.#now() < backoff.retryAt) return;
    const parsed = parseStoredHash(row.key_hash);
    if (!parsed.ok || !fallsShortOfPolicy(parsed.value, this.#policy.params, this.#policy.pepper?.currentId)) return;
    // A key already in #backoff keeps its place; any other would take a new one.
    if (backoff === undefined && !this.#hasRoom()) return;

    const params = rehashParams(parsed.value.params, this.#policy.params);
    this.#underWay = this.#rehash(row, secret, params, token).finally(() => (this.#underWay = undefined));
  }

  /** Resolves once the rehash under way, if any, has finished. Never rejects. */
  async settle(): Promise<void> {
    await this.#underWay;
  }

  async #rehash(row: MemoSubject, secret: string, params: Readonly<Argon2Params>, token: string | undefined): Promise<void> {
    const keyId = row.id;
    try {
      const { pepper } = this.#policy;
      const peppered = pepper ? { id: pepper.currentId, secret: rowPepper(pepper.current, row) } : undefined;
      const upgraded = await hashSecret(secret, params, peppered, this.#run);
      // Only onto the row verified: the same hash, and a peppered hash bound to the same ids.
      const written = await this.#writeDeadline.race(
        this.#store.modify(keyId, (current) => (holdsFor(row, current) ? { key_hash: upgraded } : null)),
      );
      // A stuck store must not hold close() or keep the key marked as under way.
      if (written === TIMED_OUT) throw new Error('store.modify did not finish within the store timeout');
      this.#backoff.delete(keyId);
      this.#history.delete(keyId);
      if (!written) return;
      if (token !== undefined) this.#rehashed?.(token, { ...row, key_hash: upgraded });
      this.#logger.info({ event: 'keyward.rehashed', keyId }, `keyward: rehashed key ${keyId}`);
    } catch (error) {
      const retryInSeconds = this.#recordFailure(keyId) / 1_000;
      if (!this.#failureLog.admit('rehash_failed')) return;
      this.#logger.warn(
        { event: 'keyward.rehash_failed', keyId, error: describeError(error), retryInSeconds },
        `keyward: could not rehash key ${keyId}; it will be tried again when its secret is next verified, in ${retryInSeconds} s or later`,
      );
    }
  }

  /**
   * Whether fewer than {@link BACKOFF_MAX_KEYS} keys are backing off, so one more key may be
   * rehashed. Logs `keyward.rehash_paused` when a key first finds the bound reached (through
   * the failure log, so at most once a second).
   */
  #hasRoom(): boolean {
    if (this.#backoff.size >= BACKOFF_MAX_KEYS) this.#sweep();
    const room = this.#backoff.size < BACKOFF_MAX_KEYS;
    if (!room && !this.#paused && this.#failureLog.admit('rehash_paused')) {
      this.#logger.warn(
        { event: 'keyward.rehash_paused', backingOff: this.#backoff.size },
        `keyward: rehashing is paused: ${this.#backoff.size} keys are backing off after a failed rehash; no other key is rehashed until one of them is done backing off`,
      );
    }
    this.#paused = !room;
    return room;
  }

  /**
   * Moves the keys whose backoff ran out from #backoff to #history, at most once per
   * {@link SWEEP_INTERVAL_MS}, and forgets the oldest histories past the bound.
   */
  #sweep(): void {
    const now = this.#now();
    if (now - this.#sweptAt < SWEEP_INTERVAL_MS) return;
    this.#sweptAt = now;
    for (const [keyId, { failures, retryAt }] of this.#backoff) {
      if (now < retryAt) continue;
      this.#backoff.delete(keyId);
      this.#history.set(keyId, failures);
    }
    for (const keyId of this.#history.keys()) {
      if (this.#history.size <= BACKOFF_MAX_KEYS) break;
      this.#history.delete(keyId);
    }
  }

  /** Records one more failure of the key's rehash; returns how long the key is left alone. */
  #recordFailure(keyId: string): number {
    const failures = (this.#backoff.get(keyId)?.failures ?? this.#history.get(keyId) ?? 0) + 1;
    const delay = Math.min(BACKOFF_FIRST_MS * 2 ** (failures - 1), BACKOFF_MAX_MS);
    this.#history.delete(keyId);
    this.#backoff.set(keyId, { failures, retryAt: this.#now() + delay });
    return delay;
  }
}
