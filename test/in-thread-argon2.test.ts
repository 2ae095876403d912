/**
 * `argon2Pool: false`: Argon2 on the event loop, one computation at a time with a bounded
 * queue, as the pool bounds its threads. Each hash-wasm computation takes its whole memory
 * cost as it starts, so computations started all at once held that cost many times over
 * (public case C12: gigabytes for a few hundred first-seen keys).
 */
import { randomBytes } from 'node:crypto';
import { argon2id } from 'hash-wasm';
import { describe, expect, it, vi } from 'vitest';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore } from 'keyward';
import { Argon2PoolBusyError } from '../src/argon2-pool.js';
import { InThreadArgon2 } from '../src/in-thread-argon2.js';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { bearer, forgeSecret } from './helpers/keys.js';

let running = 0;
let mostAtOnce = 0;
vi.mock('hash-wasm', async (importOriginal) => {
  const real = await importOriginal<typeof import('hash-wasm')>();
  return {
    ...real,
    argon2id: vi.fn(async (...args: Parameters<typeof real.argon2id>) => {
      mostAtOnce = Math.max(mostAtOnce, ++running);
      try {
        return await real.argon2id(...args);
      } finally {
        running--;
      }
    }),
  };
});

const target = { params: TEST_ARGON2, salt: randomBytes(16), hashLength: 32 };

describe('InThreadArgon2', () => {
  it('computes one at a time, queues up to maxQueue more and refuses the rest at once', async () => {
    mostAtOnce = 0;
    const argon2 = new InThreadArgon2(2);
    const runs = [1, 2, 3, 4].map((n) => argon2.run(`secret-${n}`, target));
    expect([argon2.pending, argon2.busy]).toEqual([3, true]);

    const settled = await Promise.allSettled(runs);

    expect(settled.map((each) => each.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect((settled[3] as PromiseRejectedResult).reason).toBeInstanceOf(Argon2PoolBusyError);
    expect(mostAtOnce).toBe(1);
    expect([argon2.pending, argon2.busy]).toEqual([0, false]);
  });

  it('finishes the running computation on close(), drops those waiting and refuses new ones', async () => {
    const argon2 = new InThreadArgon2(4);
    const runs = [1, 2, 3].map((n) => argon2.run(`secret-${n}`, target));
    argon2.close();
    const settled = await Promise.allSettled([...runs, argon2.run('later', target)]);
    expect(settled.map((each) => each.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
    expect(argon2.busy).toBe(true);
  });
});

describe('createKeyManager with many calls at once', () => {
  it('hashes one key at a time and refuses none', async () => {
    const manager = createKeyManager({ store: new MemoryKeyStore(), argon2: TEST_ARGON2 });
    mostAtOnce = 0;

    const issued = await Promise.all(Array.from({ length: 20 }, (_, n) => manager.issue({ accountId: `acct_${n}`, environment: 'sandbox' })));

    expect(new Set(issued.map((each) => each.card.keyId)).size).toBe(20);
    expect(mostAtOnce).toBe(1);
  });
});

describe('createApiKeyAuth with argon2Pool: false under a flood of first-seen keys', () => {
  it('runs one Argon2 computation at a time and answers what does not fit the queue with 503 and Retry-After', async () => {
    const store = new MemoryKeyStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_flood', environment: 'sandbox' });
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false, throttle: false });
    mostAtOnce = 0;
    vi.mocked(argon2id).mockClear();

    const results = await Promise.all(
      Array.from({ length: 40 }, (_, n) => auth.authenticate({ headers: bearer(forgeSecret(key, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn'[n]!)) })),
    );

    const statuses = results.map((result) => (result.ok ? 200 : result.response.status));
    // One computing and sixteen waiting; the other 23 are refused without a computation.
    expect(statuses.filter((status) => status === 401)).toHaveLength(17);
    expect(statuses.filter((status) => status === 503)).toHaveLength(23);
    const refused = results.find((result) => !result.ok && result.response.status === 503)!;
    expect(!refused.ok && refused.response.headers['retry-after']).toBe('1');
    expect(mostAtOnce).toBe(1);
    expect(vi.mocked(argon2id)).toHaveBeenCalledTimes(17);
    await auth.close();
  });
});
