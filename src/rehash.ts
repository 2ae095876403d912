import { computeArgon2id, hashSecret } from './hash.js';
import type { CompleteLogger } from './logger.js';
import type { PepperRing } from './pepper.js';
import { HASH_BYTES, SALT_BYTES, parseStoredHash, type Argon2Params, type ParsedArgon2Hash } from './phc.js';
import type { KeyStore } from './store.js';
import { describeError } from './describe-error.js';
import { heldBackLine, LogSampler } from './log-sampler.js';

// After a failed rehash, a key is left alone for a minute, then 2, 4, ... up to an hour.
const BACKOFF_FIRST_MS = 60_000;
const BACKOFF_MAX_MS = 3_600_000;
// Keys whose backoff is remembered; past that the oldest failure is forgotten (and that key
// may cost one early retry), so a store that rejects every write costs bounded memory.
const BACKOFF_MAX_KEYS = 10_000;

/** What new hashes are written with: the target a stored hash is upgraded to. */
export interface HashPolicy {
  params: Readonly<Argon2Params>;
  pepper: PepperRing | undefined;
}

/**
 * Whether a stored hash falls short of the policy: weaker parameters, a shorter salt or
 * output, or another pepper than the current one. Stronger parameters are left alone, so two
 * gateway versions with different defaults never take turns rewriting the same row.
 *
 * @param stored - the parsed stored hash.
 * @param policy - the current parameters and pepper.
 * @returns true when the hash should be rewritten after the next successful verification.
 * @example
 * ```ts
 * isBelowPolicy(parsed, { params: DEFAULT_ARGON2_PARAMS, pepper: undefined });
 * ```
 */
export function isBelowPolicy(stored: ParsedArgon2Hash, policy: HashPolicy): boolean {
  const { params } = stored;
  return (
    params.memoryKiB < policy.params.memoryKiB ||
    params.iterations < policy.params.iterations ||
    stored.salt.length < SALT_BYTES ||
    stored.hash.length < HASH_BYTES ||
    stored.pepperId !== policy.pepper?.currentId
  );
}

/**
 * Upgrades stored hashes after successful verifications, off the request path: one Argon2
 * run and one compare-and-set `store.modify` per key, skipped when the row changed meanwhile
 * (a regenerate or another instance's rehash won). A failure (the write rejected, or no pool
 * thread free) never touches a request: it is logged, at most once a second (then a count of
 * the lines held back), and the key is tried again on a success after a backoff, doubling from a minute up
 * to an hour. Without it, a store that rejects every write (a read-only role) would cost an
 * Argon2 run per success of every key on old parameters, and starve first-seen
 * verifications of pool threads.
 */
export class Rehasher {
  readonly #store: KeyStore;
  readonly #policy: HashPolicy;
  readonly #logger: CompleteLogger;
  readonly #run: typeof computeArgon2id;
  readonly #now: () => number;
  readonly #pending = new Map<string, Promise<void>>();
  // Keys whose last rehash failed, oldest failure first.
  readonly #backoff = new Map<string, { failures: number; retryAt: number }>();
  readonly #failureLog: LogSampler;

  /**
   * @param store - where the row lives.
   * @param policy - parameters and pepper to rehash to.
   * @param logger - where outcomes go (key ids only).
   * @param run - the Argon2 computation; the worker pool in production setups.
   * @param now - a monotonic clock in milliseconds, for the backoff.
   * @param failureLog - samples the failure lines; the authenticator shares its own.
   */
  constructor(
    store: KeyStore,
    policy: HashPolicy,
    logger: CompleteLogger,
    run = computeArgon2id,
    now: () => number = () => performance.now(),
    failureLog = new LogSampler(1_000, heldBackLine(logger.warn)),
  ) {
    this.#store = store;
    this.#policy = policy;
    this.#logger = logger;
    this.#run = run;
    this.#now = now;
    this.#failureLog = failureLog;
  }

  /**
   * Rewrites a row's hash in the background when it falls short of the policy.
   *
   * @param keyId - the row's key id.
   * @param storedHash - the hash the secret was just verified against.
   * @param secret - the verified secret part; held only until the new hash is computed.
   */
  schedule(keyId: string, storedHash: string, secret: string): void {
    if (this.#pending.has(keyId)) return;
    const backoff = this.#backoff.get(keyId);
    if (backoff !== undefined && this.#now() < backoff.retryAt) return;
    const parsed = parseStoredHash(storedHash);
    if (!parsed.ok || !isBelowPolicy(parsed.value, this.#policy)) return;

    const task = this.#rehash(keyId, storedHash, secret).finally(() => this.#pending.delete(keyId));
    this.#pending.set(keyId, task);
  }

  /** Resolves once every rehash under way has finished. Never rejects. */
  async settle(): Promise<void> {
    await Promise.all(this.#pending.values());
  }

  async #rehash(keyId: string, storedHash: string, secret: string): Promise<void> {
    try {
      const { params, pepper } = this.#policy;
      const peppered = pepper ? { id: pepper.currentId, secret: pepper.current } : undefined;
      const upgraded = await hashSecret(secret, params, peppered, this.#run);
      const written = await this.#store.modify(keyId, (current) =>
        current.key_hash === storedHash ? { key_hash: upgraded } : null,
      );
      this.#backoff.delete(keyId);
      if (written) this.#logger.info({ event: 'keyward.rehashed', keyId }, `keyward: rehashed key ${keyId}`);
    } catch (error) {
      const retryInSeconds = this.#recordFailure(keyId) / 1_000;
      if (!this.#failureLog.admit('rehash_failed')) return;
      this.#logger.warn(
        { event: 'keyward.rehash_failed', keyId, error: describeError(error), retryInSeconds },
        `keyward: could not rehash key ${keyId}; it will be tried again on a success in ${retryInSeconds} s or later`,
      );
    }
  }

  /** Records one more failure of the key's rehash; returns how long the key is left alone. */
  #recordFailure(keyId: string): number {
    const failures = (this.#backoff.get(keyId)?.failures ?? 0) + 1;
    const delay = Math.min(BACKOFF_FIRST_MS * 2 ** (failures - 1), BACKOFF_MAX_MS);
    // Deleted first so the key moves to the end: the map stays ordered by last failure.
    this.#backoff.delete(keyId);
    this.#backoff.set(keyId, { failures, retryAt: this.#now() + delay });
    if (this.#backoff.size > BACKOFF_MAX_KEYS) this.#backoff.delete(this.#backoff.keys().next().value!);
    return delay;
  }
}
