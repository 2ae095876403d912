// The one place that calls hash-wasm's Argon2id. It is plain JavaScript on purpose: the same
// file runs in-thread (bundled into the build through src/hash.ts) and as the entry of the
// worker threads (loaded as it is, from src/ under the tests and from dist/ in the package,
// where the build copies it). Keeping one copy means the pool can never compute anything
// other than what the in-thread path computes. It must import nothing but hash-wasm.
import { argon2id } from 'hash-wasm';

/**
 * Computes the raw Argon2id output of one task. Types are in argon2-task.d.mts.
 *
 * @param {import('./argon2-task.mjs').Argon2Task} task
 * @returns {Promise<Uint8Array>}
 */
export function runArgon2Task(task) {
  return argon2id({
    password: task.secret,
    salt: task.salt,
    memorySize: task.memoryKiB,
    iterations: task.iterations,
    parallelism: task.parallelism,
    hashLength: task.hashLength,
    outputType: 'binary',
    // Always given, empty without a pepper (Argon2's "no secret"): hash-wasm reads a missing
    // `secret` through the prototype chain, where a polluted Object.prototype could put one.
    secret: task.pepper ?? new Uint8Array(0),
  });
}

// Piscina runs a worker file's default export.
export default runArgon2Task;
