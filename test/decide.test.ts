/**
 * decide(): the authenticator's decision, given as it is when it needed no waiting and as a
 * promise when it did. The adapters rely on which of the two they get.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, hashSecret, MemoryKeyStore, type ApiKeyAuth, type ApiKeyRow, type AuthDecision, type AuthResult } from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { bearer, forgeSecret } from './helpers/keys.js';
import { InstrumentedStore } from './helpers/stores.js';

describe('decide()', () => {
  const store = new MemoryKeyStore();
  let auth: ApiKeyAuth;
  let key: string;
  let keyId: string;

  beforeAll(async () => {
    const issued = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_decide', environment: 'sandbox' });
    key = issued.key;
    keyId = issued.card.keyId;
    auth = createApiKeyAuth({ store, environments: ['sandbox'] });
  });
  afterAll(() => auth.close());

  const request = (presented: string) => ({ headers: bearer(presented) });

  /**
   * Asks decide() and authenticate() of a fresh authenticator, checks both answered 500
   * ERR_INTERNAL (never a pass), and gives the first line it logged at error.
   */
  async function internalErrorLogged(given: unknown, requirement?: unknown): Promise<string | undefined> {
    const errors: string[] = [];
    const strict = createApiKeyAuth({ store, environments: ['sandbox'], logger: { error: (_fields, message) => void errors.push(message) } });
    try {
      for (const result of [strict.decide(given as never, requirement as never), strict.authenticate(given as never, requirement as never)]) {
        const refused = (await result) as AuthResult & { ok: false };
        expect([refused.ok, refused.response.status, refused.error.code]).toEqual([false, 500, 'ERR_INTERNAL']);
      }
      return errors[0];
    } finally {
      await strict.close();
    }
  }

  it('gives a key that needs an Argon2 run as a promise of the result', async () => {
    const decided = auth.decide(request(key));
    expect(decided).toBeInstanceOf(Promise);
    expect(((await decided) as AuthResult & { ok: true }).context.keyId).toBe(keyId);
  });

  it('gives a memo hit on a store that answers at once as the result itself', async () => {
    await auth.authenticate(request(key));
    const decided = auth.decide(request(key));
    expect(decided).not.toBeInstanceOf(Promise);
    expect(decided).toEqual({
      ok: true,
      context: { keyId, accountId: 'acct_decide', keyType: 'sms_api', environment: 'sandbox' },
    });
  });

  it('gives a malformed key and a missing one their refusals as the result itself', () => {
    const malformed = auth.decide(request(`${key}x`)) as AuthResult & { ok: false };
    const missing = auth.decide({ headers: {} }) as AuthResult & { ok: false };
    expect([malformed.response.status, malformed.error.code]).toEqual([401, 'ERR_API_KEY_INVALID']);
    expect([missing.response.status, missing.error.code]).toEqual([401, 'ERR_API_KEY_MISSING']);
  });

  it.each<[string, unknown]>([
    ['a bare string', 'reporting'],
    ['a misspelt field', { keytype: 'reporting' }],
    ['the column name', { key_type: 'reporting' }],
    ['an array', ['reporting']],
    ['an empty key type', { keyType: '' }],
    ['a key type that is not a string', { keyType: 7 }],
    ['null', null],
    ['an object whose misspelt field is inherited', Object.create({ keytype: 'reporting' })],
    ['a class instance with a misspelt getter', new (class { get keytype() { return 'reporting'; } })()],
    ['an object with a hidden misspelt field', Object.defineProperty({}, 'keytype', { value: 'reporting', enumerable: false })],
    ['an object with a symbol-named field', { [Symbol('keyType')]: 'reporting' }],
    ['a Proxy whose traps throw', new Proxy({}, { ownKeys: () => { throw new Error('trap'); } })],
  ])('answers 500, never a pass, when the route requirement is %s, and logs why', async (_name, requirement) => {
    expect(await internalErrorLogged(request(key), requirement)).toContain('the route requirement');
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a string', 'Bearer sk_test_x'],
    ['an object whose headers are text', { headers: 'authorization: Bearer x' }],
    ['an object whose headers are a number', { headers: 5 }],
  ])('answers 500 ERR_INTERNAL, and logs why, when the request is %s: an integration mistake, not a client without a key', async (_name, given) => {
    expect(await internalErrorLogged(given)).toContain('need a request object whose headers, when it has any, are an object');
  });

  it.each<[string, unknown]>([
    ['left out', {}],
    ['null, as an API Gateway event without any has them', { headers: null }],
  ])('answers a request whose headers are %s as one without a key: 401 ERR_API_KEY_MISSING', async (_name, given) => {
    for (const result of [auth.decide(given as never), auth.authenticate(given as never)]) {
      const refused = (await result) as AuthResult & { ok: false };
      expect([refused.response.status, refused.error.code]).toEqual([401, 'ERR_API_KEY_MISSING']);
    }
  });

  it.each<[string, unknown]>([
    ['none', undefined],
    ['an empty object', {}],
    ['an undefined key type', { keyType: undefined }],
    ['the key type the key has', { keyType: 'sms_api' }],
  ])('passes a valid key when the route requirement is %s', async (_name, requirement) => {
    expect((await auth.authenticate(request(key), requirement as never)).ok).toBe(true);
  });

  it('reads a requirement object once: changing it afterwards changes no decision', async () => {
    let reads = 0;
    const requirement: { keyType?: string; keytype?: string } = { keyType: 'reporting' };
    const wrongType = async () => ((await auth.authenticate(request(key), requirement as never)) as AuthResult & { ok: false }).response?.status;
    expect(await wrongType()).toBe(403);
    delete requirement.keyType;
    requirement.keytype = 'reporting';
    expect(await wrongType()).toBe(403);

    const flipping = Object.defineProperty({}, 'keyType', { enumerable: true, get: () => (reads++ === 0 ? 'reporting' : undefined) });
    for (let i = 0; i < 3; i++) {
      expect(((await auth.authenticate(request(key), flipping)) as AuthResult & { ok: false }).response.status).toBe(403);
    }
    expect(reads).toBe(1);
  });

  it('gives the same result as authenticate(), which always gives a promise', async () => {
    const forged = forgeSecret(key);
    for (const presented of [key, `${key}x`, forged]) {
      const authenticated = auth.authenticate(request(presented));
      expect(authenticated).toBeInstanceOf(Promise);
      const decided = await auth.decide(request(presented));
      expect(JSON.stringify(await authenticated)).toBe(JSON.stringify(decided));
    }
  });
});

describe('near misses of a key that has matched here', () => {
  it('are each checked in full: a changed character is malformed and never reaches the store, while the key still passes', async () => {
    const store = new InstrumentedStore(false);
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_near', environment: 'production' });
    const reasons: string[] = [];
    const auth = createApiKeyAuth({ store, onDecision: (decision) => void reasons.push(decision.reason) });
    expect((await auth.authenticate({ headers: bearer(key) })).ok).toBe(true);
    const lookupsAfterFirstPass = store.lookups;
    const swap = (index: number) => key.slice(0, index) + (key[index] === 'A' ? 'B' : 'A') + key.slice(index + 1);
    const nearMisses = [swap(key.length - 1), swap(30), swap(8), `sk_test_${key.slice(8)}`, `${key.slice(0, -1)}!`];
    reasons.length = 0;
    for (const presented of nearMisses) expect((await auth.decide({ headers: bearer(presented) })).ok).toBe(false);
    expect(reasons).toEqual(['bad_checksum', 'bad_checksum', 'bad_checksum', 'bad_checksum', 'bad_alphabet']);
    expect(store.lookups).toBe(lookupsAfterFirstPass);
    expect(auth.decide({ headers: bearer(key) })).toMatchObject({ ok: true, context: { environment: 'production' } });
    await auth.close();
  });
});

describe('decide() with a store that answers later', () => {
  it('gives even a memo hit as a promise when the store answers with one', async () => {
    const store = new InstrumentedStore(true);
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_later', environment: 'sandbox' });
    const auth = createApiKeyAuth({ store, environments: ['sandbox'] });
    expect((await auth.decide({ headers: bearer(key) })).ok).toBe(true);
    const decided = auth.decide({ headers: bearer(key) });
    expect(decided).toBeInstanceOf(Promise);
    expect((await decided).ok).toBe(true);
    await auth.close();
  });

  it('waits for a store answer that is a thenable but not a native promise', async () => {
    const memory = new MemoryKeyStore();
    const { key } = await createKeyManager({ store: memory, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_thenable', environment: 'sandbox' });
    const store = Object.assign(Object.create(memory) as MemoryKeyStore, {
      findByLookupId: (lookupId: string) => ({
        then: (resolve: (row: ApiKeyRow | null) => void) => resolve(memory.findByLookupId(lookupId) as ApiKeyRow | null),
      }),
    });
    const auth = createApiKeyAuth({ store, environments: ['sandbox'] });
    const result = await auth.decide({ headers: bearer(key) });
    expect(result.ok).toBe(true);
    await auth.close();
  });
});

describe('a key whose row changes while its Argon2 run is under way', () => {
  // Default Argon2 parameters: each first-seen check takes tens of milliseconds in the
  // worker thread, while a lifecycle change on MemoryKeyStore takes microseconds.
  const store = new InstrumentedStore(false);
  const manager = createKeyManager({ store });
  // Regenerate hashes the new key: with cheap parameters it resolves well within the run.
  const quickManager = createKeyManager({ store, argon2: TEST_ARGON2 });
  const auth = createApiKeyAuth({ store });
  afterAll(() => auth.close());

  const firstSeenThen = async (change: (keyId: string) => Promise<unknown>) => {
    const { key, card } = await manager.issue({ accountId: `acct_change_${Math.random()}`, environment: 'production' });
    const pending = auth.authenticate({ headers: bearer(key) });
    await change(card.keyId);
    return (await pending) as AuthResult & { ok: false };
  };

  it('is answered on the row as it is once the run ends: a revoke made meanwhile gives the generic 401', async () => {
    const result = await firstSeenThen((keyId) => manager.revoke(keyId));
    expect([result.ok, result.response.status, result.error.code]).toEqual([false, 401, 'ERR_API_KEY_INVALID']);
  });

  it('gives 403 for a suspension made meanwhile, and 401 for a regenerate', async () => {
    const suspended = await firstSeenThen((keyId) => manager.setStatus(keyId, 'suspended'));
    expect([suspended.response.status, suspended.error.code]).toEqual([403, 'ERR_API_KEY_INACTIVE']);
    const regenerated = await firstSeenThen((keyId) => quickManager.regenerate(keyId));
    expect(regenerated.response.status).toBe(401);
  });

  it('refuses a key whose lookup id names another key id or account when read again after the run', async () => {
    const { key } = await manager.issue({ accountId: 'acct_replaced', environment: 'production' });
    let reads = 0;
    store.override = (row) => (row && ++reads === 2 ? { ...row, id: 'key_other', account_id: 'acct_other' } : row);
    const result = (await auth.authenticate({ headers: bearer(key) })) as AuthResult & { ok: false };
    store.heal();
    expect([result.ok, result.response.status]).toEqual([false, 401]);
  });

  it('reads the row twice for a key that needed an Argon2 run, once for a memo hit', async () => {
    const { key } = await manager.issue({ accountId: 'acct_reads', environment: 'production' });
    const before = store.lookups;
    expect((await auth.authenticate({ headers: bearer(key) })).ok).toBe(true);
    expect(store.lookups - before).toBe(2);
    expect((await auth.authenticate({ headers: bearer(key) })).ok).toBe(true);
    expect(store.lookups - before).toBe(3);
  });
});

describe('a key rehashed between its two reads, while forgeries fail from its address', () => {
  it('is checked again without the throttle, even without a memo: it matched in this very request', async () => {
    const memory = new MemoryKeyStore();
    const { key } = await createKeyManager({ store: memory, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_rehashed', environment: 'sandbox' });
    const lookupId = key.slice(8, 20);
    const rehashed = await hashSecret(key.slice(-38, -6), { ...TEST_ARGON2, iterations: 2 });
    // The second read of the genuine key's lookup id waits for the gate, then sees a new hash.
    let reads = 0;
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const store = Object.assign(Object.create(memory) as MemoryKeyStore, {
      findByLookupId: async (id: string) => {
        const row = memory.findByLookupId(id) as ApiKeyRow | null;
        if (id !== lookupId || !row || ++reads !== 2) return row;
        await gate;
        return { ...row, key_hash: rehashed };
      },
    });
    const auth = createApiKeyAuth({
      store,
      memo: false,
      environments: ['sandbox'],
      throttle: { maxFailuresPerKey: 1 },
      clientAddress: () => '203.0.113.7',
    });
    const genuine = auth.authenticate({ headers: bearer(key) });
    while (reads < 2) await new Promise((resolve) => setTimeout(resolve, 1));
    // A forgery from the same address fails meanwhile: the address and the lookup id are now over.
    expect((await auth.authenticate({ headers: bearer(forgeSecret(key)) })).ok).toBe(false);
    openGate();
    expect((await genuine).ok).toBe(true);
    await auth.close();
  });
});

describe('decide() while the Argon2 pool is full', () => {
  const store = new MemoryKeyStore();
  const keys: string[] = [];
  let auth: ApiKeyAuth;

  beforeAll(async () => {
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    for (const accountId of ['acct_full_1', 'acct_full_2', 'acct_full_3']) {
      keys.push((await manager.issue({ accountId, environment: 'sandbox' })).key);
    }
    // One thread and no queue: one computation fills the pool.
    auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: { threads: 1, maxQueue: 0 }, throttle: false });
  });
  afterAll(() => auth.close());

  const request = (presented: string) => ({ headers: bearer(presented) });

  it('answers a key that needs a new computation with 503 and Retry-After as the result itself, and the running one still passes', async () => {
    const running = auth.decide(request(keys[0]!));
    expect(running).toBeInstanceOf(Promise);

    const refused = auth.decide(request(keys[1]!)) as AuthResult & { ok: false };
    expect(refused).not.toBeInstanceOf(Promise);
    expect(refused.response.status).toBe(503);
    expect(refused.response.headers['retry-after']).toBe('1');
    expect(refused.error.code).toBe('ERR_OVERLOADED');

    expect(((await running) as AuthResult).ok).toBe(true);
  });

  it('lets the same key join the computation already running instead of answering 503', async () => {
    const first = auth.decide(request(keys[2]!));
    const second = auth.decide(request(keys[2]!));
    expect(second).toBeInstanceOf(Promise);
    expect([((await first) as AuthResult).ok, ((await second) as AuthResult).ok]).toEqual([true, true]);
  });

  it('still answers a corrupt stored hash with 500, not 503, when the pool is full', async () => {
    const corrupt = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_full_corrupt', environment: 'sandbox' });
    await store.modify(corrupt.card.keyId, () => ({ key_hash: '$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA' }));
    const running = auth.decide(request(forgeSecret(keys[0]!)));

    const fault = auth.decide(request(corrupt.key)) as AuthResult & { ok: false };
    expect(fault).not.toBeInstanceOf(Promise);
    expect([fault.response.status, fault.error.code]).toEqual([500, 'ERR_STORED_HASH_INVALID']);
    await running;
  });
});

describe('decide() after close() without a pool', () => {
  it('answers a key the memo does not know with 503 as the result itself', async () => {
    const store = new MemoryKeyStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_closed', environment: 'sandbox' });
    const auth = createApiKeyAuth({ store, environments: ['sandbox'], argon2Pool: false });
    await auth.close();

    const refused = auth.decide({ headers: bearer(key) }) as AuthResult & { ok: false };
    expect(refused).not.toBeInstanceOf(Promise);
    expect([refused.response.status, refused.error.code]).toEqual([503, 'ERR_OVERLOADED']);
  });
});

describe('decide() on an app-built request whose header values are no text', () => {
  const store = new MemoryKeyStore();
  const decisions: AuthDecision[] = [];
  const auth = createApiKeyAuth({ store, queryParameter: 'api_key', onDecision: (decision) => decisions.push(decision) });
  afterAll(() => auth.close());

  it.each<[string, object]>([
    ['a null Authorization', { headers: { authorization: null } }],
    ['a numeric X-API-Key', { headers: { 'x-api-key': 123 } }],
    ['an object', { headers: { authorization: { toString: () => 'Bearer sk' } } }],
    ['an array holding undefined', { headers: { authorization: ['Bearer abc', undefined] } }],
    ['a null value in rawHeaders', { headers: {}, rawHeaders: ['Authorization', null] }],
    ['a null name in rawHeaders', { headers: {}, rawHeaders: [null, 'Bearer abc', 'Host', 'x'] }],
    ['a sparse rawHeaders', { headers: {}, rawHeaders: new Array(4) }],
  ])('answers %s with 401, never a 500', async (_what, request) => {
    const result = await auth.authenticate(request as never);
    expect(result.ok ? 200 : result.response.status).toBe(401);
    expect(decisions.at(-1)?.reason).not.toBe('internal_error');
  });

  it('reads a URL that is no text as one without a query', async () => {
    const result = await auth.authenticate({ headers: {}, url: 5 } as never);
    expect(result.ok ? undefined : [result.response.status, decisions.at(-1)?.reason]).toEqual([401, 'missing']);
  });
});
