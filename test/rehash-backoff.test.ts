/**
 * rehashOnSuccess on a store that cannot write (a read-only role): a key whose rehash failed
 * is left alone for a while, doubling from a minute up to an hour, so it costs one Argon2 run
 * per backoff rather than one per success; and `keyward.rehash_failed` is logged at most once
 * a second, followed by a count of the lines held back. While 10,000 keys back off no other
 * key is rehashed (`keyward.rehash_paused`); a key whose backoff ran out no longer counts.
 */
import { describe, expect, it, vi } from 'vitest';
import { createApiKeyAuth, createKeyManager, type ApiKeyRow } from 'keyward';
import { Rehasher } from '../src/rehash.js';
import { completeLogger } from '../src/logger.js';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { CaptureLogger } from './helpers/capture-logger.js';
import { InstrumentedStore } from './helpers/stores.js';
import { bearer } from './helpers/keys.js';

const POLICY = { params: { memoryKiB: 512, iterations: 1, parallelism: 1 }, pepper: undefined };
// A stored hash on weaker parameters than POLICY (m=256), so every success asks for a rehash.
const OLD_HASH = '$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw';
const MINUTE = 60_000;

/** The row a key was just verified against, with the old hash. */
const rowOf = (id: string) => ({ id, lookup_id: 'lookup000001', account_id: 'acct_1', environment: 'production' as const, key_hash: OLD_HASH });

/** A Rehasher on a store whose writes all fail, with a hand-driven clock and counted Argon2 runs. */
function failingRehasher(logger = new CaptureLogger()) {
  const clock = { now: 0 };
  const store = new InstrumentedStore();
  const modify = vi.spyOn(store, 'modify').mockRejectedValue(new Error('permission denied for table api_keys'));
  const run = vi.fn(async () => new Uint8Array(32));
  const rehasher = new Rehasher(store, POLICY, completeLogger(logger), { run, now: () => clock.now });
  const succeed = async (keyId: string) => {
    rehasher.schedule(rowOf(keyId), 'the-verified-secret');
    await rehasher.settle();
  };
  return { clock, modify, run, succeed, logger };
}

describe('Rehasher backoff after a failed write', () => {
  it('runs Argon2 once for a key whose write failed, however often it succeeds within a minute', async () => {
    const { clock, run, modify, succeed } = failingRehasher();
    for (let i = 0; i < 50; i++) {
      await succeed('key_1');
      clock.now += 1_000;
    }
    expect(run).toHaveBeenCalledTimes(1);
    expect(modify).toHaveBeenCalledTimes(1);
  });

  it('tries the key again after 1, 2, 4 ... minutes, and never waits more than an hour', async () => {
    const { clock, run, succeed } = failingRehasher();
    const retriedAt: number[] = [];
    for (clock.now = 0; clock.now <= 365 * MINUTE; clock.now += MINUTE / 4) {
      const before = run.mock.calls.length;
      await succeed('key_1');
      if (run.mock.calls.length > before) retriedAt.push(clock.now / MINUTE);
    }
    // Gaps of 1, 2, 4, 8, 16, 32 minutes, then 60 each time.
    expect(retriedAt).toEqual([0, 1, 3, 7, 15, 31, 63, 123, 183, 243, 303, 363]);
  });

  it('forgets the backoff once a rehash of the key is written', async () => {
    const { clock, run, modify, succeed } = failingRehasher();
    await succeed('key_1');
    clock.now = MINUTE;
    modify.mockImplementation(async () => null);
    await succeed('key_1');
    // Back to no backoff: a later failure waits one minute again, not two.
    modify.mockRejectedValue(new Error('read-only'));
    clock.now += 1;
    await succeed('key_1');
    clock.now += MINUTE;
    await succeed('key_1');
    expect(run).toHaveBeenCalledTimes(4);
  });

  it('backs off each key on its own: a failing key does not delay another', async () => {
    const { run, succeed } = failingRehasher();
    await succeed('key_1');
    await succeed('key_1');
    await succeed('key_2');
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('rehashes no other key while 10,000 keys back off, and none of them early', async () => {
    const { clock, run, modify, succeed } = failingRehasher();
    for (let i = 0; i < 10_000; i++) await succeed(`key_${i}`);
    expect(run).toHaveBeenCalledTimes(10_000);
    // Over and over, as a busy gateway would: no key beyond the bound, no early retry.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 12_000; i += 7) await succeed(`key_${i}`);
    }
    expect(run).toHaveBeenCalledTimes(10_000);
    // Once a backing-off key succeeds, its place frees up for another.
    clock.now = MINUTE;
    modify.mockImplementation(async () => null);
    await succeed('key_0');
    await succeed('key_10001');
    expect(run).toHaveBeenCalledTimes(10_002);
  }, 60_000);

  it('rehashes other keys again once the backoff of the 10,000 keys has run out', async () => {
    const { clock, run, modify, succeed, logger } = failingRehasher();
    for (let i = 0; i < 10_000; i++) await succeed(`key_${i}`);
    // The store takes writes again two hours later; none of the 10,000 comes back (revoked,
    // regenerated or simply unused), so only a sweep can make room for the fresh keys.
    clock.now += 120 * MINUTE;
    modify.mockImplementation(async (keyId) => ({ id: keyId }) as ApiKeyRow);
    for (let i = 0; i < 100; i++) await succeed(`fresh_${i}`);
    expect(run).toHaveBeenCalledTimes(10_100);
    expect(modify).toHaveBeenCalledTimes(10_100);
    expect(logger.entries.filter((entry) => entry.fields.event === 'keyward.rehashed')).toHaveLength(100);
    expect(logger.entries.filter((entry) => entry.fields.event === 'keyward.rehash_paused')).toHaveLength(0);
  }, 60_000);

  it('rehashes no fresh key while the 10,000 keys are still backing off 30 s later, and logs the pause once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { clock, run, modify, succeed, logger } = failingRehasher();
      for (let i = 0; i < 10_000; i++) await succeed(`key_${i}`);
      clock.now += 30_000;
      modify.mockImplementation(async (keyId) => ({ id: keyId }) as ApiKeyRow);
      for (let i = 0; i < 100; i++) {
        await succeed(`fresh_${i}`);
        clock.now += 20; // a sweep or two more, none of which frees a place
        if (i === 50) vi.advanceTimersByTime(1_000); // and a new log window
      }
      expect(run).toHaveBeenCalledTimes(10_000);
      expect(modify).toHaveBeenCalledTimes(10_000);
      vi.advanceTimersByTime(1_000);
      // The pause line, and no held-back count of further ones.
      const pauseLines = logger.entries.filter((entry) => entry.fields.event === 'keyward.rehash_paused' || entry.fields.kind === 'rehash_paused');
      expect(pauseLines.map((entry) => [entry.level, entry.fields])).toEqual([
        ['warn', { event: 'keyward.rehash_paused', backingOff: 10_000 }],
      ]);
    } finally {
      vi.useRealTimers();
    }
  }, 60_000);

  it('still doubles the backoff of a key that fails again after its backoff ran out and was swept', async () => {
    const { clock, run, succeed } = failingRehasher();
    for (let i = 0; i < 10_000; i++) await succeed(`key_${i}`);
    clock.now += 120 * MINUTE;
    await succeed('fresh'); // at the bound: sweeps the 10,000 out, then fails too
    await succeed('key_0'); // its second failure: two minutes this time
    expect(run).toHaveBeenCalledTimes(10_002);
    clock.now += MINUTE + 1;
    await succeed('key_0');
    expect(run).toHaveBeenCalledTimes(10_002);
    clock.now += MINUTE;
    await succeed('key_0');
    expect(run).toHaveBeenCalledTimes(10_003);
  }, 60_000);

  it('remembers the failures of at most 10,000 keys done backing off: the oldest start over at a minute', async () => {
    const { clock, run, succeed } = failingRehasher();
    for (let i = 0; i < 10_000; i++) await succeed(`old_${i}`);
    clock.now += 120 * MINUTE;
    for (let i = 0; i < 10_000; i++) await succeed(`new_${i}`);
    clock.now += 120 * MINUTE;
    await succeed('fresh'); // sweeps the new_ keys out too, past the old_ ones' histories
    await succeed('old_0');
    await succeed('new_0');
    expect(run).toHaveBeenCalledTimes(20_003);
    // One minute on, old_0 (forgotten, first failure again) is due; new_0 (second) is not.
    clock.now += MINUTE;
    await succeed('old_0');
    await succeed('new_0');
    expect(run).toHaveBeenCalledTimes(20_004);
  }, 60_000);

  it('counts a store.modify that never settles as a failure after the write timeout, so settle() returns', async () => {
    const store = new InstrumentedStore();
    vi.spyOn(store, 'modify').mockReturnValue(new Promise(() => {}));
    const logger = new CaptureLogger();
    const rehasher = new Rehasher(store, POLICY, completeLogger(logger), { run: async () => new Uint8Array(32), writeTimeoutMs: 50 });
    rehasher.schedule(rowOf('key_1'), 'the-verified-secret');
    await rehasher.settle();
    expect(logger.entries.map((entry) => entry.fields)).toEqual([
      expect.objectContaining({ event: 'keyward.rehash_failed', keyId: 'key_1', retryInSeconds: 60 }),
    ]);
  });

  it('starts no rehash while the Argon2 computation is busy, and one at a time', async () => {
    const run = vi.fn(async () => new Uint8Array(32));
    let busy = true;
    const rehasher = new Rehasher(new InstrumentedStore(), POLICY, completeLogger(undefined), { run, idle: () => !busy });
    rehasher.schedule(rowOf('key_1'), 'the-verified-secret');
    expect(run).not.toHaveBeenCalled();
    busy = false;
    rehasher.schedule(rowOf('key_1'), 'the-verified-secret');
    rehasher.schedule(rowOf('key_2'), 'the-verified-secret');
    await rehasher.settle();
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('logs keyward.rehash_failed at most once a second, then how many lines it held back', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { succeed, logger } = failingRehasher();
      for (let i = 0; i < 21; i++) await succeed(`key_${i}`);
      vi.advanceTimersByTime(1_000);
      await succeed('key_21');
      expect(logger.entries.map((entry) => [entry.level, entry.fields])).toEqual([
        ['warn', expect.objectContaining({ event: 'keyward.rehash_failed', keyId: 'key_0', retryInSeconds: 60 })],
        ['warn', { event: 'keyward.log_held_back', kind: 'rehash_failed', skipped: 20 }],
        ['warn', expect.objectContaining({ event: 'keyward.rehash_failed', keyId: 'key_21', retryInSeconds: 60 })],
      ]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('rehashOnSuccess on a read-only store', () => {
  it('answers a first-seen key 200, not 503 ERR_OVERLOADED, while an old-hash key is used over and over', async () => {
    const store = new InstrumentedStore();
    const old = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_old', environment: 'sandbox' });
    const fresh = await createKeyManager({ store, argon2: POLICY.params }).issue({ accountId: 'acct_new', environment: 'sandbox' });
    const modify = vi.spyOn(store, 'modify').mockRejectedValue(new Error('permission denied for table api_keys'));
    const logger = new CaptureLogger([old.key, fresh.key]);
    // One thread and no queue: a rehash running when the new key arrives would take its slot.
    const auth = createApiKeyAuth({ store, logger, argon2: POLICY.params, rehashOnSuccess: true, argon2Pool: { threads: 1, maxQueue: 0 } });
    try {
      expect((await auth.authenticate({ headers: bearer(old.key) })).ok).toBe(true);
      await vi.waitFor(() => expect(modify).toHaveBeenCalledTimes(1));
      for (let i = 0; i < 200; i++) {
        const result = await auth.authenticate({ headers: bearer(old.key) });
        expect(result.ok ? 200 : result.response.status).toBe(200);
      }
      const first = await auth.authenticate({ headers: bearer(fresh.key) });
      expect(first.ok ? 200 : first.response.status).toBe(200);
    } finally {
      await auth.close();
    }
    // One rehash attempt (one Argon2 run, one write) for the old key, one warn line.
    expect(modify).toHaveBeenCalledTimes(1);
    expect(logger.entries.filter((entry) => entry.fields.event === 'keyward.rehash_failed')).toHaveLength(1);
    logger.assertNoLeaks();
  });
});
