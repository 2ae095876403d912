import { describe, expect, it } from 'vitest';
import { createApiKeyAuth } from '../src/authenticator.js';
import { ApiKeyAuthError } from '../src/errors.js';
import { MemoryKeyStore } from '../src/memory-store.js';
import { RefusalFactory, type ErrorBodyFormatter } from '../src/responses.js';
import { CaptureLogger } from './helpers/capture-logger.js';

const refusals = new RefusalFactory('api', 1);
const frames = (error: Error) => (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at '));

describe('RefusalFactory', () => {
  // A flood of forged keys creates refusals by the thousand; capturing a stack for each one
  // was the costliest step of a refusal and tells nothing (it only points into keyward).
  it.each([
    ['missing', () => refusals.missing()],
    ['invalid', () => refusals.invalid()],
    ['inactive', () => refusals.inactive('suspended')],
    ['wrong type', () => refusals.wrongType('sms_api')],
    ['overloaded', () => refusals.overloaded()],
    ['too many attempts', () => refusals.tooManyAttempts(30)],
  ])('builds the %s error without stack frames', (_name, build) => {
    const error = build().toError();
    expect(error).toBeInstanceOf(ApiKeyAuthError);
    expect(frames(error)).toEqual([]);
    expect(error.stack).toContain(error.message);
  });

  it('names the route\'s key type in the wrong-type message, quoted and escaped', () => {
    expect(refusals.wrongType('sms_api').toError().message).toBe('This route needs an API key of type "sms_api".');
    expect(refusals.wrongType('a'.repeat(64)).toError().message).toBe(`This route needs an API key of type "${'a'.repeat(64)}".`);
    expect(refusals.wrongType('sms "api"\u2028').toError().message).toBe('This route needs an API key of type "sms \\"api\\"\\u2028".');
  });

  it.each(['enterprisecustomerbillingintegration', 'analyticsdashboardreadonlyaccess', 'desk_live_chat', 'risk_test_runner', 'sk_live_x'])(
    'names a key type issue gives (%s) whole, however much it looks like a key\'s text',
    (keyType) => {
      expect(refusals.wrongType(keyType).toError().message).toBe(`This route needs an API key of type "${keyType}".`);
    },
  );

  it('cuts another issuer\'s key type at 64 characters', () => {
    const keyType = `Type-${'x'.repeat(70)}`;
    expect(refusals.wrongType(keyType).toError().message).toBe(`This route needs an API key of type "${keyType.slice(0, 64)}…".`);
  });

  it('cuts a route key type that holds a key at the key\'s prefix, as every client of another type would read it', () => {
    const key = `sk_live_${'Ab3dE6gH9jK2'}${'mN5pQ8sT1vW4yZ7bC0eF3hJ6kM9nP2rS'}abc123`;
    const error = refusals.wrongType(key).toError();
    expect(error.message).toBe('This route needs an API key of type "sk_live_…".');
    expect(error.expose).toBe(true);
  });

  it('keeps the stack of faults, which point at a problem to fix', () => {
    expect(frames(refusals.unavailable(new Error('down')).toError()).length).toBeGreaterThan(0);
    expect(frames(refusals.fault('ERR_STORED_ROW_INVALID', 'stored row invalid').toError()).length).toBeGreaterThan(0);
  });

  it('leaves the process stack trace limit as it found it', () => {
    const before = Error.stackTraceLimit;
    refusals.tooManyAttempts(7).toError();
    expect(Error.stackTraceLimit).toBe(before);
  });

  it('answers 429 with the Retry-After it was given, in the error and in the response', () => {
    const refusal = refusals.tooManyAttempts(42);
    const error = refusal.toError();
    expect([error.status, error.code, error.headers]).toEqual([429, 'ERR_TOO_MANY_ATTEMPTS', { 'retry-after': '42' }]);
    expect(refusal.response).toEqual({
      status: 429,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        'retry-after': '42',
        'content-length': '93',
      },
      body: '{"error":{"code":"ERR_TOO_MANY_ATTEMPTS","message":"Too many failed attempts. Retry later."}}',
    });
    expect(refusals.tooManyAttempts(41).response.headers['retry-after']).toBe('41');
  });

  it('hands out the unchanging answers frozen, so no request can change the next one', () => {
    const invalid = refusals.invalid();
    expect(refusals.invalid()).toBe(invalid);
    expect(() => Object.assign(invalid.response.headers, { 'x-extra': '1' })).toThrow(TypeError);
    expect(() => Object.assign(invalid.response, { status: 200 })).toThrow(TypeError);
    expect(refusals.invalid().response.status).toBe(401);
  });

  it('builds a new error for every request even where the answer is shared', () => {
    expect(refusals.invalid().toError()).not.toBe(refusals.invalid().toError());
  });

  it('calls an app body formatter for every refusal, with the error, since its answer may vary', () => {
    let calls = 0;
    const seen: unknown[] = [];
    const format: ErrorBodyFormatter = (error) => {
      seen.push(error);
      return { code: error.code, n: ++calls };
    };
    const custom = new RefusalFactory('api', 1, format);
    expect(custom.invalid().response.body).toBe('{"code":"ERR_API_KEY_INVALID","n":1}');
    expect(custom.invalid().response.body).toBe('{"code":"ERR_API_KEY_INVALID","n":2}');
    expect(seen.every((error) => error instanceof ApiKeyAuthError)).toBe(true);
    const refusal = custom.tooManyAttempts(3);
    // The formatter gets a copy of the error the refusal hands on.
    expect(seen.at(-1)).toMatchObject({ code: 'ERR_TOO_MANY_ATTEMPTS', status: 429, headers: { 'retry-after': '3' } });
    expect(refusal.toError()).not.toBe(seen.at(-1));
    expect(refusal.toError()).toMatchObject({ code: 'ERR_TOO_MANY_ATTEMPTS', status: 429 });
  });
});

describe('authenticate() refusals', () => {
  it('give an error that is built once per result and never shared between requests', async () => {
    const auth = createApiKeyAuth({ store: new MemoryKeyStore(), argon2Pool: false });
    const request = { headers: { authorization: 'Bearer not-a-key' } };
    const first = await auth.authenticate(request);
    const second = await auth.authenticate(request);
    await auth.close();
    if (first.ok || second.ok) throw new Error('a malformed key passed');

    const { error } = first;
    expect(error).toBeInstanceOf(ApiKeyAuthError);
    expect([error.code, error.status, error.headers]).toEqual([
      'ERR_API_KEY_INVALID',
      401,
      { 'www-authenticate': 'Bearer realm="api", error="invalid_token"' },
    ]);
    expect(first.error).toBe(error);
    expect(second.error).not.toBe(error);
    expect(second.response).toEqual(first.response);
  });
});

describe('an app errorBody formatter', () => {
  const refuse = async (errorBody: ErrorBodyFormatter) => {
    const auth = createApiKeyAuth({ store: new MemoryKeyStore(), argon2Pool: false, errorBody });
    const results = [await auth.authenticate({ headers: {} }), await auth.authenticate({ headers: {} })];
    await auth.close();
    return results.map((result) => (result.ok ? undefined : result.response));
  };

  it('is serialized once, so a result that fails only when serialized again still gets an answer', async () => {
    let calls = 0;
    const flaky = {
      toJSON() {
        calls += 1;
        if (calls % 2 === 0) throw new Error('second serialization');
        return { problem: 'missing key' };
      },
    };
    const [first, second] = await refuse(() => flaky);
    expect([first?.status, first?.body]).toEqual([401, '{"problem":"missing key"}']);
    expect([second?.status, JSON.parse(second!.body).error.code]).toEqual([401, 'ERR_API_KEY_MISSING']);
  });

  it('falls back to the default body of the untouched error when it changes the error and then throws', async () => {
    const [response] = await refuse((error) => {
      Object.assign(error, { expose: true, code: 'ERR_X', message: 'LEAKED-INTERNAL' });
      throw new Error('formatter bug');
    });
    expect(response?.body).toBe(
      '{"error":{"code":"ERR_API_KEY_MISSING","message":"An API key is required. Send it as \\"Authorization: Bearer <key>\\"."}}',
    );
  });

  it('falls back to the default body when it is async, whose promise would serialize as {}', async () => {
    const [response] = await refuse(async () => ({ problem: 'never seen' }));
    expect(JSON.parse(response!.body).error.code).toBe('ERR_API_KEY_MISSING');
  });

  it('falls back to the default body when it is async and rejects, and leaves no unhandled rejection', async () => {
    const [response] = await refuse(async () => {
      throw new Error('formatter bug');
    });
    // An unobserved rejection would surface by now and fail this run.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(JSON.parse(response!.body).error.code).toBe('ERR_API_KEY_MISSING');
  });

  it('is given a copy, so the error handed on (forwardErrors) keeps its status, message and headers', async () => {
    const auth = createApiKeyAuth({
      store: new MemoryKeyStore(),
      argon2Pool: false,
      errorBody: (error) => {
        Object.assign(error, { status: 200, statusCode: 200, expose: true, message: 'mutated', headers: {} });
        return {};
      },
    });
    const result = await auth.authenticate({ headers: {} });
    await auth.close();
    if (result.ok) throw new Error('a request without a key passed');
    expect([result.error.status, result.error.statusCode, result.error.message, result.error.headers]).toEqual([
      401,
      401,
      'An API key is required. Send it as "Authorization: Bearer <key>".',
      { 'www-authenticate': 'Bearer realm="api"' },
    ]);
  });

  it.each([
    ['throws', () => { throw new Error('formatter bug'); }, 'threw', 'Error: formatter bug'],
    ['is async', async () => ({ problem: 'never seen' }), 'returned a promise', undefined],
    ['returns a BigInt', () => 1n, 'returned no JSON', undefined],
    ['returns undefined', () => undefined, 'returned no JSON', undefined],
    ['returns a thenable whose then getter throws', () => ({ get then() { throw new Error('then getter'); } }), 'threw', 'Error: then getter'],
  ])('logs one keyward.error_body_failed warning a second when it %s, and answers with the default body', async (_name, errorBody, failure, error) => {
    const logger = new CaptureLogger();
    const auth = createApiKeyAuth({ store: new MemoryKeyStore(), argon2Pool: false, errorBody: errorBody as ErrorBodyFormatter, logger });
    const results = await Promise.all([1, 2, 3].map(() => auth.authenticate({ headers: {} })));
    await auth.close();

    expect(results.map((result) => (result.ok ? 200 : JSON.parse(result.response.body).error.code))).toEqual(Array(3).fill('ERR_API_KEY_MISSING'));
    const warnings = logger.entries.filter((entry) => entry.fields.event === 'keyward.error_body_failed');
    expect(warnings.map((entry) => [entry.level, entry.fields.failure, entry.fields.error])).toEqual([['warn', failure, error]]);
    expect(warnings[0]!.message).toBe(`keyward: errorBody ${failure}; the refusal was sent with the default body`);
  });

  it('changes only the body, even when it changes the error it is given', async () => {
    const [response] = await refuse((error) => {
      Object.assign(error, { status: 200, headers: { 'set-cookie': 'x=1' } });
      return { problem: error.code };
    });
    expect(response?.status).toBe(401);
    expect(response?.headers['www-authenticate']).toBe('Bearer realm="api"');
    expect(response?.headers['set-cookie']).toBeUndefined();
    expect(response?.body).toBe('{"problem":"ERR_API_KEY_MISSING"}');
  });
});
