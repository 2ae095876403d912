import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KeyStore, KeyUsage } from 'keyward';
import { completeLogger } from '../src/logger.js';
import { USAGE_BATCH_LIMIT } from '../src/usage-calls.js';
import { UsageRecorder } from '../src/usage-recorder.js';

const INTERVAL = 60_000;
const TIMEOUT = 2_000;

/**
 * A store that keeps every `recordUsage` call, counts the uses it wrote per key, and answers
 * each call as `answer` says: resolve (with what `answer` returns) or reject. Also notes the
 * most calls it ever had under way at once.
 */
class ScriptedStore {
  readonly calls: KeyUsage[][] = [];
  readonly written = new Map<string, number>();
  #running = 0;
  mostAtOnce = 0;
  answer: (usage: readonly KeyUsage[], call: number) => unknown = () => undefined;

  recordUsage = async (usage: readonly KeyUsage[]): Promise<unknown> => {
    this.calls.push([...usage]);
    this.mostAtOnce = Math.max(this.mostAtOnce, ++this.#running);
    try {
      // A turn of the event loop, so calls made at once would overlap.
      await new Promise((resolve) => setImmediate(resolve));
      const result = await this.answer(usage, this.calls.length);
      const deferred = deferredIds(result);
      for (const use of usage) {
        if (!deferred.has(use.id)) this.written.set(use.id, (this.written.get(use.id) ?? 0) + 1);
      }
      return result;
    } finally {
      this.#running--;
    }
  };
}

/** The ids a result defers, for counting: results of other shapes (and ones that throw) defer none. */
function deferredIds(result: unknown): Set<string> {
  try {
    const deferred = Object.hasOwn(result as object, 'deferred') ? (result as { deferred: unknown }).deferred : undefined;
    return new Set(Array.isArray(deferred) ? deferred.map((use: KeyUsage | null) => String(use?.id)) : []);
  } catch {
    return new Set();
  }
}

const idOf = (index: number) => `key_${String(index).padStart(5, '0')}`;
const idsOf = (calls: KeyUsage[][]) => calls.map((call) => call.map((use) => use.id));

let recorder: UsageRecorder | undefined;
afterEach(async () => {
  await recorder?.close();
  recorder = undefined;
});

/** A recorder over `store` with `keys` keys used, key_00000 first, each at time 1000 + index. */
function recorderWith(store: ScriptedStore, keys: number, warn = vi.fn()) {
  recorder = new UsageRecorder(store as unknown as KeyStore, INTERVAL, TIMEOUT, completeLogger({ warn }));
  for (let index = 0; index < keys; index++) recorder.record(idOf(index), `L${index}`, 1_000 + index);
  return { recorder, warn };
}

describe('usage flushes in bounded calls', () => {
  it(`writes a flush of 2,500 keys in calls of at most ${USAGE_BATCH_LIMIT} uses, one call at a time`, async () => {
    const store = new ScriptedStore();
    const { recorder } = recorderWith(store, 2_500);

    await recorder.flush();

    expect(store.calls.map((call) => call.length)).toEqual([1_000, 1_000, 500]);
    expect(store.mostAtOnce).toBe(1);
    expect(store.written.size).toBe(2_500);
  });

  it('keeps what the other calls wrote when one fails, and sends only the failed call again on the next flush', async () => {
    const store = new ScriptedStore();
    store.answer = (_usage, call) => {
      if (call === 2) throw new Error('canceling statement due to statement timeout');
    };
    const { recorder, warn } = recorderWith(store, 3_000);

    await recorder.flush();
    expect(store.calls.map((call) => call.length)).toEqual([1_000, 1_000, 1_000]);
    expect(store.written.size).toBe(2_000);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatchObject({ event: 'keyward.usage_flush_failed', keys: 1_000 });

    await recorder.flush();
    // The failed call's uses again, alone, in two calls of half its size.
    expect(store.calls.slice(3).map((call) => call.length)).toEqual([500, 500]);
    expect(idsOf(store.calls.slice(3)).flat()).toEqual(idsOf(store.calls)[1]);
    // Every key written once over both flushes: nothing written was sent again.
    expect(store.written.size).toBe(3_000);
    expect([...store.written.values()].every((count) => count === 1)).toBe(true);
  });

  it('sends the uses of a failed call together again once their retry is written', async () => {
    const store = new ScriptedStore();
    store.answer = (_usage, call) => {
      if (call === 1) throw new Error('connection reset by peer');
    };
    const { recorder } = recorderWith(store, 4);
    await recorder.flush();
    await recorder.flush();
    // The failed call's uses, retried in halves, both written.
    expect(store.calls.map((call) => call.length)).toEqual([4, 2, 2]);

    // The same keys used again: no longer held apart, they go in a single call.
    for (let index = 0; index < 4; index++) recorder.record(idOf(index), `L${index}`, 9_000 + index);
    await recorder.flush();
    expect(idsOf(store.calls.slice(3))).toEqual([[idOf(0), idOf(1), idOf(2), idOf(3)]]);
  });

  it('sends each key at most once per flush, with its latest time, while a failed call is retried', async () => {
    const store = new ScriptedStore();
    store.answer = (_usage, call) => {
      if (call === 1) throw new Error('connection reset by peer');
    };
    const { recorder } = recorderWith(store, 1_500);
    await recorder.flush();
    // Used again before the next flush, later: the retry carries that time, once per key.
    for (let index = 0; index < 1_500; index++) recorder.record(idOf(index), `L${index}`, 9_000 + index);
    await recorder.flush();

    const second = store.calls.slice(2).flat();
    expect(second).toHaveLength(1_500);
    expect(new Set(second.map((use) => use.id)).size).toBe(1_500);
    expect(second.every((use) => use.used_at.getTime() === 9_000 + Number(use.id.slice(4)))).toBe(true);
  });

  it('ends a flush at its second failed call, keeping the rest, tries the rest first on the next flush, and narrows the refused uses down until only they are held back', async () => {
    const store = new ScriptedStore();
    // Two uses the store refuses for good: any call with key_00000 or key_01000 in it fails.
    store.answer = (usage) => {
      if (usage.some((use) => use.id === idOf(0) || use.id === idOf(1_000))) throw new Error('refused by a trigger');
    };
    const { recorder, warn } = recorderWith(store, 5_000);

    await recorder.flush();
    expect(store.calls).toHaveLength(2);
    expect(store.written.size).toBe(0);
    expect(warn.mock.calls[0]![0]).toMatchObject({ keys: 5_000 });

    await recorder.flush();
    // The rest first, then the refused calls' uses in halves, until the second failure.
    expect(store.calls.slice(2).map((call) => [call[0]!.id, call.length])).toEqual([
      [idOf(2_000), 1_000],
      [idOf(3_000), 1_000],
      [idOf(4_000), 1_000],
      [idOf(0), 500],
      [idOf(500), 500],
      [idOf(1_000), 500],
    ]);
    expect(store.written.size).toBe(3_500);

    // Ten more flushes halve the calls down to the two refused uses alone.
    for (let flush = 0; flush < 10; flush++) await recorder.flush();
    expect(store.written.size).toBe(4_998);
    expect(store.written.has(idOf(0)) || store.written.has(idOf(1_000))).toBe(false);
    const lastFlush = warn.mock.calls.at(-1)![0] as { keys: number };
    expect(lastFlush.keys).toBe(2);
  });

  it('makes no other call after one given up on at the write timeout, until that one settles', async () => {
    const store = new ScriptedStore();
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    store.answer = (_usage, call) => (call === 1 ? held : undefined);
    const warn = vi.fn();
    recorder = new UsageRecorder(store as unknown as KeyStore, INTERVAL, 50, completeLogger({ warn }));
    for (let index = 0; index < 2_500; index++) recorder.record(idOf(index), `L${index}`, 1_000 + index);

    await recorder.flush();
    expect(store.calls).toHaveLength(1);
    expect(warn.mock.calls[0]![0]).toMatchObject({ keys: 2_500, error: 'Error: recordUsage took longer than 50 ms' });

    release();
    await vi.waitFor(() => expect(store.written.size).toBe(1_000));
    await recorder.flush();
    expect(store.calls.slice(1).map((call) => call.length)).toEqual([1_000, 1_000, 500]);
    expect(store.written.size).toBe(2_500);
  });

  it('close() makes its last attempt in bounded calls and logs as lost only the uses of the call that failed', async () => {
    const store = new ScriptedStore();
    store.answer = (_usage, call) => {
      if (call === 2) throw new Error('connection reset by peer');
    };
    const { recorder, warn } = recorderWith(store, 2_500);

    await recorder.close();

    expect(store.calls.map((call) => call.length)).toEqual([1_000, 1_000, 500]);
    expect(store.written.size).toBe(1_500);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(
      { event: 'keyward.usage_flush_failed', keys: 1_000, error: 'Error: connection reset by peer' },
      'keyward could not record last_used_at before closing; these uses are lost',
    );
  });
});

describe('uses a store defers', () => {
  it('sends them again with the next flush, alone, and logs nothing', async () => {
    const store = new ScriptedStore();
    store.answer = (usage, call) => (call === 1 ? { deferred: usage.filter((use) => use.id === idOf(1)) } : undefined);
    const { recorder, warn } = recorderWith(store, 3);

    await recorder.flush();
    expect(store.written.size).toBe(2);
    await recorder.flush();

    expect(idsOf(store.calls)).toEqual([[idOf(0), idOf(1), idOf(2)], [idOf(1)]]);
    expect(store.calls[1]![0]!.used_at).toEqual(new Date(1_001));
    expect([...store.written.values()].every((count) => count === 1)).toBe(true);
    expect(warn).not.toHaveBeenCalled();
  });

  it('logs once a row has kept its use deferred through every flush for ten minutes, then each ten minutes, and stops when it is written', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const store = new ScriptedStore();
      let locked = true;
      store.answer = (usage) => (locked ? { deferred: usage.filter((use) => use.id === idOf(1)) } : undefined);
      const { recorder, warn } = recorderWith(store, 3);
      const flushAfter = async (ms: number) => {
        vi.setSystemTime(Date.now() + ms);
        await recorder.flush();
      };

      await recorder.flush();
      for (let minute = 1; minute < 10; minute++) await flushAfter(60_000);
      expect(warn).not.toHaveBeenCalled();

      await flushAfter(60_000);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]).toEqual([
        { event: 'keyward.usage_deferred', keys: 1, minutes: 10 },
        'keyward could not record last_used_at for 1 keys: another transaction has held their rows locked through every flush for 10 minutes; it keeps retrying',
      ]);
      for (let minute = 11; minute < 20; minute++) await flushAfter(60_000);
      expect(warn).toHaveBeenCalledTimes(1);
      await flushAfter(60_000);
      expect(warn).toHaveBeenCalledTimes(2);

      locked = false;
      await flushAfter(60_000);
      expect(store.written.get(idOf(1))).toBe(1);
      // A new streak starts from nothing: ten more minutes before another line.
      locked = true;
      recorder.record(idOf(1), 'L1', 99_000);
      for (let minute = 0; minute < 9; minute++) await flushAfter(60_000);
      expect(warn).toHaveBeenCalledTimes(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('takes only an own deferred array of uses of the batch: any other result means all were written', async () => {
    const results: unknown[] = [
      undefined,
      { rows: [{ id: idOf(0), lookup_id: 'L0' }], rowCount: 1 },
      [{ id: idOf(0), lookup_id: 'L0' }],
      { deferred: `${idOf(0)}` },
      { deferred: [null, 7, { id: idOf(0) }, { id: idOf(0), lookup_id: 'L1' }, { id: 'key_other', lookup_id: 'L0' }] },
      Object.create({ deferred: [{ id: idOf(0), lookup_id: 'L0' }] }),
      Object.defineProperty({}, 'deferred', { get: () => { throw new Error('no reading'); } }),
    ];
    for (const [index, result] of results.entries()) {
      const store = new ScriptedStore();
      store.answer = () => result;
      const { recorder } = recorderWith(store, 2);
      await recorder.flush();
      await recorder.flush();
      expect(store.calls, `result ${index}`).toHaveLength(1);
      await recorder.close();
    }
  });

  it('keeps a deferred use behind a later lookup id noted meanwhile, sending both', async () => {
    const store = new ScriptedStore();
    let noteRegenerated = () => {};
    store.answer = (usage, call) => {
      if (call !== 1) return undefined;
      noteRegenerated();
      return { deferred: usage };
    };
    const { recorder } = recorderWith(store, 1);
    noteRegenerated = () => recorder.record(idOf(0), 'Lnew', 5_000);

    await recorder.flush();
    await recorder.flush();

    expect(store.calls[1]!.map((use) => [use.lookup_id, use.used_at.getTime()])).toEqual([
      ['Lnew', 5_000],
      ['L0', 1_000],
    ]);
  });

  it('counts the uses the last attempt of close() leaves deferred as lost, and logs them', async () => {
    const store = new ScriptedStore();
    store.answer = (usage) => ({ deferred: usage.slice(0, 2) });
    const { recorder, warn } = recorderWith(store, 5);

    await recorder.close();

    expect(warn).toHaveBeenCalledWith(
      { event: 'keyward.usage_flush_failed', keys: 2, error: 'Error: the store deferred 2 uses, their rows held by another write' },
      'keyward could not record last_used_at before closing; these uses are lost',
    );
  });
});
