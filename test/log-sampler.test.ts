import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApiKeyAuth, generateApiKey } from 'keyward';
import { LogSampler } from '../src/log-sampler.js';
import { CaptureLogger } from './helpers/capture-logger.js';
import { InstrumentedStore } from './helpers/stores.js';

describe('LogSampler', () => {
  afterEach(() => vi.useRealTimers());

  it('lets one line per key through per second and reports how many it held back once the second is over', () => {
    vi.useFakeTimers();
    const reported: [string, number][] = [];
    const sampler = new LogSampler(1_000, (key, skipped) => void reported.push([key, skipped]));
    expect(sampler.admit('store_error')).toBe(true);
    expect(sampler.admit('store_error')).toBe(false);
    expect(sampler.admit('store_error')).toBe(false);
    expect(sampler.admit('overloaded')).toBe(true);
    vi.advanceTimersByTime(999);
    expect(reported).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(reported).toEqual([['store_error', 2]]);
    expect(sampler.admit('store_error')).toBe(true);
  });

  it('opens a new window after a second even when the wall clock was stepped back', () => {
    vi.useFakeTimers({ now: Date.parse('2026-06-01T12:00:00Z') });
    const sampler = new LogSampler(1_000, () => {});
    expect(sampler.admit('store_error')).toBe(true);
    vi.setSystemTime(Date.parse('2026-06-01T11:50:00Z'));
    vi.advanceTimersByTime(1_000);
    expect(sampler.admit('store_error')).toBe(true);
  });

  it('reports what it still holds back when flushed', () => {
    vi.useFakeTimers();
    const reported: [string, number][] = [];
    const sampler = new LogSampler(1_000, (key, skipped) => void reported.push([key, skipped]));
    sampler.admit('a');
    sampler.admit('a');
    sampler.admit('b');
    sampler.flush();
    expect(reported).toEqual([['a', 1]]);
    vi.advanceTimersByTime(5_000);
    expect(reported).toEqual([['a', 1]]);
  });
});

describe('fault logging during an outage', () => {
  it('logs a failing store once a second while the hook still sees every decision', async () => {
    const store = new InstrumentedStore();
    store.failure = new Error('ECONNREFUSED');
    const logger = new CaptureLogger();
    const reasons: string[] = [];
    const auth = createApiKeyAuth({ store, logger, onDecision: (decision) => reasons.push(decision.reason) });
    try {
      const request = { headers: { authorization: `Bearer ${generateApiKey('sandbox').key}` } };
      for (let i = 0; i < 50; i++) {
        const result = await auth.authenticate(request);
        expect(result.ok ? 200 : result.response.status).toBe(503);
      }
      expect(reasons).toEqual(Array(50).fill('store_error'));
      const errors = logger.entries.filter((entry) => entry.level === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]!.fields).toMatchObject({ event: 'keyward.auth', reason: 'store_error' });
    } finally {
      await auth.close();
    }
    // close() writes the count of the lines it held back.
    const errors = logger.entries.filter((entry) => entry.level === 'error');
    expect(errors.map((entry) => entry.fields)).toEqual([
      expect.objectContaining({ reason: 'store_error' }),
      { event: 'keyward.log_held_back', kind: 'store_error', skipped: 49 },
    ]);
  });

  it('writes the held-back count once the second is over, without waiting for the next fault', async () => {
    const store = new InstrumentedStore();
    store.failure = new Error('ECONNREFUSED');
    const logger = new CaptureLogger();
    const auth = createApiKeyAuth({ store, logger });
    try {
      const request = { headers: { authorization: `Bearer ${generateApiKey('sandbox').key}` } };
      for (let i = 0; i < 20; i++) await auth.authenticate(request);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const errors = logger.entries.filter((entry) => entry.level === 'error');
      expect(errors.map((entry) => entry.message)).toEqual([
        expect.stringContaining('store error'),
        'keyward: 19 more "store_error" lines in the last second were not logged',
      ]);
    } finally {
      await auth.close();
    }
  });

  it('logs a failing onDecision hook once a second, however many requests it fails on', async () => {
    const logger = new CaptureLogger();
    const auth = createApiKeyAuth({
      store: new InstrumentedStore(),
      logger,
      onDecision: (decision) => void decision.keyId!.length,
    });
    try {
      for (let i = 0; i < 200; i++) await auth.authenticate({ headers: { authorization: 'Bearer not-a-key' } });
      expect(logger.entries.filter((entry) => entry.fields.event === 'keyward.hook_failed')).toHaveLength(1);
    } finally {
      await auth.close();
    }
    expect(logger.entries.at(-1)!.fields).toEqual({ event: 'keyward.log_held_back', kind: 'hook_failed', skipped: 199 });
  });

  it('logs a store that answers unknown lookup ids with a non-row once a second, not once per forged lookup id', async () => {
    const store = new InstrumentedStore();
    store.findByLookupId = () => [] as never;
    const logger = new CaptureLogger();
    const auth = createApiKeyAuth({ store, logger });
    try {
      for (let i = 0; i < 100; i++) {
        const result = await auth.authenticate({ headers: { authorization: `Bearer ${generateApiKey('production').key}` } });
        expect(result.ok ? 200 : result.response.status).toBe(500);
      }
      const errors = logger.entries.filter((entry) => entry.level === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]!.fields).toMatchObject({ reason: 'stored_row_invalid', detail: 'bad_lifecycle_fields' });
    } finally {
      await auth.close();
    }
  });
});
