import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AuthDecision } from 'keyward';
import { createDecisionLog } from '../../examples/demo/decision-log.js';

const forged: AuthDecision = { outcome: 'refused', status: 429, reason: 'too_many_attempts', lookupId: 'AbCdEfGhIjKl' };
const allowed: AuthDecision = { outcome: 'allowed', status: 200, reason: 'authenticated', keyId: 'key_demo' };
const FORGED_LINE = 'auth refused 429 too_many_attempts lookup=AbCdEfGhIjKl';

describe('the demo decision log', () => {
  // The fake timers drive Date.now too, so the injected clock and the summary timer agree.
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  const createLog = (lines: string[]) => createDecisionLog((line) => lines.push(line), 3, () => Date.now());

  it('counts by a monotonic clock by default, so a step back of the wall clock holds nothing back', () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    const lines: string[] = [];
    const log = createDecisionLog((line) => lines.push(line), 3);
    for (let i = 0; i < 3; i++) log(forged);
    vi.setSystemTime(Date.now() - 3_600_000);
    vi.advanceTimersByTime(1_000);
    log(forged);
    expect(lines).toEqual([FORGED_LINE, FORGED_LINE, FORGED_LINE, FORGED_LINE]);
  });

  it('writes at most three lines of a kind per second and counts the rest on the next line', () => {
    const lines: string[] = [];
    const log = createLog(lines);

    for (let i = 0; i < 25; i++) log(forged);
    log(allowed);
    vi.setSystemTime(Date.now() + 1_000);
    log(forged);

    expect(lines).toEqual([
      FORGED_LINE,
      FORGED_LINE,
      FORGED_LINE,
      'auth allowed 200 authenticated key=key_demo',
      `${FORGED_LINE} (22 more like it held back)`,
    ]);
  });

  it('lets no more than three lines of a kind through in any 1,000 ms, across a second boundary too', () => {
    const lines: string[] = [];
    const log = createLog(lines);

    vi.setSystemTime(1_000_999);
    for (let i = 0; i < 3; i++) log(forged);
    vi.setSystemTime(1_001_000);
    for (let i = 0; i < 3; i++) log(forged);
    vi.setSystemTime(1_001_998);
    log(forged);
    expect(lines).toEqual([FORGED_LINE, FORGED_LINE, FORGED_LINE]);

    vi.setSystemTime(1_001_999);
    log(forged);
    expect(lines.slice(3)).toEqual([`${FORGED_LINE} (4 more like it held back)`]);
  });

  it('writes the count held back at the end of a flood on its own line once there is room, and only once', () => {
    const lines: string[] = [];
    const log = createLog(lines);

    for (let i = 0; i < 25; i++) log(forged);
    vi.advanceTimersByTime(999);
    expect(lines).toHaveLength(3);

    vi.advanceTimersByTime(1);
    expect(lines.slice(3)).toEqual(['auth refused 429 too_many_attempts (22 more like it held back)']);
    expect(vi.getTimerCount()).toBe(0);

    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(4);
  });

  it('counts a summary line against the limit, and writes none when a later line has carried the count', () => {
    const lines: string[] = [];
    const log = createLog(lines);

    for (let i = 0; i < 5; i++) log(forged);
    vi.advanceTimersByTime(1_000);
    expect(lines.slice(3)).toEqual(['auth refused 429 too_many_attempts (2 more like it held back)']);

    for (let i = 0; i < 5; i++) log(forged);
    expect(lines.slice(4)).toEqual([FORGED_LINE, FORGED_LINE]);
    vi.setSystemTime(Date.now() + 1_000);
    log(forged);
    vi.advanceTimersByTime(10_000);

    expect(lines.slice(6)).toEqual([`${FORGED_LINE} (3 more like it held back)`]);
  });

  it('keeps at most one pending summary per kind, unref\'d so it never holds the process open', () => {
    const lines: string[] = [];
    const log = createLog(lines);
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');

    for (let i = 0; i < 1_000; i++) log(forged);
    for (let i = 0; i < 1_000; i++) log(allowed);

    expect(vi.getTimerCount()).toBe(2);
    expect(setTimeoutSpy.mock.results.map((result) => (result.value as NodeJS.Timeout).hasRef())).toEqual([false, false]);
    setTimeoutSpy.mockRestore();
  });
});
