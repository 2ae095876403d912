/**
 * Who hears about a decision: passes and refusals go to the logger's debug level and to the
 * onDecision hook, faults always go to the error level. With neither a debug level nor a hook,
 * passes and refusals are not built at all, which must change nothing anyone can observe.
 */
import { describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore, type AuthDecision, type LogFields } from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { bearer } from './helpers/keys.js';

async function storeWithKey() {
  const store = new MemoryKeyStore();
  const issued = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_1', environment: 'production' });
  return { store, key: issued.key, keyId: issued.card.keyId, lookupId: issued.key.slice(8, 20) };
}

type Line = [level: string, fields: LogFields, message: string];

describe('decision reporting', () => {
  it('logs a pass and a refusal at debug to a logger that has only a debug level', async () => {
    const { store, key, keyId, lookupId } = await storeWithKey();
    const lines: Line[] = [];
    const auth = createApiKeyAuth({ store, logger: { debug: (fields, message) => void lines.push(['debug', fields, message]) } });
    try {
      await auth.authenticate({ headers: bearer(key) });
      await auth.authenticate({ headers: bearer('sk_live_short') });
    } finally {
      await auth.close();
    }
    expect(lines).toEqual([
      [
        'debug',
        { event: 'keyward.auth', outcome: 'allowed', status: 200, reason: 'authenticated', keyId, accountId: 'acct_1', lookupId, environment: 'production' },
        'keyward: authenticated',
      ],
      ['debug', { event: 'keyward.auth', outcome: 'refused', status: 401, code: 'ERR_API_KEY_INVALID', reason: 'bad_length' }, 'keyward: bad_length'],
    ]);
  });

  it('hands every pass and refusal to an onDecision hook when there is no logger', async () => {
    const { store, key, keyId, lookupId } = await storeWithKey();
    const decisions: AuthDecision[] = [];
    const auth = createApiKeyAuth({ store, onDecision: (decision) => void decisions.push(decision) });
    try {
      await auth.authenticate({ headers: bearer(key) });
      await auth.authenticate({ headers: {} });
    } finally {
      await auth.close();
    }
    expect(decisions).toEqual([
      { outcome: 'allowed', status: 200, reason: 'authenticated', keyId, accountId: 'acct_1', lookupId, environment: 'production' },
      { outcome: 'refused', status: 401, code: 'ERR_API_KEY_MISSING', reason: 'missing' },
    ]);
  });

  it('logs a fault at error to a logger that has only an error level, and nothing for a pass', async () => {
    const { store, key, lookupId } = await storeWithKey();
    const lines: Line[] = [];
    const auth = createApiKeyAuth({ store, logger: { error: (fields, message) => void lines.push(['error', fields, message]) } });
    try {
      await auth.authenticate({ headers: bearer(key) });
      expect(lines).toEqual([]);
      store.findByLookupId = () => {
        throw new Error('connection refused');
      };
      const result = await auth.authenticate({ headers: bearer(key) });
      expect(result.ok === false && result.response.status).toBe(503);
    } finally {
      await auth.close();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]![1]).toMatchObject({ event: 'keyward.auth', outcome: 'fault', status: 503, reason: 'store_error', lookupId });
  });

  it('does not call a debug method added to the logger after the authenticator was created', async () => {
    const { store, key } = await storeWithKey();
    const logger: { debug?: (fields: LogFields, message: string) => void } = {};
    const auth = createApiKeyAuth({ store, logger });
    const late: string[] = [];
    logger.debug = (_fields, message) => void late.push(message);
    try {
      const result = await auth.authenticate({ headers: bearer(key) });
      expect(result.ok).toBe(true);
    } finally {
      await auth.close();
    }
    expect(late).toEqual([]);
  });
});
