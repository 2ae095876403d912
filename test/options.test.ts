import { describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, generateApiKey, MemoryKeyStore, resolveRouteOptions, type ApiKeyAuthError, type ApiKeyAuthOptions } from 'keyward';

const store = new MemoryKeyStore();
const make = (options: unknown) => () => createApiKeyAuth(options as ApiKeyAuthOptions);

describe('createApiKeyAuth options', () => {
  it.each([
    ['no options at all', undefined, 'createApiKeyAuth expects an options object.'],
    ['a missing store', {}, '"store" is required: pass a KeyStore such as new MemoryKeyStore().'],
    ['a store lacking methods', { store: { findByLookupId() {} } }, '"store" lacks the KeyStore method(s) findLive, findById, insert, modify, recordUsage.'],
    ['a misspelt option', { store, apiKeyHeadr: 'x-key' }, 'createApiKeyAuth: unknown option "apiKeyHeadr". Did you mean "apiKeyHeader"?'],
    ['a realm with a quote', { store, realm: 'my "api"' }, '"realm" must be 1 to 100 printable ASCII characters without quotes or backslashes.'],
    ['an empty environment list', { store, environments: [] }, '"environments" must be a non-empty array of "production" and "sandbox".'],
    ['an unknown environment', { store, environments: ['staging'] }, '"environments" may hold "production" and "sandbox" only, not "staging".'],
    ['a zero store timeout', { store, storeTimeoutMs: 0 }, '"storeTimeoutMs" must be an integer from 1 to 60000.'],
    ['Authorization as the extra header', { store, apiKeyHeader: 'Authorization' }, '"apiKeyHeader" cannot be "authorization"; the Bearer scheme is always read from it.'],
    ['a header name with a space', { store, apiKeyHeader: 'x api key' }, '"apiKeyHeader" must be false or a name of letters, digits, "-" and "_".'],
    ['a hook that is not a function', { store, onDecision: 'log' }, '"onDecision" must be a function.'],
  ])('refuses %s with ERR_OPTIONS_INVALID', (_name, options, message) => {
    expect(make(options)).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message }));
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
      expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message: '"argon2" memoryKiB must be an integer from 8 × parallelism to 1048576.' }),
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
