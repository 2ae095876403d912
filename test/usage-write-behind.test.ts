import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore, type ApiKeyAuth, type KeyUsage } from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { bearer, issueKey, wrongSecretOf } from './helpers/perf-keys.js';
import { completeLogger } from '../src/logger.js';
import { UsageRecorder } from '../src/usage-recorder.js';

/** A memory store that records every recordUsage batch and can be told to fail or hang. */
class CountingStore extends MemoryKeyStore {
  readonly batches: KeyUsage[][] = [];
  failures = 0;
  hold: Promise<void> | undefined;

  override async recordUsage(usage: readonly KeyUsage[]): Promise<void> {
    this.batches.push(usage.map((entry) => ({ ...entry })));
    if (this.hold) await this.hold;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('connection reset by peer');
    }
    return super.recordUsage(usage);
  }
}

const INTERVAL = 1_000;
let auth: ApiKeyAuth | undefined;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});

afterEach(async () => {
  await auth?.close();
  auth = undefined;
  vi.useRealTimers();
});

/** A clock that moves one millisecond per reading, so the latest use is identifiable. */
function steppingClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return { clock: () => new Date(now++), latest: () => new Date(now - 1) };
}

async function authenticateTimes(times: number, key: string): Promise<void> {
  for (let i = 0; i < times; i++) {
    const result = await auth!.authenticate(bearer(key));
    if (!result.ok) throw new Error(`authentication ${i} failed with ${result.response.status}`);
  }
}

describe('write-behind last_used_at', () => {
  it('logs a store that keeps failing once per second of flushes, however short the interval', async () => {
    const store = new CountingStore();
    const { key } = await issueKey({ store });
    const warn = vi.fn();
    auth = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: 10, logger: { warn } });
    store.failures = Number.POSITIVE_INFINITY;
    await authenticateTimes(1, key);

    // One hundred failed flushes (a second at 10 ms): one line; the 101st starts the next second.
    for (let flush = 0; flush < 100; flush++) await vi.advanceTimersByTimeAsync(10);
    expect(warn).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(warn).toHaveBeenCalledTimes(2);
    store.failures = 0;
  });

  it('logs the first failed flush of a new outage, after a flush that succeeded ends the last one', async () => {
    const store = new CountingStore();
    const { key } = await issueKey({ store });
    const warn = vi.fn();
    // At 100 ms, failed flushes in a row are logged one in ten.
    auth = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: 100, logger: { warn } });

    store.failures = 3;
    await authenticateTimes(1, key);
    for (let flush = 0; flush < 3; flush++) await vi.advanceTimersByTimeAsync(100);
    expect(warn).toHaveBeenCalledTimes(1);

    // The outage ends: the retry and a new use are written.
    await authenticateTimes(1, key);
    await vi.advanceTimersByTimeAsync(100);
    expect(store.batches).toHaveLength(4);
    expect(warn).toHaveBeenCalledTimes(1);

    // A new outage: its first failed flush is logged, not counted on from the last one.
    store.failures = 1;
    await authenticateTimes(1, key);
    await vi.advanceTimersByTimeAsync(100);
    expect(store.batches).toHaveLength(5);
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('turns 10,000 successful authentications of one key into one store write per flush interval', async () => {
    const store = new CountingStore();
    const { key, keyId, lookupId } = await issueKey({ store });
    const time = steppingClock();
    auth = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: INTERVAL, clock: time.clock });

    await authenticateTimes(10_000, key);
    expect(store.batches).toHaveLength(0);

    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(store.batches).toEqual([[{ id: keyId, lookup_id: lookupId, used_at: time.latest() }]]);
    expect(store.allRows()[0]!.last_used_at).toEqual(time.latest());

    await authenticateTimes(10_000, key);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(store.batches).toHaveLength(2);
    expect(store.batches[1]).toEqual([{ id: keyId, lookup_id: lookupId, used_at: time.latest() }]);

    // An interval without uses writes nothing.
    await vi.advanceTimersByTimeAsync(INTERVAL * 3);
    expect(store.batches).toHaveLength(2);
  });

  it('by default, writes 1,000 authentications of one key over 10 s once, a minute after the authenticator was made (C16)', async () => {
    const store = new CountingStore();
    const { key, keyId, lookupId } = await issueKey({ store });
    const time = steppingClock();
    // No usageFlushIntervalMs: the default is what most gateways run with.
    auth = createApiKeyAuth({ store, argon2Pool: false, clock: time.clock });

    for (let second = 0; second < 10; second++) {
      await authenticateTimes(100, key);
      await vi.advanceTimersByTimeAsync(1_000);
    }
    // Nothing until the first flush, 60 s after the authenticator was made; then one write.
    await vi.advanceTimersByTimeAsync(49_999);
    expect(store.batches).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(store.batches).toEqual([[{ id: keyId, lookup_id: lookupId, used_at: time.latest() }]]);
  });

  it('writes the uses of several keys in one batch, one entry per key', async () => {
    const store = new CountingStore();
    const first = await issueKey({ store, accountId: 'acct_a' });
    const second = await issueKey({ store, accountId: 'acct_b' });
    auth = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: INTERVAL });

    await authenticateTimes(50, first.key);
    await authenticateTimes(50, second.key);
    await vi.advanceTimersByTimeAsync(INTERVAL);

    expect(store.batches).toHaveLength(1);
    expect(store.batches[0]!.map((entry) => entry.id).sort()).toEqual([first.keyId, second.keyId].sort());
  });

  it('keeps answering while a write fails, logs each failed flush once and retries on the next flush', async () => {
    const store = new CountingStore();
    const { key, keyId, lookupId } = await issueKey({ store });
    const warn = vi.fn();
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    const time = steppingClock();
    auth = createApiKeyAuth({
      store,
      argon2Pool: false,
      usageFlushIntervalMs: INTERVAL,
      clock: time.clock,
      logger: { warn },
    });

    try {
      store.failures = 2;
      await authenticateTimes(100, key);
      await vi.advanceTimersByTimeAsync(INTERVAL);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn).toHaveBeenCalledWith(
        { event: 'keyward.usage_flush_failed', keys: 1, error: 'Error: connection reset by peer' },
        'keyward could not record last_used_at; it will retry on the next flush',
      );

      // Nothing new was used, yet the next flush tries the failed batch again (and fails again).
      await vi.advanceTimersByTimeAsync(INTERVAL);
      expect(store.batches).toHaveLength(2);
      expect(warn).toHaveBeenCalledTimes(2);

      await authenticateTimes(100, key);
      await vi.advanceTimersByTimeAsync(INTERVAL);
      expect(store.batches).toHaveLength(3);
      expect(store.batches[2]).toEqual([{ id: keyId, lookup_id: lookupId, used_at: time.latest() }]);
      expect(store.allRows()[0]!.last_used_at).toEqual(time.latest());
      expect(warn).toHaveBeenCalledTimes(2);
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('answers requests while a write hangs, and starts no second write for the same interval', async () => {
    const store = new CountingStore();
    const { key } = await issueKey({ store });
    let release = () => {};
    store.hold = new Promise((resolve) => (release = resolve));
    auth = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: INTERVAL });

    await authenticateTimes(10, key);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(store.batches).toHaveLength(1);

    await authenticateTimes(10, key);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(store.batches).toHaveLength(1);

    store.hold = undefined;
    release();
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(store.batches).toHaveLength(2);
  });

  it('flushUsage() during an interval write also writes the uses noted after that write began', async () => {
    const store = new CountingStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const first = await manager.issue({ accountId: 'acct_first', environment: 'sandbox' });
    const later = await manager.issue({ accountId: 'acct_later', environment: 'sandbox' });
    let release = () => {};
    store.hold = new Promise((resolve) => (release = resolve));
    auth = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: INTERVAL });

    await authenticateTimes(1, first.key);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(store.batches.map((batch) => batch.map((use) => use.id))).toEqual([[first.card.keyId]]);

    await authenticateTimes(1, later.key);
    const flushed = auth.flushUsage();
    store.hold = undefined;
    release();
    await flushed;

    expect(store.batches.map((batch) => batch.map((use) => use.id))).toEqual([[first.card.keyId], [later.card.keyId]]);
    const lastUsed = new Map(store.allRows().map((row) => [row.id, row.last_used_at]));
    expect(lastUsed.get(later.card.keyId)).toBeInstanceOf(Date);
  });

  it('gives up on a write that never finishes after the store timeout, so close() returns', async () => {
    const store = new CountingStore();
    const { key } = await issueKey({ store });
    store.hold = new Promise(() => {});
    const warnings: string[] = [];
    const logger = { warn: (fields: Record<string, unknown>) => warnings.push(String(fields.event)) };
    const closing = createApiKeyAuth({ store, argon2Pool: false, storeTimeoutMs: 50, logger });

    await closing.authenticate(bearer(key));
    await closing.close();

    expect(store.batches).toHaveLength(1);
    expect(warnings).toEqual(['keyward.usage_flush_failed']);
  });

  it('starts no second write while one given up on still runs, so given-up writes cannot pile up in the store', async () => {
    const store = new CountingStore();
    const { key, keyId, lookupId } = await issueKey({ store });
    let release = () => {};
    store.hold = new Promise((resolve) => (release = resolve));
    const warn = vi.fn();
    const time = steppingClock();
    auth = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: INTERVAL, storeTimeoutMs: 20, clock: time.clock, logger: { warn } });

    await authenticateTimes(1, key);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    await vi.waitFor(() => expect(warn).toHaveBeenCalledTimes(1));
    expect(warn.mock.calls[0]![0]).toMatchObject({ error: 'Error: recordUsage took longer than 20 ms' });

    // Three more intervals while the first write still holds the store: no write reaches it.
    await authenticateTimes(1, key);
    for (let interval = 0; interval < 3; interval++) await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(store.batches).toHaveLength(1);
    expect(warn.mock.calls[1]![0]).toMatchObject({ error: 'Error: the last recordUsage, given up on after 20 ms, has not settled yet' });

    store.hold = undefined;
    release();
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(store.batches).toHaveLength(2);
    expect(store.batches[1]).toEqual([{ id: keyId, lookup_id: lookupId, used_at: time.latest() }]);
  });

  it('coalesces the uses of one key to the latest time, even when the clock steps back between them', async () => {
    const store = new CountingStore();
    const { key, keyId, lookupId } = await issueKey({ store });
    const start = Date.UTC(2026, 0, 1);
    const times = [start + 50_000, start + 20_000];
    auth = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: INTERVAL, clock: () => new Date(times[0]!) });

    await authenticateTimes(1, key);
    times.shift();
    await authenticateTimes(1, key);
    await vi.advanceTimersByTimeAsync(INTERVAL);

    expect(store.batches).toEqual([[{ id: keyId, lookup_id: lookupId, used_at: new Date(start + 50_000) }]]);
  });

  it('retries a failed batch with its later time when an earlier one was noted meanwhile', async () => {
    const store = new CountingStore();
    const { key, keyId, lookupId } = await issueKey({ store });
    const start = Date.UTC(2026, 0, 1);
    let now = start + 100_000;
    auth = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: INTERVAL, clock: () => new Date(now), logger: { warn: () => {} } });

    store.failures = 1;
    await authenticateTimes(1, key);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    now = start + 90_000;
    await authenticateTimes(1, key);
    await vi.advanceTimersByTimeAsync(INTERVAL);

    expect(store.batches[1]).toEqual([{ id: keyId, lookup_id: lookupId, used_at: new Date(start + 100_000) }]);
    expect(store.allRows()[0]!.last_used_at).toEqual(new Date(start + 100_000));
  });

  it('always logs the uses close() could not write, even where failed flushes are sampled', async () => {
    const store = new CountingStore();
    const { key } = await issueKey({ store });
    const warn = vi.fn();
    const closing = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: 100, logger: { warn } });
    store.failures = Number.POSITIVE_INFINITY;

    await closing.authenticate(bearer(key));
    // Three failed flushes at 100 ms: one line, the next one due at the eleventh.
    for (let flush = 0; flush < 3; flush++) await vi.advanceTimersByTimeAsync(100);
    expect(warn).toHaveBeenCalledTimes(1);
    await closing.close();

    expect(store.batches).toHaveLength(4);
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn).toHaveBeenLastCalledWith(
      { event: 'keyward.usage_flush_failed', keys: 1, error: 'Error: connection reset by peer' },
      'keyward could not record last_used_at before closing; these uses are lost',
    );
  });

  it('close() waits for a write given up on that is still running, then writes what is pending', async () => {
    const store = new CountingStore();
    const { key, keyId, lookupId } = await issueKey({ store });
    let release = () => {};
    store.hold = new Promise((resolve) => (release = resolve));
    const time = steppingClock();
    const warn = vi.fn();
    const closing = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: INTERVAL, storeTimeoutMs: 200, clock: time.clock, logger: { warn } });

    await closing.authenticate(bearer(key));
    await vi.advanceTimersByTimeAsync(INTERVAL);
    await vi.waitFor(() => expect(warn).toHaveBeenCalledTimes(1), { timeout: 1_000 });
    await closing.authenticate(bearer(key));
    const closed = closing.close();
    store.hold = undefined;
    release();
    await closed;

    expect(store.batches).toHaveLength(2);
    expect(store.batches[1]).toEqual([{ id: keyId, lookup_id: lookupId, used_at: time.latest() }]);
    expect(store.allRows()[0]!.last_used_at).toEqual(time.latest());
  });

  it('logs no loss when a write that fails while close() waits for it is followed by a last attempt that succeeds', async () => {
    const store = new CountingStore();
    const { key, keyId, lookupId } = await issueKey({ store });
    let release = () => {};
    store.hold = new Promise((resolve) => (release = resolve));
    store.failures = 1;
    const time = steppingClock();
    const messages: string[] = [];
    const closing = createApiKeyAuth({
      store,
      argon2Pool: false,
      usageFlushIntervalMs: INTERVAL,
      clock: time.clock,
      logger: { warn: (_fields, message) => messages.push(message) },
    });

    await closing.authenticate(bearer(key));
    await vi.advanceTimersByTimeAsync(INTERVAL);
    const closed = closing.close();
    store.hold = undefined;
    release();
    await closed;

    expect(messages).toEqual(['keyward could not record last_used_at; it will retry on the next flush']);
    expect(store.batches).toEqual([
      [{ id: keyId, lookup_id: lookupId, used_at: time.latest() }],
      [{ id: keyId, lookup_id: lookupId, used_at: time.latest() }],
    ]);
    expect(store.allRows()[0]!.last_used_at).toEqual(time.latest());
  });

  it('puts a failed batch back without replacing a use of a later lookup id noted meanwhile', async () => {
    const batches: KeyUsage[][] = [];
    let fail = (_error: Error) => {};
    const store = {
      recordUsage: (usage: readonly KeyUsage[]) => {
        batches.push([...usage]);
        return batches.length === 1 ? new Promise<void>((_, reject) => (fail = reject)) : Promise.resolve();
      },
    } as unknown as MemoryKeyStore;
    const recorder = new UsageRecorder(store, INTERVAL, 10_000, completeLogger({ warn: () => {} }));
    try {
      // Around two regenerates: a late use of lookup id A, then B's, then C's.
      recorder.record('key_1', 'A', 1);
      recorder.record('key_1', 'B', 2);
      const first = recorder.flush();
      await vi.waitFor(() => expect(batches).toHaveLength(1));
      recorder.record('key_1', 'B', 3);
      recorder.record('key_1', 'C', 4);
      fail(new Error('connection reset by peer'));
      await first;
      await recorder.flush();

      // In calls of one use each: a key whose call failed is retried in smaller calls.
      expect(batches.slice(1).flat().map((use) => [use.lookup_id, use.used_at.getTime()])).toEqual([
        ['B', 3],
        ['C', 4],
      ]);
    } finally {
      await recorder.close();
    }
  });

  it('writes pending uses on close()', async () => {
    const store = new CountingStore();
    const { key, keyId, lookupId } = await issueKey({ store });
    const time = steppingClock();
    const closing = createApiKeyAuth({ store, argon2Pool: false, clock: time.clock });

    await closing.authenticate(bearer(key));
    expect(store.batches).toHaveLength(0);
    await closing.close();

    expect(store.batches).toEqual([[{ id: keyId, lookup_id: lookupId, used_at: time.latest() }]]);
    expect(store.allRows()[0]!.last_used_at).toEqual(time.latest());
  });

  it('records no use for refused requests', async () => {
    const store = new CountingStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const live = await manager.issue({ accountId: 'acct_live', environment: 'sandbox' });
    const suspended = await manager.issue({ accountId: 'acct_susp', environment: 'sandbox', status: 'suspended' });
    auth = createApiKeyAuth({ store, argon2Pool: false, usageFlushIntervalMs: INTERVAL });

    const refused = await Promise.all([
      auth.authenticate(bearer(wrongSecretOf(live.key))),
      auth.authenticate(bearer(suspended.key)),
      auth.authenticate(bearer(live.key), { keyType: 'voice_api' }),
      auth.authenticate(bearer(`${live.key.slice(0, -1)}!`)),
      auth.authenticate({ headers: {} }),
    ]);
    expect(refused.map((result) => (result.ok ? 200 : result.response.status))).toEqual([401, 403, 403, 401, 401]);

    await vi.advanceTimersByTimeAsync(INTERVAL);
    await auth.flushUsage();
    expect(store.batches).toHaveLength(0);
    expect(store.allRows().map((row) => row.last_used_at)).toEqual([null, null]);
  });
});
