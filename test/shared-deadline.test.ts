import { describe, expect, it, vi } from 'vitest';
import { raceWithin, SharedDeadline, TIMED_OUT } from '../src/shared-deadline.js';

const never = () => new Promise<never>(() => {});
const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(resolve, ms, value));
const refTimers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;

describe('SharedDeadline', () => {
  it('passes through what the work resolves to in time, values and non-promises alike', async () => {
    const deadline = new SharedDeadline(1_000);
    await expect(deadline.race(Promise.resolve('row'))).resolves.toBe('row');
    await expect(deadline.race(null)).resolves.toBeNull();
  });

  it('rejects with the work\'s own error when it rejects in time', async () => {
    const deadline = new SharedDeadline(1_000);
    const error = new Error('store down');
    await expect(deadline.race(Promise.reject(error))).rejects.toBe(error);
  });

  it('answers TIMED_OUT for work that never settles, each wait after its own timeout', async () => {
    const deadline = new SharedDeadline(30);
    const first = deadline.race(never());
    await later(15, undefined);
    const second = deadline.race(never());
    const fast = deadline.race(later(5, 'fast'));
    expect(await first).toBe(TIMED_OUT);
    // The second wait started 15 ms later and is still running when the first one expires.
    const pending = Symbol('pending');
    expect(await Promise.race([second, Promise.resolve(pending)])).toBe(pending);
    expect(await second).toBe(TIMED_OUT);
    expect(await fast).toBe('fast');
  });

  it('swallows a rejection that arrives after the timeout', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const deadline = new SharedDeadline(10);
      const work = later(40, undefined).then(() => Promise.reject(new Error('late')));
      expect(await deadline.race(work)).toBe(TIMED_OUT);
      await later(60, undefined);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('holds the process open only while a wait is unsettled', async () => {
    const before = refTimers();
    const deadline = new SharedDeadline(5_000);
    let finish!: (value: string) => void;
    const waiting = deadline.race(new Promise<string>((resolve) => (finish = resolve)));
    expect(refTimers()).toBe(before + 1);
    finish('done');
    expect(await waiting).toBe('done');
    expect(refTimers()).toBe(before);
    // Many waits in flight still share one timer.
    const many = Array.from({ length: 100 }, (_, i) => deadline.race(Promise.resolve(i)));
    expect(refTimers()).toBe(before + 1);
    expect(await Promise.all(many)).toHaveLength(100);
    expect(refTimers()).toBe(before);
  });
});

describe('raceWithin', () => {
  it('gives the value of work that settles in time, and TIMED_OUT for work that does not', async () => {
    expect(await raceWithin(Promise.resolve('row'), 50)).toBe('row');
    expect(await raceWithin(new Promise(() => {}), 10)).toBe(TIMED_OUT);
  });

  it('times out at once when no time is left, and swallows a rejection that comes after', async () => {
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const late = new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 5));
      expect(await raceWithin(late, -3)).toBe(TIMED_OUT);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});
