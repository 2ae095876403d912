/**
 * Who hears about a decision: passes and refusals go to the logger's debug level and to the
 * onDecision hook, faults always go to the error level (once a second per reason). With
 * neither a debug level nor a hook, passes and refusals are not built at all, which must
 * change nothing anyone can observe. The logger is read when keyward writes, so a level
 * changed at runtime applies at once.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { checksumOf, createApiKeyAuth, createKeyManager, MemoryKeyStore, type ApiKeyAuth, type AuthDecision, type LogFields } from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { bearer } from './helpers/keys.js';

async function storeWithKey() {
  const store = new MemoryKeyStore();
  const issued = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_1', environment: 'production' });
  return { store, key: issued.key, keyId: issued.card.keyId, lookupId: issued.key.slice(8, 20) };
}

type Line = [level: string, fields: LogFields, message: string];

/** Authenticates the key once, expects it to pass, and closes the authenticator. */
async function passOnceThenClose(auth: ApiKeyAuth, key: string): Promise<void> {
  try {
    const result = await auth.authenticate({ headers: bearer(key) });
    expect(result.ok).toBe(true);
  } finally {
    await auth.close();
  }
}

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

  it('withholds the key, escapes line breaks and cuts the detail when a store\'s error quotes the request', async () => {
    // An app's store that puts the Authorization header in its error message must not have
    // keyward write the key, a forged log line or 200 KB into the logs and the hook.
    const { store, key } = await storeWithKey();
    const lines: Line[] = [];
    const decisions: AuthDecision[] = [];
    const auth = createApiKeyAuth({
      store,
      logger: { error: (fields, message) => void lines.push(['error', fields, message]) },
      onDecision: (decision) => void decisions.push(decision),
    });
    store.findByLookupId = () => {
      throw new Error(`lookup failed for Bearer ${key} and ${key.slice(8)}\nFAKE level=error \u001b[31m${'x'.repeat(200_000)}`);
    };
    try {
      const result = await auth.authenticate({ headers: bearer(key) });
      expect(result.ok === false && result.response.status).toBe(503);
    } finally {
      await auth.close();
    }
    // Cut short: the run of x the cut went through is dropped whole, as it could have been a key's.
    expect(lines[0]![1].detail).toBe('Error: lookup failed for Bearer sk_live_… and …\\u000aFAKE level=error \\u001b[…');
    expect(decisions[0]!.detail).toBe(lines[0]![1].detail);
    expect(JSON.stringify(lines)).not.toContain(key.slice(20, 36));
  });

  it('calls a debug method added to the logger after the authenticator was created', async () => {
    const { store, key } = await storeWithKey();
    // A logger needs one level method when it is passed; the others are looked up per line.
    const logger: { debug?: (fields: LogFields, message: string) => void; error: () => void } = { error: () => {} };
    const auth = createApiKeyAuth({ store, logger });
    const late: string[] = [];
    logger.debug = (_fields, message) => void late.push(message);
    await passOnceThenClose(auth, key);
    expect(late).toEqual(['keyward: authenticated']);
  });

  it('accepts a logger that is a function with level methods', async () => {
    const { store, key } = await storeWithKey();
    const messages: string[] = [];
    const logger = Object.assign(() => {}, { debug: (_fields: LogFields, message: string) => void messages.push(message) });
    const auth = createApiKeyAuth({ store, logger });
    await passOnceThenClose(auth, key);
    expect(messages).toEqual(['keyward: authenticated']);
  });

  it('says what requests get while the store fails, and that the lookup id named is only the one sampled', async () => {
    const { store, key, lookupId } = await storeWithKey();
    const errors: string[] = [];
    const failing = createApiKeyAuth({ store, argon2Pool: false, logger: { error: (_fields: LogFields, message: string) => errors.push(message) } });
    store.findByLookupId = () => Promise.reject(new Error('connection refused'));
    try {
      await failing.authenticate({ headers: bearer(key) });
    } finally {
      await failing.close();
    }
    const hanging = createApiKeyAuth({ store, argon2Pool: false, storeTimeoutMs: 10, logger: { error: (_fields: LogFields, message: string) => errors.push(message) } });
    store.findByLookupId = () => new Promise(() => {});
    try {
      await hanging.authenticate({ headers: bearer(key) });
    } finally {
      await hanging.close();
    }

    expect(errors).toEqual([
      `keyward: store error for lookup id ${lookupId} (Error: connection refused): the store could not give this row; while it fails, requests that need it get 503 with Retry-After (a line a second names whichever lookup id it sampled)`,
      `keyward: store timeout for lookup id ${lookupId} (Error: findByLookupId did not answer within 10 ms): the store did not answer in storeTimeoutMs; while it is slow, requests that need it get 503 with Retry-After (a line a second names whichever lookup id it sampled)`,
    ]);
  });

  it('follows a pino level changed at runtime, from silent to error and from info to debug', async () => {
    const { store, key } = await storeWithKey();
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'silent' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const auth = createApiKeyAuth({ store, logger });
    try {
      await auth.authenticate({ headers: bearer(key) });
      logger.level = 'error';
      store.findByLookupId = () => {
        throw new Error('connection refused');
      };
      await auth.authenticate({ headers: bearer(key) });
      expect(lines.map((line) => [line.level, line.msg])).toEqual([[50, expect.stringContaining('keyward: store error')]]);
    } finally {
      await auth.close();
    }

    const second = await storeWithKey();
    lines.length = 0;
    const infoLogger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const auth2 = createApiKeyAuth({ store: second.store, logger: infoLogger });
    try {
      await auth2.authenticate({ headers: bearer(second.key) });
      expect(lines).toEqual([]);
      infoLogger.level = 'debug';
      await auth2.authenticate({ headers: bearer(second.key) });
    } finally {
      await auth2.close();
    }
    expect(lines.map((line) => [line.level, line.msg])).toEqual([[20, 'keyward: authenticated']]);
  });

  it('does not build passes for a logger that says its debug level is off', async () => {
    const { store, key } = await storeWithKey();
    const asked: string[] = [];
    const logger = {
      isLevelEnabled: (level: string) => (asked.push(level), false),
      debug: () => {
        throw new Error('debug must not be called while it is off');
      },
    };
    const auth = createApiKeyAuth({ store, logger });
    await passOnceThenClose(auth, key);
    expect(asked).toEqual(['debug']);
  });

  it('logs one error line a second for forged keys aimed at a row whose hash is corrupt', async () => {
    const { store, key, lookupId } = await storeWithKey();
    const row = store.allRows()[0]!;
    await store.modify(row.id, () => ({ key_hash: '$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA' }));
    const lines: Line[] = [];
    const auth = createApiKeyAuth({ store, logger: { error: (fields, message) => void lines.push(['error', fields, message]) } });
    const statuses: number[] = [];
    try {
      for (let i = 0; i < 30; i++) {
        const head = key.slice(0, 20) + String(i).padStart(32, 'Q');
        const result = await auth.authenticate({ headers: bearer(head + checksumOf(head)), remoteAddress: '192.0.2.9' });
        statuses.push(result.ok ? 200 : result.response.status);
      }
    } finally {
      await auth.close();
    }
    expect(new Set(statuses)).toEqual(new Set([500]));
    // The fault once, then (written by close()) how many lines were held back.
    expect(lines).toHaveLength(2);
    expect(lines[0]![1]).toMatchObject({ outcome: 'fault', status: 500, reason: 'stored_hash_unparseable', lookupId });
    expect(lines[1]![1]).toMatchObject({ event: 'keyward.log_held_back', skipped: 29 });
  });

  it('tells an operator with an error-and-warn logger about a status keyward does not know', async () => {
    const { store, key, keyId, lookupId } = await storeWithKey();
    await store.modify(keyId, () => ({ status: 'Active' }));
    const lines: Line[] = [];
    const logger = {
      warn: (fields: LogFields, message: string) => void lines.push(['warn', fields, message]),
      error: (fields: LogFields, message: string) => void lines.push(['error', fields, message]),
    };
    const auth = createApiKeyAuth({ store, logger });
    try {
      for (let i = 0; i < 3; i++) {
        const result = await auth.authenticate({ headers: bearer(key) });
        expect(result.ok === false && result.response.status).toBe(403);
      }
    } finally {
      await auth.close();
    }
    expect(lines).toEqual([
      [
        'warn',
        { event: 'keyward.unknown_status', keyId, accountId: 'acct_1', lookupId, environment: 'production', storedStatus: 'Active' },
        `keyward: key ${keyId} has a status keyward does not know; refused with 403`,
      ],
      [
        'warn',
        { event: 'keyward.log_held_back', kind: `unknown_status:${keyId}`, skipped: 2 },
        `keyward: 2 more "unknown_status:${keyId}" lines in the last second were not logged`,
      ],
    ]);
  });
});
