import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  createApiKeyAuth,
  createBasicAuthChecker,
  createKeyManager,
  createSecretBox,
  generateApiKey,
  MemoryKeyStore,
  resolveRouteOptions,
  type ApiKeyAuthError,
  type ApiKeyAuthOptions,
} from 'keyward';
import { expressBasicAuth } from 'keyward/express';
import { fastifyBasicAuth } from 'keyward/fastify';
import { koaBasicAuth } from 'keyward/koa';
import { PostgresKeyStore } from 'keyward/postgres';

const store = new MemoryKeyStore();
const make = (options: unknown) => () => createApiKeyAuth(options as ApiKeyAuthOptions);

describe('createApiKeyAuth options', () => {
  it.each([
    ['no options at all', undefined, 'createApiKeyAuth expects an options object.'],
    ['a missing store', {}, 'createApiKeyAuth: "store" is required: pass a KeyStore such as new MemoryKeyStore().'],
    ['a store lacking methods', { store: { findByLookupId() {} } }, 'createApiKeyAuth: "store" lacks the KeyStore method(s) findLive, findById, insert, modify, recordUsage.'],
    ['a misspelt option', { store, apiKeyHeadr: 'x-key' }, 'createApiKeyAuth: unknown option "apiKeyHeadr". Did you mean "apiKeyHeader"?'],
    ['a misspelt option held by a prototype', Object.assign(Object.create({ apiKeyHeadr: 'x-key' }), { store }), 'createApiKeyAuth: unknown option "apiKeyHeadr". Did you mean "apiKeyHeader"?'],
    ['a realm with a quote', { store, realm: 'my "api"' }, 'createApiKeyAuth: "realm" must be 1 to 100 printable ASCII characters without quotes or backslashes.'],
    ['an empty environment list', { store, environments: [] }, 'createApiKeyAuth: "environments" must be a non-empty array of "production" and "sandbox".'],
    ['an unknown environment', { store, environments: ['staging'] }, 'createApiKeyAuth: "environments" may hold "production" and "sandbox" only, not "staging".'],
    ['a key pasted as an environment', { store, environments: [`sk_live_${'A'.repeat(50)}`] }, 'createApiKeyAuth: "environments" may hold "production" and "sandbox" only, not "sk_live_…".'],
    ['a long environment with a line break', { store, environments: [`staging\n${'x'.repeat(100_000)}`] }, `createApiKeyAuth: "environments" may hold "production" and "sandbox" only, not "staging\\n${'x'.repeat(32)}…".`],
    ['an environment without a prototype', { store, environments: [Object.create(null)] }, 'createApiKeyAuth: "environments" may hold "production" and "sandbox" only, not a value of type object.'],
    ['a browser header as the extra header', { store, apiKeyHeader: 'Upgrade-Insecure-Requests' }, 'createApiKeyAuth: "apiKeyHeader" cannot be "upgrade-insecure-requests", a header that browsers, proxies or tracing send or record for a purpose of its own; use a header of its own, such as "x-api-key".'],
    ['a tracing header as the extra header', { store, apiKeyHeader: 'traceparent' }, 'createApiKeyAuth: "apiKeyHeader" cannot be "traceparent", a header that browsers, proxies or tracing send or record for a purpose of its own; use a header of its own, such as "x-api-key".'],
    ['a Zipkin span header as the extra header', { store, apiKeyHeader: 'x-b3-spanid' }, 'createApiKeyAuth: "apiKeyHeader" cannot be "x-b3-spanid", a header that browsers, proxies or tracing send or record for a purpose of its own; use a header of its own, such as "x-api-key".'],
    ['a request id header as the extra header', { store, apiKeyHeader: 'X-Request-Id' }, 'createApiKeyAuth: "apiKeyHeader" cannot be "x-request-id", a header that browsers, proxies or tracing send or record for a purpose of its own; use a header of its own, such as "x-api-key".'],
    ['a zero store timeout', { store, storeTimeoutMs: 0 }, 'createApiKeyAuth: "storeTimeoutMs" must be an integer from 1 to 60000.'],
    ['Authorization as the extra header', { store, apiKeyHeader: 'Authorization' }, 'createApiKeyAuth: "apiKeyHeader" cannot be "authorization"; the Bearer scheme is always read from it.'],
    ['a header name with a space', { store, apiKeyHeader: 'x api key' }, 'createApiKeyAuth: "apiKeyHeader" must be false or a name of letters, digits, "-" and "_".'],
    ['a hook that is not a function', { store, onDecision: 'log' }, 'createApiKeyAuth: "onDecision" must be a function.'],
  ])('refuses %s with ERR_OPTIONS_INVALID', (_name, options, message) => {
    expect(make(options)).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message }));
  });

  it.each(['throttle', 'memo', 'argon2Pool', 'environments', 'realm', 'storeTimeoutMs', 'retryAfterSeconds', 'usageFlushIntervalMs', 'argon2', 'rehashOnSuccess', 'queryParameter'])(
    'refuses %s given as null rather than reading it as the default',
    (name) => {
      expect(make({ store, [name]: null })).toThrow(expect.objectContaining({
        code: 'ERR_OPTIONS_INVALID',
        message: `createApiKeyAuth: "${name}" is null: leave it out if it is optional, or give it a value (an option that can be turned off takes false, not null).`,
      }));
    },
  );

  it('refuses a null field of an object option, naming it after the option', () => {
    expect(make({ store, throttle: { maxFailuresPerKey: null } })).toThrow(expect.objectContaining({
      code: 'ERR_OPTIONS_INVALID',
      message: 'createApiKeyAuth: "throttle.maxFailuresPerKey" is null: leave it out if it is optional, or give it a value (an option that can be turned off takes false, not null).',
    }));
  });

  it.each([
    ['a Date', new Date(), 'a Date'],
    ['a Map', new Map(), 'a Map or a Set'],
    ['bytes', new Uint8Array(4), 'bytes'],
  ])('refuses %s given as the throttle, the memo or the pool options', (_name, value, kind) => {
    for (const option of ['throttle', 'memo', 'argon2Pool']) {
      expect(make({ store, [option]: value })).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message: expect.stringContaining(kind) }));
    }
  });

  it('reads a class instance’s getters and passes over its methods, which are not options', async () => {
    class GatewayAuthOptions {
      store = store;
      get realm() { return 'gateway'; }
      describe() { return 'gateway options'; }
    }
    const auth = createApiKeyAuth(new GatewayAuthOptions());

    const result = await auth.authenticate({ headers: {} });
    expect(result.ok === false && result.response.headers['www-authenticate']).toBe('Bearer realm="gateway"');
    await auth.close();
  });

  it('passes over the methods of an ES5-style constructor, which are enumerable on its prototype', async () => {
    function LegacyOptions(this: { store: MemoryKeyStore }) {
      this.store = store;
    }
    LegacyOptions.prototype.describe = function describe() {
      return 'legacy options';
    };
    const auth = createApiKeyAuth(new (LegacyOptions as unknown as new () => ApiKeyAuthOptions)());

    expect((await auth.authenticate({ headers: {} })).ok).toBe(false);
    await auth.close();
  });

  it('reads and checks the fields of an object without a prototype that the app put in the chain', async () => {
    const base = Object.assign(Object.create(null) as object, { realm: 'gateway', apiKeyHeadr: 'x-key' });

    expect(make(Object.assign(Object.create(base), { store }))).toThrow(expect.objectContaining({
      code: 'ERR_OPTIONS_INVALID',
      message: 'createApiKeyAuth: unknown option "apiKeyHeadr". Did you mean "apiKeyHeader"?',
    }));
    delete (base as { apiKeyHeadr?: string }).apiKeyHeadr;
    const auth = createApiKeyAuth(Object.assign(Object.create(base), { store }));
    const result = await auth.authenticate({ headers: {} });
    expect(result.ok === false && result.response.headers['www-authenticate']).toBe('Bearer realm="gateway"');
    await auth.close();
  });

  it('neither reads nor refuses a name that another realm\'s polluted Object.prototype holds', async () => {
    const foreign = runInNewContext('Object.prototype.realm = "polluted"; Object.prototype.apiKeyHeadr = "x-key"; ({})') as Record<string, unknown>;
    const auth = createApiKeyAuth(Object.assign(Object.create(foreign), { store }));

    const result = await auth.authenticate({ headers: {} });
    expect(result.ok === false && result.response.headers['www-authenticate']).toBe('Bearer realm="api"');
    await auth.close();
  });

  it('leaves the caller’s options object untouched', async () => {
    const options = Object.freeze({ store, realm: 'gateway' });
    const auth = createApiKeyAuth(options);
    expect(options).toEqual({ store, realm: 'gateway' });
    await auth.close();
  });
});

describe('route options', () => {
  it('refuses a missing authenticator, an unknown option and an empty key type', async () => {
    const auth = createApiKeyAuth({ store });
    expect(() => resolveRouteOptions(undefined as never, {}, 'expressApiKeyAuth')).toThrow(
      'expressApiKeyAuth needs the authenticator from createApiKeyAuth() as its first argument.',
    );
    expect(() => resolveRouteOptions(auth, { keytype: 'sms_api' } as never, 'expressApiKeyAuth')).toThrow(
      'expressApiKeyAuth: unknown option "keytype". Did you mean "keyType"?',
    );
    expect(() => resolveRouteOptions(auth, { keyType: '' }, 'expressApiKeyAuth')).toThrow(
      'expressApiKeyAuth: "keyType" must be a non-empty string.',
    );
    await auth.close();
  });
});

describe('createKeyManager options', () => {
  it('refuses Argon2 parameters beyond the stored-hash bounds', () => {
    expect(() => createKeyManager({ store, argon2: { memoryKiB: 4_194_304, iterations: 2, parallelism: 1 } })).toThrow(
      expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message: 'createKeyManager: "argon2" memoryKiB must be an integer from 8 × parallelism to 1048576.' }),
    );
  });
});

/** The message a setup call throws with, which must be ERR_OPTIONS_INVALID. */
const optionMessage = (create: () => unknown): string => {
  try {
    create();
  } catch (error) {
    expect((error as ApiKeyAuthError).code).toBe('ERR_OPTIONS_INVALID');
    return (error as ApiKeyAuthError).message;
  }
  throw new Error('no option error was thrown');
};

describe('option messages', () => {
  const credentials = { username: 'hook-relay', password: 'p4ss' };
  const pool = { connect() {}, on() {}, listenerCount: () => 1, options: { connectionTimeoutMillis: 1000 } };

  it.each<[string, string, () => unknown]>([
    ['createApiKeyAuth', 'a zero store timeout', () => createApiKeyAuth({ store, storeTimeoutMs: 0 })],
    ['createApiKeyAuth', 'a realm with a quote', () => createApiKeyAuth({ store, realm: 'a"b' })],
    ['createApiKeyAuth', 'an errorBody that is no function', () => createApiKeyAuth({ store, errorBody: 1 as never })],
    ['createApiKeyAuth', 'a logger without methods', () => createApiKeyAuth({ store, logger: {} as never })],
    ['createApiKeyAuth', 'a misspelt memo field', () => createApiKeyAuth({ store, memo: { maxEntrie: 1 } as never })],
    ['createApiKeyAuth', 'a misspelt pepper field', () => createApiKeyAuth({ store, pepper: { curent: 'p1' } as never })],
    ['createApiKeyAuth', 'a missing store', () => createApiKeyAuth({} as never)],
    ['createKeyManager', 'a default key type in capitals', () => createKeyManager({ store, defaultKeyType: 'X' })],
    ['createKeyManager', 'empty Argon2 parameters', () => createKeyManager({ store, argon2: {} as never })],
    ['createKeyManager', 'a clock that is no function', () => createKeyManager({ store, clock: 1 as never })],
    ['createKeyManager', 'sealing keys that are no object', () => createKeyManager({ store, webhookKeys: 'k1' as never })],
    ['createBasicAuthChecker', 'a realm with a quote', () => createBasicAuthChecker({ ...credentials, realm: 'a"b' })],
    ['expressBasicAuth', 'an empty password', () => expressBasicAuth({ username: 'u', password: '' })],
    ['expressBasicAuth', 'a realm with a quote', () => expressBasicAuth({ ...credentials, realm: 'a"b' })],
    ['expressBasicAuth', 'an errorBody that is no function', () => expressBasicAuth({ ...credentials, errorBody: 1 as never })],
    ['koaBasicAuth', 'a realm with a quote', () => koaBasicAuth({ ...credentials, realm: 'a"b' })],
    ['fastifyBasicAuth', 'an errorBody that is no function', () => fastifyBasicAuth({ ...credentials, errorBody: 1 as never })],
    ['createSecretBox', 'a key of 16 bytes', () => createSecretBox({ current: 'k1', keys: { k1: Buffer.alloc(16) } })],
    ['createSecretBox', 'keys that are no object', () => createSecretBox({ current: 'k1', keys: 'k1' as never })],
    ['PostgresKeyStore', 'no pool', () => new PostgresKeyStore({} as never)],
    ['PostgresKeyStore', 'a zero statement timeout', () => new PostgresKeyStore({ pool: pool as never, statementTimeoutMs: 0 })],
    ['PostgresKeyStore', 'a table name in capitals', () => new PostgresKeyStore({ pool: pool as never, table: 'Keys' })],
  ])('of %s start with its name, as for %s', (factory, _what, create) => {
    expect(optionMessage(create)).toMatch(new RegExp(`^${factory}: `));
  });

  it('tell apart the factory a wrong realm was given to', () => {
    const fromAuth = optionMessage(() => createApiKeyAuth({ store, realm: 'a"b' }));
    const fromReceiver = optionMessage(() => expressBasicAuth({ ...credentials, realm: 'a"b' }));

    expect(fromAuth).toBe('createApiKeyAuth: "realm" must be 1 to 100 printable ASCII characters without quotes or backslashes.');
    expect(fromReceiver).toBe('expressBasicAuth: "realm" must be 1 to 100 printable ASCII characters without quotes or backslashes.');
  });

  it('name an unknown field of an object option after the option', () => {
    expect(optionMessage(() => createApiKeyAuth({ store, memo: { maxEntrie: 1 } as never }))).toBe(
      'createApiKeyAuth: unknown option "maxEntrie" in "memo". Did you mean "maxEntries"?',
    );
  });

  it('list missing Argon2 parameters as a sentence does', () => {
    expect(optionMessage(() => createKeyManager({ store, argon2: {} as never }))).toBe(
      'createKeyManager: "argon2" needs all three parameters; memoryKiB, iterations and parallelism missing: { memoryKiB, iterations, parallelism }.',
    );
  });
});

describe('unknown option names in messages', () => {
  it('are quoted as JSON and cut to 40 characters, so a name sent by a client cannot break a log line', () => {
    const name = `${'x'.repeat(60)}\nforged log line`;
    const thrown = (() => {
      try {
        createApiKeyAuth({ store: new MemoryKeyStore(), [name]: 1 } as never);
      } catch (error) {
        return error as ApiKeyAuthError;
      }
    })();
    expect(thrown?.code).toBe('ERR_OPTIONS_INVALID');
    expect(thrown?.message).toBe(`createApiKeyAuth: unknown option "${'x'.repeat(40)}…".`);
  });

  it.each([
    ['a key', (key: string) => key, '"sk_test_…"'],
    ['a key after text', (key: string) => `key=${key}`, '"key=sk_test_…"'],
    ['a key behind 30 characters', (key: string) => `${'y'.repeat(30)}${key}`, `"${'y'.repeat(30)}sk_test_…"`],
    ['a key in capitals', (key: string) => key.toUpperCase(), '"SK_TEST_…"'],
    ['a URL-encoded key', (key: string) => key.replaceAll('_', '%5F'), '"sk%5Ftest%5F…"'],
  ])('show %s only up to its prefix, never its lookup id or secret', (_name, nameOf, shown) => {
    const { key } = generateApiKey('sandbox');
    const name = nameOf(key);
    const message = (() => {
      try {
        createApiKeyAuth({ store: new MemoryKeyStore(), [name]: 1 } as never);
      } catch (error) {
        return (error as ApiKeyAuthError).message;
      }
    })();
    expect(message).toBe(`createApiKeyAuth: unknown option ${shown}.`);
    expect(message?.toLowerCase()).not.toContain(key.slice(8, 20).toLowerCase());
  });
});
