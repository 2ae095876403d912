/** One Argon2id computation, as sent to a worker thread (structured-clone friendly). */
export interface Argon2Task {
  /** The secret part of a key; never empty. */
  secret: string;
  salt: Uint8Array;
  memoryKiB: number;
  iterations: number;
  parallelism: number;
  hashLength: number;
  /** Optional app-held secret, Argon2's secret input. */
  pepper?: Uint8Array | undefined;
}

/**
 * Computes the raw Argon2id output of one task with hash-wasm.
 *
 * @param task - secret, salt, cost parameters and output length.
 * @returns the raw output bytes.
 * @example
 * ```ts
 * const raw = await runArgon2Task({ secret, salt, memoryKiB: 19456, iterations: 2, parallelism: 1, hashLength: 32 });
 * ```
 */
export declare function runArgon2Task(task: Argon2Task): Promise<Uint8Array>;
export default runArgon2Task;
