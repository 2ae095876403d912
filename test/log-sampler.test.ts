import { describe, expect, it } from 'vitest';
import { createApiKeyAuth, generateApiKey } from 'keyward';
import { LogSampler } from '../src/log-sampler.js';
import { CaptureLogger } from './helpers/capture-logger.js';
import { InstrumentedStore } from './helpers/stores.js';

describe('LogSampler', () => {
  it('lets one line per key through per interval and reports how many it held back', () => {
    let now = 0;
    const sampler = new LogSampler(1_000, () => now);
    expect(sampler.admit('store_error')).toBe(0);
    expect(sampler.admit('store_error')).toBeUndefined();
    expect(sampler.admit('store_error')).toBeUndefined();
    expect(sampler.admit('overloaded')).toBe(0);
    now = 1_000;
    expect(sampler.admit('store_error')).toBe(2);
    expect(sampler.admit('store_error')).toBeUndefined();
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
  });
});
