import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiKeyAuthError, createApiKeyAuth, DEFAULT_ARGON2_PARAMS, type ApiKeyAuth, type AuthResult } from 'keyward';
import { Argon2Pool, Argon2PoolBusyError, workerFailureMessage } from '../src/argon2-pool.js';
import { resolveAuthOptions } from '../src/auth-options.js';
import { computeArgon2id } from '../src/hash.js';
import { CaptureLogger } from './helpers/capture-logger.js';
import { bearer, issueKey, wrongSecretOf } from './helpers/perf-keys.js';

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((item) => item.close()));
});

function open<T extends { close(): Promise<void> }>(item: T): T {
  opened.push(item);
  return item;
}

function pendingOf(promise: Promise<unknown>): () => boolean {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return () => !settled;
}

describe('Argon2Pool', () => {
  it('computes in a worker thread exactly the bytes the in-thread path computes', async () => {
    const pool = open(new Argon2Pool({ threads: 1, maxQueue: 4 }));
    expect(pool.liveThreads).toBe(0);
    const target = { params: { memoryKiB: 2_048, iterations: 2, parallelism: 1 }, salt: randomBytes(16), hashLength: 32 };
    const pepper = new Uint8Array(randomBytes(32));

    for (const withPepper of [undefined, pepper]) {
      const inThread = await computeArgon2id('a-secret-of-some-length', target, withPepper);
      const inPool = await pool.run('a-secret-of-some-length', target, withPepper);
      expect(Buffer.from(inPool).toString('hex')).toBe(Buffer.from(inThread).toString('hex'));
    }
    const other = await pool.run('another-secret', target);
    expect(Buffer.from(other).toString('hex')).not.toBe(
      Buffer.from(await computeArgon2id('a-secret-of-some-length', target)).toString('hex'),
    );
  });

  it('survives workers that cannot load their module: every run rejects (none hangs), the failure is reported, and close() ends', async () => {
    const reported: unknown[] = [];
    const missing = new URL('./fixtures/no-such-argon2-task.mjs', import.meta.url).href;
    const pool = open(new Argon2Pool({ threads: 1, maxQueue: 4 }, (error) => reported.push(error), missing));
    const target = { params: { memoryKiB: 2_048, iterations: 2, parallelism: 1 }, salt: randomBytes(16), hashLength: 32 };
    for (let attempt = 0; attempt < 3; attempt++) {
      const outcome = await Promise.race([
        pool.run('a-secret-of-some-length', target).then(() => 'computed', () => 'rejected'),
        new Promise((resolve) => setTimeout(resolve, 5_000, 'still waiting')),
      ]);
      expect(outcome).toBe('rejected');
      // Give the thread that replaces the failed one the time to fail too.
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(reported.length).toBeGreaterThan(0);
    expect(String(reported[0])).toContain('no-such-argon2-task.mjs');
    expect(workerFailureMessage(reported[0])).toBe(
      'keyward: an Argon2 worker thread failed; verifications it held get 500 (its module was not found: if keyward was bundled into the app, keep it external; see the README)',
    );
    expect(workerFailureMessage(new Error('out of memory'))).toBe('keyward: an Argon2 worker thread failed; verifications it held get 500');
    await pool.close();
    expect(pool.liveThreads).toBe(0);
  });

  it('refuses work beyond threads + maxQueue with Argon2PoolBusyError and queues nothing', async () => {
    const pool = open(new Argon2Pool({ threads: 1, maxQueue: 1 }));
    const target = { params: DEFAULT_ARGON2_PARAMS, salt: randomBytes(16), hashLength: 32 };

    const runs = [1, 2, 3, 4].map((n) => pool.run(`secret-${n}`, target));
    const settled = await Promise.allSettled(runs);

    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    for (const refused of settled.slice(2)) {
      expect((refused as PromiseRejectedResult).reason).toBeInstanceOf(Argon2PoolBusyError);
    }
    expect(pool.pending).toBe(0);
  });

  it('lets a running computation finish on close, then refuses work and leaves no thread behind', async () => {
    const pool = new Argon2Pool({ threads: 1, maxQueue: 1 });
    const target = { params: DEFAULT_ARGON2_PARAMS, salt: randomBytes(16), hashLength: 32 };
    const running = pool.run('running-secret', target);
    // Settled into a value at once, so the rejection that close() causes is never unhandled.
    const waiting = pool.run('waiting-secret', target).catch((error: unknown) => error);
    expect(pool.liveThreads).toBe(1);

    await Promise.all([pool.close(), pool.close()]);

    await expect(running).resolves.toHaveLength(32);
    expect(await waiting).toBeInstanceOf(Argon2PoolBusyError);
    await expect(pool.run('late-secret', target)).rejects.toBeInstanceOf(Argon2PoolBusyError);
    expect(pool.liveThreads).toBe(0);
    expect(process.getActiveResourcesInfo()).not.toContain('MessagePort');
  });
});

describe('authenticator with the Argon2 pool', () => {
  it('answers a valid key and a wrong secret through the pool exactly as in-thread', async () => {
    const { store, key } = await issueKey();
    const pooled = open(createApiKeyAuth({ store, memo: false, argon2Pool: { threads: 1 } }));
    const inThread = open(createApiKeyAuth({ store, memo: false, argon2Pool: false }));

    for (const auth of [pooled, inThread]) {
      const good = await auth.authenticate(bearer(key));
      expect(good).toMatchObject({ ok: true, context: { environment: 'sandbox', keyType: 'sms_api' } });
    }
    const [viaPool, viaThread] = await Promise.all(
      [pooled, inThread].map((auth) => auth.authenticate(bearer(wrongSecretOf(key)))),
    );
    expect(viaPool!.ok).toBe(false);
    expect(viaPool).toEqual(viaThread);
    expect(refusal(viaPool!).response).toMatchObject({ status: 401 });
    expect(JSON.parse(refusal(viaPool!).response.body)).toEqual({
      error: { code: 'ERR_API_KEY_INVALID', message: 'The API key is invalid.' },
    });
  });

  it('answers 503 ERR_OVERLOADED with Retry-After when the queue is full, while a memo-hit key passes at once', async () => {
    const { store, key } = await issueKey({ argon2: DEFAULT_ARGON2_PARAMS });
    const reasons: string[] = [];
    const auth = open(
      createApiKeyAuth({
        store,
        retryAfterSeconds: 7,
        argon2Pool: { threads: 1, maxQueue: 1 },
        onDecision: (decision) => reasons.push(decision.reason),
      }),
    );
    expect((await auth.authenticate(bearer(key))).ok).toBe(true);
    reasons.length = 0;

    // Distinct wrong secrets, so no two share a computation: one runs, one waits, four are refused.
    const flood = [0, 1, 2, 3, 4, 5].map((n) => auth.authenticate(bearer(wrongSecretOf(key, n))));
    const stillComputing = pendingOf(Promise.all(flood));
    const memoHit = await auth.authenticate(bearer(key));

    expect(memoHit.ok).toBe(true);
    expect(stillComputing()).toBe(true);

    const answers = (await Promise.all(flood)).map((result) => refusal(result).response);
    expect(answers.map((answer) => answer.status).sort()).toEqual([401, 401, 503, 503, 503, 503]);
    const overloaded = answers.find((answer) => answer.status === 503)!;
    expect(overloaded.headers['retry-after']).toBe('7');
    expect(JSON.parse(overloaded.body)).toEqual({
      error: { code: 'ERR_OVERLOADED', message: 'Too many key checks in progress. Retry shortly.' },
    });
    expect(reasons.filter((reason) => reason === 'overloaded')).toHaveLength(4);
  });

  it('does not remember an overloaded check: the same key is computed once the pool has room', async () => {
    const { store, key } = await issueKey({ argon2: DEFAULT_ARGON2_PARAMS });
    const auth = open(createApiKeyAuth({ store, argon2Pool: { threads: 1, maxQueue: 0 } }));

    const [first, second] = await Promise.all([
      auth.authenticate(bearer(wrongSecretOf(key, 1))),
      auth.authenticate(bearer(key)),
    ]);
    expect(refusal(first!).response.status).toBe(401);
    expect(refusal(second!).response.status).toBe(503);

    expect((await auth.authenticate(bearer(key))).ok).toBe(true);
  });

  it.each([
    ['a pool', { threads: 1 }],
    ['argon2Pool: false', false],
  ] as const)('answers a first-seen key after close() with %s with 503 saying key checks have stopped, logs that close() was called, and still passes a memo hit', async (_name, argon2Pool) => {
    const { store, key } = await issueKey();
    const logger = new CaptureLogger();
    const auth = createApiKeyAuth({ store, argon2Pool, logger });
    expect((await auth.authenticate(bearer(key))).ok).toBe(true);

    await auth.close();

    expect((await auth.authenticate(bearer(key))).ok).toBe(true);
    const late = refusal(await auth.authenticate(bearer(wrongSecretOf(key))));
    expect(late.response.status).toBe(503);
    expect(late.response.headers['retry-after']).toBe('1');
    expect(JSON.parse(late.response.body)).toEqual({
      error: { code: 'ERR_OVERLOADED', message: 'Key checks have stopped on this server. Retry shortly.' },
    });
    const [line] = logger.entries.filter((entry) => entry.level === 'error');
    expect(line?.fields).toMatchObject({ event: 'keyward.auth', outcome: 'fault', reason: 'closed', status: 503 });
    expect(line?.message).toMatch(/^keyward: closed for key key_\w+: close\(\) was called on this authenticator, which then computes no Argon2 hash;/);
    expect(process.getActiveResourcesInfo()).not.toContain('MessagePort');
  });
});

describe('argon2Pool option checks', () => {
  const store = { findByLookupId() {}, findLive() {}, findById() {}, insert() {}, modify() {}, recordUsage() {} };
  const attempt = (argon2Pool: unknown) => () =>
    createApiKeyAuth({ store: store as never, argon2Pool: argon2Pool as never });

  it.each([
    ['an unknown field, with a suggestion', { thread: 2 }, 'createApiKeyAuth: unknown option "thread" in "argon2Pool". Did you mean "threads"?'],
    ['zero threads', { threads: 0 }, 'createApiKeyAuth: "argon2Pool.threads" must be an integer from 1 to 256.'],
    ['fractional threads', { threads: 1.5 }, 'createApiKeyAuth: "argon2Pool.threads" must be an integer from 1 to 256.'],
    ['a negative queue', { maxQueue: -1 }, 'createApiKeyAuth: "argon2Pool.maxQueue" must be an integer from 0 to 100000.'],
    ['a nice increment past 19', { niceIncrement: 20 }, 'createApiKeyAuth: "argon2Pool.niceIncrement" must be an integer from 0 to 19.'],
    ['true', true, 'createApiKeyAuth: "argon2Pool" must be an object or false.'],
    ['an array', [], 'createApiKeyAuth: "argon2Pool" must be an object or false.'],
  ])('refuses %s with ERR_OPTIONS_INVALID', (_name, value, message) => {
    expect(attempt(value)).toThrowError(expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message }));
    expect(attempt(value)).toThrowError(ApiKeyAuthError);
  });

  it('defaults to one thread per core but one, 16 waiting per thread and nice 10 on Linux', () => {
    const threads = Math.max(1, availableParallelism() - 1);
    const niceIncrement = process.platform === 'linux' ? 10 : 0;
    expect(resolveAuthOptions({ store: store as never }).argon2Pool).toEqual({
      threads,
      maxQueue: 16 * threads,
      niceIncrement,
    });
    expect(resolveAuthOptions({ store: store as never, argon2Pool: { threads: 3 } }).argon2Pool).toEqual({
      threads: 3,
      maxQueue: 48,
      niceIncrement,
    });
    expect(resolveAuthOptions({ store: store as never, argon2Pool: false }).argon2Pool).toBe(false);
  });

  it('accepts false, an empty object and a zero-length queue', async () => {
    for (const value of [false, {}, { threads: 3, maxQueue: 0 }]) {
      const auth: ApiKeyAuth = attempt(value)();
      await auth.close();
    }
  });
});

function refusal(result: AuthResult): Extract<AuthResult, { ok: false }> {
  if (result.ok) throw new Error('expected a refusal');
  return result;
}
