import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { invalidOption } from './errors.js';
import { argon2TaskOf } from './hash.js';
import type { Argon2Runner } from './secret-verifier.js';

/**
 * Options of the Argon2 worker pool (`argon2Pool` in `ApiKeyAuthOptions`).
 *
 * @example
 * ```ts
 * const auth = createApiKeyAuth({ store, argon2Pool: { threads: 3, maxQueue: 48 } });
 * ```
 */
export interface Argon2PoolOptions {
  /**
   * Worker threads that run Argon2 at once. The default leaves one core to the event loop,
   * which serves memo hits, parses requests and talks to the store: a flood of made-up keys
   * then delays or refuses (503) first-seen keys, but not the keys this process verified.
   * @default Math.max(1, os.availableParallelism() - 1)
   */
  threads?: number | undefined;
  /**
   * Verifications that may wait for a free thread. One more gets 503 `ERR_OVERLOADED` with
   * `Retry-After` at once, so a flood costs a bounded amount of memory and never stalls.
   * The default bounds the wait rather than the count: with 16 waiting per thread, the last
   * one waits about 16 Argon2 runs (0.8 s at the default cost on an idle core; several seconds
   * under a flood that keeps the event loop busy). 0 means none waits.
   * @default 16 × threads
   */
  maxQueue?: number | undefined;
  /**
   * How much lower than the event loop the Argon2 threads run (a nice increment, 0 to 19).
   * Argon2 is background work for first-seen keys; when the CPU is short, the event loop
   * that answers memo hits should win. Needs piscina's optional `@napi-rs/nice` module and
   * is skipped where it cannot be loaded.
   *
   * > [!NOTE]
   * > Only Linux sets a priority per thread. Elsewhere `nice()` would lower the whole
   * > process, event loop included, so the default there is 0; set it only if you know
   * > your platform applies it per thread.
   * @default 10 on Linux, 0 elsewhere
   */
  niceIncrement?: number | undefined;
}

/** The nice increment used when `niceIncrement` is not given (see its note). */
export const DEFAULT_ARGON2_NICE_INCREMENT = process.platform === 'linux' ? 10 : 0;

/**
 * The thread count used when `threads` is not given.
 *
 * @returns one less than the cores Node may use, and at least 1.
 * @example
 * ```ts
 * defaultArgon2Threads(); // 1 on a 2-core machine, 7 on an 8-core one
 * ```
 */
export function defaultArgon2Threads(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * The queue length used when `maxQueue` is not given.
 *
 * @param threads - the pool's thread count.
 * @returns 16 per thread.
 * @example
 * ```ts
 * defaultArgon2MaxQueue(3); // 48
 * ```
 */
export function defaultArgon2MaxQueue(threads: number): number {
  return 16 * threads;
}

/**
 * The log message for a worker thread that failed. A worker that cannot load its module most
 * often means keyward was bundled into the app, which leaves `argon2-task.mjs` behind.
 *
 * @param error - what the pool reported.
 */
export function workerFailureMessage(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const unloadable = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
  const hint = unloadable ? ' (its module was not found: if keyward was bundled into the app, keep it external; see the README)' : '';
  return `keyward: an Argon2 worker thread failed; verifications it held get 500${hint}`;
}

/**
 * Why an Argon2 run did not happen: every thread is busy and the queue is full, or the pool
 * is closing. The pipeline answers it with 503 `ERR_OVERLOADED`; it never reaches the app.
 *
 * @example
 * ```ts
 * if (error instanceof Argon2PoolBusyError) return { ok: false, fault: 'overloaded' };
 * ```
 */
export class Argon2PoolBusyError extends Error {
  override readonly name = 'Argon2PoolBusyError';
}

// One shared instance: a flood rejects thousands of tasks a second, and each would otherwise
// capture a stack trace nobody reads.
const BUSY = new Argon2PoolBusyError('Argon2 pool busy');

// Next to this module: src/ under the tests, dist/ (where the build copies the file) in the
// package. Made from the module's folder with pathToFileURL, which escapes it: in the
// CommonJS build, import.meta.url is tsup's shim, which does not, so a '#', '?' or '%' in the
// install's path made the URL name another file (the parent folder's, for a '#').
const TASK_FILE = pathToFileURL(join(moduleFolder(), 'argon2-task.mjs')).href;

/** This module's folder: `__dirname` in CommonJS, from Node's own escaped URL in ESM. */
function moduleFolder(): string {
  return typeof __dirname === 'string' ? __dirname : fileURLToPath(new URL('.', import.meta.url));
}

/**
 * Throws at setup when the worker module is not beside keyward's own code. That is what a
 * bundle that took keyward in looks like (its code then runs from the bundle's folder), and
 * the threads, which load files by path, would fail every first-seen key with a 500.
 *
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID`, naming the folder looked in and the remedy:
 *   like a bad option, a setup keyward cannot run in.
 */
function requireShippedTaskFile(): void {
  const path = fileURLToPath(TASK_FILE);
  if (existsSync(path)) return;
  invalidOption(
    `keyward cannot find its Argon2 worker module, argon2-task.mjs, in ${dirname(path)}: keyward was probably bundled into the app. ` +
      'Keep it external (esbuild: --external:keyward) and install it beside the bundle; see "Bundling" in the README.',
  );
}

/**
 * Runs Argon2 in worker threads (piscina), off the event loop. At most `threads` run and
 * `maxQueue` wait; past that {@link run} rejects with {@link Argon2PoolBusyError} without
 * queuing anything. Threads start on the first run, not at construction, and an idle pool
 * keeps no process alive.
 *
 * @example
 * ```ts
 * const pool = new Argon2Pool({ threads: 2, maxQueue: 64 });
 * const raw = await pool.run(secret, { params, salt, hashLength: 32 });
 * await pool.close();
 * ```
 */
export class Argon2Pool {
  readonly #threads: number;
  readonly #capacity: number;
  readonly #niceIncrement: number;
  readonly #onWorkerError: (error: unknown) => void;
  readonly #taskFile: string;
  #piscina: Piscina | undefined;
  #pending = 0;
  #backgroundPending = false;
  #closing: Promise<void> | undefined;

  /**
   * @param options - already checked (see `resolveAuthOptions`); defaults apply to what is missing.
   * @param onWorkerError - told when a worker thread fails outside a task (it could not load
   *   the task file, say); the pool has by then started over (see {@link #pool}).
   * @param taskFile - for tests only: the worker's module.
   * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` when the shipped worker module is missing
   *   (keyward bundled into the app).
   */
  constructor(options: Argon2PoolOptions = {}, onWorkerError: (error: unknown) => void = () => {}, taskFile = TASK_FILE) {
    if (taskFile === TASK_FILE) requireShippedTaskFile();
    this.#onWorkerError = onWorkerError;
    this.#taskFile = taskFile;
    this.#threads = options.threads ?? defaultArgon2Threads();
    this.#capacity = this.#threads + (options.maxQueue ?? defaultArgon2MaxQueue(this.#threads));
    this.#niceIncrement = options.niceIncrement ?? DEFAULT_ARGON2_NICE_INCREMENT;
  }

  /**
   * An {@link Argon2Runner} backed by the pool, for verifications.
   *
   * @throws {Argon2PoolBusyError} (as a rejection) when the queue is full or the pool is closing.
   */
  readonly run: Argon2Runner = (secret, target, pepper) => {
    // The bound is counted here rather than left to piscina, so that it is exact (running
    // plus waiting) and a refused task never reaches the pool at all.
    if (this.busy) return Promise.reject(BUSY);
    this.#pending++;
    return this.#submit(secret, target, pepper).finally(() => this.#pending--);
  };

  /**
   * An {@link Argon2Runner} for one piece of background work at a time (`rehashOnSuccess`),
   * on a place of its own beyond `threads + maxQueue`: it waits for a thread like any task,
   * but never takes a place from a verification, so a key's first check never finds the
   * queue full because of it. It is not counted in {@link pending}.
   *
   * @throws {Argon2PoolBusyError} (as a rejection) while one is under way, or when closing.
   */
  readonly runInBackground: Argon2Runner = (secret, target, pepper) => {
    if (this.#closing || this.#backgroundPending) return Promise.reject(BUSY);
    this.#backgroundPending = true;
    return this.#submit(secret, target, pepper).finally(() => (this.#backgroundPending = false));
  };

  async #submit(...[secret, target, pepper]: Parameters<Argon2Runner>): Promise<Uint8Array> {
    try {
      const raw: Uint8Array = await this.#pool().run(argon2TaskOf(secret, target, pepper));
      return raw;
    } catch (error) {
      // Tasks still waiting when close() runs are aborted: tell their callers to retry.
      if (this.#closing) throw BUSY;
      throw error;
    }
  }

  /** Whether {@link run} would refuse a new computation now: the queue is full, or closing. */
  get busy(): boolean {
    return this.#closing !== undefined || this.#pending >= this.#capacity;
  }

  /** Verifications running or waiting now (not the background one). */
  get pending(): number {
    return this.#pending;
  }

  /** Worker threads alive now: none before the first run and after close. */
  get liveThreads(): number {
    return this.#piscina?.threads.length ?? 0;
  }

  /**
   * Lets running computations finish, aborts waiting ones and stops the threads. Later runs
   * reject with {@link Argon2PoolBusyError}. Safe to call more than once.
   */
  close(): Promise<void> {
    this.#closing ??= this.#piscina ? this.#piscina.close({ force: true }) : Promise.resolve();
    return this.#closing;
  }

  #pool(): Piscina {
    if (this.#piscina) return this.#piscina;
    const piscina = new Piscina({
      filename: this.#taskFile,
      minThreads: this.#threads,
      maxThreads: this.#threads,
      // Our own bounds above decide; piscina only holds what they admitted (and the one
      // background task).
      maxQueue: this.#capacity + 1,
      niceIncrement: this.#niceIncrement,
    });
    // A worker that fails outside a task (its module cannot load: a bundle without
    // argon2-task.mjs, say) is an 'error' event, which unheard would end the process; and
    // piscina then waits for a thread that never comes, so queued tasks would never settle.
    // This pool is dropped instead: its tasks are aborted (their requests get 500) and the
    // next run starts a new one, which works again once the cause is gone.
    piscina.on('error', (error: unknown) => {
      this.#onWorkerError(error);
      if (this.#piscina === piscina) this.#piscina = undefined;
      piscina.close({ force: true }).catch(() => {});
    });
    this.#piscina = piscina;
    return piscina;
  }
}
