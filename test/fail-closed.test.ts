/**
 * Fail-closed setup: every factory checks its options once, at creation, with a clear
 * ERR_OPTIONS_INVALID; and no combination of options leaves a route open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ApiKeyAuthError,
  checksumOf,
  createApiKeyAuth,
  createBasicAuthChecker,
  createKeyManager,
  MemoryKeyStore,
  type ApiKeyAuth,
  type ApiKeyAuthOptions,
  type KeyManagerOptions,
  type KeyStore,
} from 'keyward';
import Fastify from 'fastify';
import { expressApiKeyAuth, expressBasicAuth } from 'keyward/express';
import { fastifyApiKeyAuth, fastifyApiKeyAuthHook, fastifyBasicAuth } from 'keyward/fastify';
import { koaApiKeyAuth, koaBasicAuth } from 'keyward/koa';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { send } from './helpers/http-client.js';
import { InstrumentedStore } from './helpers/stores.js';
import { ADAPTERS } from './http/apps.js';
import { testSecretBytes } from './helpers/secret-bytes.js';

const expectInvalidOption = (create: () => unknown, message: string | RegExp) => {
  let thrown: unknown;
  try {
    create();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ApiKeyAuthError);
  expect((thrown as ApiKeyAuthError).code).toBe('ERR_OPTIONS_INVALID');
  if (typeof message === 'string') expect((thrown as Error).message).toBe(message);
  else expect((thrown as Error).message).toMatch(message);
};

const LOGGER_SHAPE = 'createApiKeyAuth: "logger" must be an object (or a function) with at least one of the debug, info, warn and error methods';

describe('createApiKeyAuth checks every option at creation', () => {
  const store = new InstrumentedStore();
  it.each<[string, unknown, string | RegExp]>([
    ['no options at all', undefined, 'createApiKeyAuth expects an options object.'],
    ['a missing store', {}, 'createApiKeyAuth: "store" is required: pass a KeyStore such as new MemoryKeyStore().'],
    ['the store in place of the options', store, 'createApiKeyAuth takes options, not the store itself: createApiKeyAuth({ store }).'],
    ['the store class in place of a store', { store: MemoryKeyStore }, 'createApiKeyAuth: "store" is a class; pass an instance, such as new MemoryKeyStore().'],
    ['a throttle option that is no misspelling', { store, throttle: { maxFailures: 3 } }, 'createApiKeyAuth: unknown option "maxFailures" in "throttle". The options of "throttle" are maxFailuresPerKey, maxFailuresPerClient, windowMs, maxTracked, ipv6PrefixLength.'],
    ['Argon2 parameters with two left out', { store, argon2: { memoryKiB: 19_456 } }, 'createApiKeyAuth: "argon2" needs all three parameters; iterations and parallelism missing: { memoryKiB, iterations, parallelism }.'],
    ['Argon2 parameters with all three left out', { store, argon2: {} }, 'createApiKeyAuth: "argon2" needs all three parameters; memoryKiB, iterations and parallelism missing: { memoryKiB, iterations, parallelism }.'],
    ['a store without lookups', { store: { insert() {} } }, /^createApiKeyAuth: "store" lacks the KeyStore method\(s\) findByLookupId, findLive, findById, modify, recordUsage\.$/],
    ['a misspelt option', { store, storeTimeout: 100 }, 'createApiKeyAuth: unknown option "storeTimeout". Did you mean "storeTimeoutMs"?'],
    ['a misspelt carrier', { store, apiKeyHeadr: false }, 'createApiKeyAuth: unknown option "apiKeyHeadr". Did you mean "apiKeyHeader"?'],
    ['a realm with quotes', { store, realm: 'my "api"' }, 'createApiKeyAuth: "realm" must be 1 to 100 printable ASCII characters without quotes or backslashes.'],
    ['a realm with a line break', { store, realm: 'api\r\nX-Evil: 1' }, 'createApiKeyAuth: "realm" must be 1 to 100 printable ASCII characters without quotes or backslashes.'],
    ['a store timeout of zero', { store, storeTimeoutMs: 0 }, 'createApiKeyAuth: "storeTimeoutMs" must be an integer from 1 to 60000.'],
    ['an infinite store timeout', { store, storeTimeoutMs: Number.POSITIVE_INFINITY }, 'createApiKeyAuth: "storeTimeoutMs" must be an integer from 1 to 60000.'],
    ['a negative Retry-After', { store, retryAfterSeconds: -1 }, 'createApiKeyAuth: "retryAfterSeconds" must be an integer from 1 to 3600.'],
    ['no environment', { store, environments: [] }, 'createApiKeyAuth: "environments" must be a non-empty array of "production" and "sandbox".'],
    ['Authorization as the bare-key header', { store, apiKeyHeader: 'Authorization' }, 'createApiKeyAuth: "apiKeyHeader" cannot be "authorization"; the Bearer scheme is always read from it.'],
    ['Cookie as the bare-key header', { store, apiKeyHeader: 'Cookie' }, 'createApiKeyAuth: "apiKeyHeader" cannot be "cookie", a header that browsers, proxies or tracing send or record for a purpose of its own; use a header of its own, such as "x-api-key".'],
    ['X-Forwarded-For as the bare-key header', { store, apiKeyHeader: 'x-forwarded-for' }, /^createApiKeyAuth: "apiKeyHeader" cannot be "x-forwarded-for"/],
    ['a memo of no entries', { store, memo: { maxEntries: 0 } }, 'createApiKeyAuth: "memo.maxEntries" must be an integer from 1 to 10000000.'],
    ['a throttle of zero failures', { store, throttle: { maxFailuresPerKey: 0 } }, 'createApiKeyAuth: "throttle.maxFailuresPerKey" must be an integer from 1 to 1000000.'],
    ['Argon2 memory of 4 GiB', { store, argon2: { memoryKiB: 4_194_304, iterations: 2, parallelism: 1 } }, 'createApiKeyAuth: "argon2" memoryKiB must be an integer from 8 × parallelism to 1048576.'],
    ['Argon2 parameters as a string', { store, argon2: 'strong' }, 'createApiKeyAuth: "argon2" must be an object { memoryKiB, iterations, parallelism }.'],
    ['a misspelt Argon2 parameter', { store, argon2: { memoryKib: 19_456, iterations: 2, parallelism: 1 } }, 'createApiKeyAuth: unknown option "memoryKib" in "argon2". Did you mean "memoryKiB"?'],
    ['rehashOnSuccess as a string', { store, rehashOnSuccess: 'yes' }, 'createApiKeyAuth: "rehashOnSuccess" must be a boolean.'],
    ['a clock that is not a function', { store, clock: Date.now() }, 'createApiKeyAuth: "clock" must be a function.'],
    ['a clock that is a class', { store, clock: class {} }, 'createApiKeyAuth: "clock" must be a function, not a class (a class cannot be called).'],
    ['an async clientAddress', { store, clientAddress: async () => '192.0.2.1' }, 'createApiKeyAuth: "clientAddress" must answer at once, not through a promise: pass a plain function.'],
    ['a clientAddress that is a class', { store, clientAddress: class {} }, 'createApiKeyAuth: "clientAddress" must be a function, not a class (a class cannot be called).'],
    ['console.log as the logger', { store, logger: console.log }, `${LOGGER_SHAPE}; the function given has none (pass console, not console.log).`],
    ['a (fields, message) function as the logger', { store, logger: (_fields: unknown, _message: string) => {} }, `${LOGGER_SHAPE}; the function given has none (pass console, not console.log).`],
    ['a logger without methods', { store, logger: {} }, `${LOGGER_SHAPE}; it has none.`],
    ['a logger whose only method is misspelt', { store, logger: { eror() {} } }, `${LOGGER_SHAPE}; it has none ("eror" is not one). Did you mean "error"?`],
    ['a callable logger whose only method is misspelt', { store, logger: Object.assign(() => {}, { wran() {} }) }, `${LOGGER_SHAPE}; it has none ("wran" is not one). Did you mean "warn"?`],
    ['a logger whose only level is a class', { store, logger: { warn: class {} } }, `${LOGGER_SHAPE}; it has none ("warn" is a class, which cannot be called).`],
    ['a winston logger with syslog levels (warning, no warn)', { store, logger: { warning() {} } }, `${LOGGER_SHAPE}; it has none ("warning" is not one). Did you mean "warn"? (winston with syslog levels needs a warn method added.)`],
    ['a logger with a level that is not a method', { store, logger: { error: 'stderr' } }, `${LOGGER_SHAPE}; it has none ("error" is not a function).`],
    ['a logger named by a string', { store, logger: 'console' }, `${LOGGER_SHAPE}; got a string.`],
    ['a null logger', { store, logger: null }, 'createApiKeyAuth: "logger" is null: leave it out if it is optional, or give it a value (an option that can be turned off takes false, not null).'],
  ])('refuses %s', (_name, options, message) => {
    expectInvalidOption(() => createApiKeyAuth(options as ApiKeyAuthOptions), message);
  });

  it.each<[string, () => unknown]>([
    ['console', () => console],
    ['a logger with only an error method', () => ({ error() {} })],
    ['a callable logger with level methods', () => Object.assign(() => {}, { warn() {} })],
    ['a logger whose methods come from its class', () => new (class { debug() {} })()],
    ['a logger with one level a class and another a method', () => ({ debug: class {}, error() {} })],
    ['a logger whose level getter throws', () => Object.defineProperty({}, 'error', { get: () => { throw new Error('app bug'); } })],
  ])('accepts %s as the logger', async (_name, make) => {
    const auth = createApiKeyAuth({ store, logger: make() as ApiKeyAuthOptions['logger'] });
    await auth.close();
  });

  it('leaves the caller\'s options object untouched', () => {
    const options = Object.freeze({ store, throttle: Object.freeze({ maxFailuresPerKey: 5 }), argon2: Object.freeze({ ...TEST_ARGON2 }) });
    expect(() => createApiKeyAuth(options).close()).not.toThrow();
  });
});

describe('createKeyManager checks every option at creation', () => {
  const store = new InstrumentedStore();
  it.each<[string, unknown, string]>([
    ['a missing store', {}, 'createKeyManager: "store" is required: pass a KeyStore such as new MemoryKeyStore().'],
    ['the store in place of the options', store, 'createKeyManager takes options, not the store itself: createKeyManager({ store }).'],
    ['a misspelt option', { store, argon: TEST_ARGON2 }, 'createKeyManager: unknown option "argon". Did you mean "argon2"?'],
    ['an async clock', { store, clock: async () => new Date() }, 'createKeyManager: "clock" must answer at once, not through a promise: pass a plain function.'],
    ['Argon2 iterations of zero', { store, argon2: { memoryKiB: 1024, iterations: 0, parallelism: 1 } }, 'createKeyManager: "argon2" iterations must be an integer from 1 to 32.'],
    ['a default key type in capitals', { store, defaultKeyType: 'SMS' }, 'createKeyManager: "defaultKeyType" must be 1 to 64 lower-case letters, digits or "_".'],
    ['a pepper without its current secret', { store, pepper: { current: 'p2', secrets: {} } }, 'createKeyManager: "pepper.current" must name one of the ids in "pepper.secrets".'],
    ['a sealing key of 16 bytes', { store, webhookKeys: { current: 'k1', keys: { k1: Buffer.alloc(16) } } }, 'createKeyManager: "webhookKeys.keys.k1" must be a Buffer or Uint8Array of exactly 32 bytes.'],
    ['a current sealing key not among the keys', { store, webhookKeys: { current: 'k2', keys: { k1: testSecretBytes(0) } } }, 'createKeyManager: "webhookKeys.current" must name one of the ids in "webhookKeys.keys".'],
    ['a misspelt sealing-keys field', { store, webhookKeys: { curent: 'k1', keys: { k1: testSecretBytes(0) } } }, 'createKeyManager: unknown option in "webhookKeys" (its name is not repeated, as it could be a secret). Did you mean "current"?'],
  ])('refuses %s', (_name, options, message) => {
    expectInvalidOption(() => createKeyManager(options as KeyManagerOptions), message);
  });
});

describe('expressApiKeyAuth checks its arguments at setup', () => {
  const auth = createApiKeyAuth({ store: new InstrumentedStore() });
  afterAll(() => auth.close());

  it.each<[string, () => unknown, string]>([
    ['no authenticator', () => expressApiKeyAuth(undefined as never), 'expressApiKeyAuth needs the authenticator from createApiKeyAuth() as its first argument.'],
    ['the options in place of the authenticator', () => expressApiKeyAuth({ store: new InstrumentedStore() } as never), 'expressApiKeyAuth needs the authenticator from createApiKeyAuth() as its first argument.'],
    ['a misspelt option', () => expressApiKeyAuth(auth, { keytype: 'sms_api' } as never), 'expressApiKeyAuth: unknown option "keytype". Did you mean "keyType"?'],
    ['an empty key type', () => expressApiKeyAuth(auth, { keyType: '' }), 'expressApiKeyAuth: "keyType" must be a non-empty string.'],
    ['forwardErrors as a string', () => expressApiKeyAuth(auth, { forwardErrors: 'true' as never }), 'expressApiKeyAuth: "forwardErrors" must be a boolean.'],
  ])('refuses %s', (_name, create, message) => {
    expectInvalidOption(create, message);
  });
});

/**
 * Option values a hurried or hostile configuration might hold. Each option draws mostly from
 * values setup accepts (including functions that throw or return junk at request time, the
 * interesting ones) and sometimes from values it must refuse, so both paths are exercised.
 */
function optionArbitrary(store: KeyStore) {
  const thrower = () => {
    throw new Error('app bug');
  };
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const fakeStore = Object.assign(Object.create(store) as object, { findByLookupId: async () => 'not a row' });
  const pick = (accepted: unknown[], refused: unknown[]) =>
    fc.oneof({ weight: 15, arbitrary: fc.constantFrom(...accepted) }, { weight: 1, arbitrary: fc.constantFrom(...refused) });
  const options = fc.record(
    {
      store: pick([store, store, fakeStore], [undefined, null, {}, 'memory', { findByLookupId: () => null }]),
      realm: pick([undefined, 'api', 'gateway v2'], ['my "api"', '', 'x'.repeat(101), 'café', 'a\\b', 42]),
      environments: pick([undefined, ['sandbox'], ['production'], ['sandbox', 'sandbox']], [[], ['prod'], 'sandbox']),
      apiKeyHeader: pick([undefined, false, 'x-api-key', 'X-Token', 'cookie'], ['Authorization', '', 'x key', true]),
      queryParameter: pick([undefined, false, 'api_key'], ['', true, 'a b']),
      storeTimeoutMs: pick([undefined, 1, 50, 2_000], [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1.5, '100']),
      retryAfterSeconds: pick([undefined, 1, 3_600], [0, 3_601, null]),
      usageFlushIntervalMs: pick([undefined, 10, 10_000], [5, -10]),
      memo: pick([undefined, false, {}, { maxEntries: 1 }], [{ maxEntries: 0 }, { maxEntrys: 5 }, null, true, { maxBytes: 10 }]),
      logger: pick([undefined, { error: () => undefined }, { debug: thrower, error: thrower, warn: thrower }], [null, 'console', {}, console.log]),
      onDecision: pick([undefined, thrower, () => undefined], [42]),
      errorBody: pick([undefined, thrower, () => undefined, () => circular, () => 1n, () => 'denied'], ['json']),
      clock: pick([undefined, () => new Date(Number.NaN), thrower, () => 0, () => new Date()], ['now']),
      throttle: pick([undefined, false, {}, { maxFailuresPerKey: 1 }], [{ maxFailuresPerKey: 0 }, { windowMs: 1 }, 'on']),
      clientAddress: pick([undefined, thrower, () => 42, () => ''], ['x-forwarded-for']),
      pepper: pick([undefined, { current: 'p1', secrets: { p1: testSecretBytes(7) } }], [{ current: 'p1', secrets: {} }, 'pepper']),
      argon2: pick([undefined, TEST_ARGON2], [{ memoryKiB: 0, iterations: 1, parallelism: 1 }, 'strong']),
      rehashOnSuccess: pick([undefined, true, false], ['yes']),
      stroe: fc.constantFrom<unknown>(store),
      throtle: fc.constantFrom<unknown>(false),
    },
    { requiredKeys: ['store'] },
  );
  // Misspelt names appear only now and then, like the other refused values.
  return fc.tuple(options, fc.nat(19)).map(([{ stroe, throtle, ...rest }, dice]) => (dice === 0 ? { ...rest, stroe, throtle } : rest));
}

describe('no combination of options leaves a route open', () => {
  let store: InstrumentedStore;
  let validKey: string;
  let forgedKey: string;
  let expiredKey: string;

  beforeAll(async () => {
    store = new InstrumentedStore();
    validKey = (await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_1', environment: 'sandbox' })).key;
    const head = validKey.slice(0, 20) + 'Z'.repeat(32);
    forgedKey = head + checksumOf(head);
    expiredKey = (await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_2', environment: 'sandbox', expiresAt: new Date('2020-01-01T00:00:00Z') })).key;
  });

  it('either refuses the options with ERR_OPTIONS_INVALID or refuses every request without the real key', async () => {
    let created = 0;
    await fc.assert(
      fc.asyncProperty(optionArbitrary(store), async (options) => {
        let auth: ApiKeyAuth;
        try {
          auth = createApiKeyAuth(options as ApiKeyAuthOptions);
        } catch (error) {
          return error instanceof ApiKeyAuthError && error.code === 'ERR_OPTIONS_INVALID';
        }
        created++;
        try {
          const missing = await auth.authenticate({ headers: {} });
          if (missing.ok || missing.response.status !== 401) return false;
          for (const headers of [{ authorization: `Bearer ${expiredKey}` }, { authorization: `Bearer ${forgedKey}` }, { authorization: 'Bearer garbage' }, { 'x-api-key': forgedKey }, { cookie: forgedKey }]) {
            const refused = await auth.authenticate({ headers, url: `/v1?api_key=${forgedKey}` });
            if (refused.ok || ![401, 403, 429, 500, 503].includes(refused.response.status)) return false;
          }
          const valid = await auth.authenticate({ headers: { authorization: `Bearer ${validKey}` } });
          // 429: a throttle of one failure also stops a first-seen real key; documented.
          return valid.ok || [401, 429, 500, 503].includes(valid.response.status);
        } finally {
          await auth.close();
        }
      }),
      { numRuns: 400 },
    );
    // Guards against an arbitrary that only ever produces refused option sets.
    expect(created).toBeGreaterThan(5);
  });

  it.each(ADAPTERS)('answers a request without a key with 401 on $name for every accepted option set', async (adapter) => {
    await fc.assert(
      fc.asyncProperty(optionArbitrary(store), fc.constantFrom({}, { forwardErrors: true }), async (options, routeOptions) => {
        let auth: ApiKeyAuth;
        try {
          auth = createApiKeyAuth(options as ApiKeyAuthOptions);
        } catch {
          return true;
        }
        const app = await adapter.start(auth, routeOptions);
        try {
          const missing = await send(app.url, '/v1/whoami');
          const forged = await send(app.url, '/v1/whoami', { headers: { authorization: `Bearer ${forgedKey}` } });
          return missing.status === 401 && [401, 429, 500, 503].includes(forged.status);
        } finally {
          await app.close();
          await auth.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('the other route factories check their arguments at setup', () => {
  const auth = createApiKeyAuth({ store: new InstrumentedStore() });
  afterAll(() => auth.close());

  it.each<[string, () => unknown, string]>([
    ['koaApiKeyAuth without an authenticator', () => koaApiKeyAuth(undefined as never), 'koaApiKeyAuth needs the authenticator from createApiKeyAuth() as its first argument.'],
    ['koaApiKeyAuth with a misspelt option', () => koaApiKeyAuth(auth, { forwardError: true } as never), 'koaApiKeyAuth: unknown option "forwardError". Did you mean "forwardErrors"?'],
    ['fastifyApiKeyAuthHook with an empty key type', () => fastifyApiKeyAuthHook(auth, { keyType: '' }), 'fastifyApiKeyAuthHook: "keyType" must be a non-empty string.'],
    ['expressBasicAuth without a password', () => expressBasicAuth({ username: 'hook-relay' } as never), 'expressBasicAuth: "password" must be a non-empty string.'],
    ['koaBasicAuth with a realm in quotes', () => koaBasicAuth({ username: 'u', password: 'p', realm: 'say "hi"' }), 'koaBasicAuth: "realm" must be 1 to 100 printable ASCII characters without quotes or backslashes.'],
    ['fastifyBasicAuth with a realm in quotes', () => fastifyBasicAuth({ username: 'u', password: 'p', realm: 'say "hi"' }), 'fastifyBasicAuth: "realm" must be 1 to 100 printable ASCII characters without quotes or backslashes.'],
    ['expressBasicAuth with an errorBody that is no function', () => expressBasicAuth({ username: 'u', password: 'p', errorBody: 1 as never }), 'expressBasicAuth: "errorBody" must be a function.'],
    ['fastifyBasicAuth with a misspelt option', () => fastifyBasicAuth({ username: 'u', pasword: 'p' } as never), 'fastifyBasicAuth: unknown option (its name is not repeated, as it could be a secret). Did you mean "password"?'],
    [
      'koaBasicAuth with a password close to "password" as an option name, without repeating it',
      () => koaBasicAuth({ username: 'u', password: 'p', passw0rd: 1 } as never),
      'koaBasicAuth: unknown option (its name is not repeated, as it could be a secret). Did you mean "password"?',
    ],
    [
      'expressBasicAuth with a password as an option name, without repeating it',
      () => expressBasicAuth({ username: 'u', password: 'p', 'Pa55-word-VERY-secret-0123456789': 1 } as never),
      'expressBasicAuth: unknown option (its name is not repeated, as it could be a secret). The options are username, password, realm, errorBody, forwardErrors, throttle.',
    ],
  ])('refuses %s', (_name, create, message) => {
    expectInvalidOption(create, message);
  });

  it('refuses the Fastify plugin with bad options when the app starts', async () => {
    const app = Fastify();
    app.register(fastifyApiKeyAuth, { auth, keyTyp: 'sms_api' } as never);
    await expect(app.ready()).rejects.toMatchObject({
      code: 'ERR_OPTIONS_INVALID',
      message: 'fastifyApiKeyAuth: unknown option "keyTyp". Did you mean "keyType"?',
    });
    await app.close();
  });
});

describe('no accepted Basic-auth option set lets a request through without the credentials', () => {
  it('refuses missing, malformed and wrong credentials with 401 for every accepted option set', () => {
    const thrower = () => {
      throw new Error('app bug');
    };
    const options = fc.record(
      {
        username: fc.oneof(fc.constantFrom('hook-relay', '', 'a:b', 'x\u0000'), fc.string({ maxLength: 8 })),
        password: fc.oneof(fc.constantFrom('p4ss:w0rd:x', '', 'pässwörd'), fc.string({ maxLength: 8 })),
        realm: fc.constantFrom(undefined, 'webhooks', 'a"b', ''),
        errorBody: fc.constantFrom(undefined, thrower, () => undefined, () => 1n),
        forwardErrors: fc.constantFrom(undefined, true, false, 'yes'),
      },
      { requiredKeys: [] },
    );
    const header = fc.oneof(
      fc.constant(undefined),
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.string({ maxLength: 20 }).map((text) => `Basic ${Buffer.from(text).toString('base64')}`),
    );
    fc.assert(
      fc.property(options, header, (given, authorization) => {
        let checker: ReturnType<typeof createBasicAuthChecker>;
        try {
          checker = createBasicAuthChecker(given as never);
        } catch (error) {
          return error instanceof ApiKeyAuthError && error.code === 'ERR_OPTIONS_INVALID';
        }
        const expected = `Basic ${Buffer.from(`${given.username}:${given.password}`).toString('base64')}`;
        const result = checker.check(authorization);
        if (result.ok) return authorization === expected;
        return result.response.status === 401 && checker.check(undefined).ok === false;
      }),
      { numRuns: 2_000 },
    );
  });
});
