import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiKeyAuthError, createBasicAuthChecker, DEFAULT_BASIC_AUTH_THROTTLE, generateApiKey, type BasicAuthResult } from '../src/index.js';
import { MAX_BASIC_HEADER_LENGTH } from '../src/basic-auth.js';
import * as compare from '../src/compare.js';

vi.mock('../src/compare.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/compare.js')>();
  return { ...actual, secretsEqual: vi.fn(actual.secretsEqual) };
});

const checker = createBasicAuthChecker({ username: 'hook-relay', password: 'p4ss:w0rd:x' });
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

function failure(result: BasicAuthResult) {
  expect(result.ok).toBe(false);
  return result as Extract<BasicAuthResult, { ok: false }>;
}

describe('createBasicAuthChecker: accepted', () => {
  it.each([
    ['the exact header', 'Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA=='],
    ['the scheme in lower case', 'basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA=='],
    ['the scheme in upper case', 'BASIC aG9vay1yZWxheTpwNHNzOncwcmQ6eA=='],
    ['several spaces after the scheme', 'Basic    aG9vay1yZWxheTpwNHNzOncwcmQ6eA=='],
    ['spaces and tabs around the value', ' \tBasic aG9vay1yZWxheTpwNHNzOncwcmQ6eA== \t'],
    ['the padding left out', 'Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA'],
  ])('%s', (_what, header) => {
    expect(checker.check(header)).toEqual({ ok: true });
  });

  it('accepts the same header sent twice', () => {
    const header = `Basic ${b64('hook-relay:p4ss:w0rd:x')}`;

    expect(checker.check([header, header])).toEqual({ ok: true });
  });

  it('accepts an empty user-id when configured with none', () => {
    const noUser = createBasicAuthChecker({ username: '', password: 'pw1' });

    expect(noUser.check(`Basic ${b64(':pw1')}`)).toEqual({ ok: true });
    expect(noUser.check(`Basic ${b64('x:pw1')}`).ok).toBe(false);
  });

  it('reads a null username as none, as setWebhook does, and still refuses one left out', () => {
    const noUser = createBasicAuthChecker({ username: null, password: 'pw1' });

    expect(noUser.check(`Basic ${b64(':pw1')}`)).toEqual({ ok: true });
    expect(noUser.check(`Basic ${b64('null:pw1')}`).ok).toBe(false);
    expect(() => createBasicAuthChecker({ password: 'pw1' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message: 'createBasicAuthChecker: "username" must be a string (\'\' or null for none).' }),
    );
  });

  it('accepts a password of exactly 1,024 bytes (the longest setWebhook stores)', () => {
    for (const password of ['x'.repeat(1024), `${'p\u00e4'.repeat(341)}x`]) {
      expect(Buffer.byteLength(password)).toBe(1024);
      const longest = createBasicAuthChecker({ username: 'hook-relay', password });

      expect(longest.check(`Basic ${b64(`hook-relay:${password}`)}`)).toEqual({ ok: true });
      expect(longest.check(`Basic ${b64(`hook-relay:${password.slice(1)}`)}`).ok).toBe(false);
    }
  });

  it('accepts the longest username and password together, their header within the length cap', () => {
    const username = '\u00fc'.repeat(128);
    const password = '\u00e4'.repeat(512);
    const header = `Basic ${b64(`${username}:${password}`)}`;
    const longest = createBasicAuthChecker({ username, password });

    expect(header.length).toBeLessThanOrEqual(MAX_BASIC_HEADER_LENGTH);
    expect(longest.check(header)).toEqual({ ok: true });
  });

  it('accepts UTF-8 credentials (C23 a)', () => {
    const utf8 = createBasicAuthChecker({ username: 'hook-relay', password: 'p\u00e4ssw\u00f6rd' });

    expect(utf8.check('Basic aG9vay1yZWxheTpww6Rzc3fDtnJk')).toEqual({ ok: true });
  });

  it('compares in Unicode normalization form C, as charset="UTF-8" asks: a combining accent matches the accented letter either way', () => {
    const composed = 'p\u00e4ssw\u00f6rd';
    const decomposed = 'pa\u0308sswo\u0308rd';
    for (const [configured, sent] of [[decomposed, composed], [composed, decomposed], [decomposed, decomposed]]) {
      const receiver = createBasicAuthChecker({ username: 'Jos\u00e9', password: configured! });
      expect(receiver.check(`Basic ${b64(`Jose\u0301:${sent}`)}`)).toEqual({ ok: true });
    }
    expect(createBasicAuthChecker({ username: 'u', password: decomposed }).check(`Basic ${b64('u:passwoord')}`).ok).toBe(false);
  });
});

describe('createBasicAuthChecker: refused', () => {
  it.each([
    ['a missing header', undefined, 'missing'],
    ['an empty array of headers', [], 'missing'],
    ['another scheme', 'Bearer aG9vay1yZWxheTpwNHNzOncwcmQ6eA==', 'malformed_header'],
    ['the scheme alone (C22 d)', 'Basic', 'malformed_header'],
    ['the scheme and spaces', 'Basic    ', 'malformed_header'],
    ['a tab as separator', 'Basic\taG9vay1yZWxheTpwNHNzOncwcmQ6eA==', 'malformed_header'],
    ['two different headers', [`Basic ${b64('hook-relay:p4ss:w0rd:x')}`, `Basic ${b64('a:b')}`], 'malformed_header'],
    ['a value over the length cap', `Basic ${'A'.repeat(5000)}`, 'too_long'],
    ['the first character dropped (C22 a)', 'Basic G9vay1yZWxheTpwNHNzOncwcmQ6eA==', 'malformed_credentials'],
    ['characters outside base64 (C22 b)', 'Basic !!!', 'malformed_credentials'],
    ['credentials not encoded (C22 c)', 'Basic hook-relay:p4ss', 'malformed_credentials'],
    ['base64url characters', 'Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA-_', 'malformed_credentials'],
    ['too much padding', 'Basic aG9vay1yZWxheTpwdzE==', 'malformed_credentials'],
    ['padding alone', 'Basic ==', 'malformed_credentials'],
    ['an impossible length (one leftover character)', 'Basic aG9vay1yZWxheTpwNHNzOncwcmQ6e', 'malformed_credentials'],
    ['non-canonical base64 (unused bits set in the last character)', 'Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eB==', 'malformed_credentials'],
    ['a second word after the credentials', 'Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA== extra', 'malformed_credentials'],
    ['no colon at all (C21 b)', 'Basic aG9vay1yZWxheQ==', 'malformed_credentials'],
    ['invalid UTF-8 (C23 c)', 'Basic aG9vay1yZWxheTr//g==', 'malformed_credentials'],
    ['latin1 bytes for a UTF-8 password (C23 b)', 'Basic aG9vay1yZWxheTpw5HNzd/ZyZA==', 'malformed_credentials'],
    ['a wrong user', `Basic ${b64('hook-relayx:p4ss:w0rd:x')}`, 'mismatch'],
    ['a wrong password', `Basic ${b64('hook-relay:p4ss:w0rd')}`, 'mismatch'],
    ['the password cut at its first colon', `Basic ${b64('hook-relay:p4ss')}`, 'mismatch'],
    ['user and password swapped', `Basic ${b64('p4ss:w0rd:x:hook-relay')}`, 'mismatch'],
    ['the user in another case', `Basic ${b64('Hook-Relay:p4ss:w0rd:x')}`, 'mismatch'],
  ])('refuses %s, with its reason', (_what, header, reason) => {
    const result = failure(checker.check(header as string | string[] | undefined));

    expect(result.reason).toBe(reason);
    expect(result.response.status).toBe(401);
    expect(result.response.headers['www-authenticate']).toBe('Basic realm="webhooks", charset="UTF-8"');
  });

  it.each([
    ['a number', 123],
    ['an object', {}],
    ['null', null],
    ['an array holding a number', [1]],
    ['an array holding a header and a number', ['Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==', 1]],
    ['a sparse array', [, 'Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==']],
  ])('refuses %s as a malformed header instead of throwing', (_what, input) => {
    const malformed = failure(checker.check('Bearer x'));

    const result = failure(checker.check(input as never));

    expect(result.reason).toBe('malformed_header');
    expect(result.error.code).toBe('ERR_BASIC_AUTH_INVALID');
    expect(result.response).toEqual(malformed.response);
  });

  it('refuses non-canonical base64 that decodes to the right credentials, padded or not', () => {
    const short = createBasicAuthChecker({ username: 'u', password: 'pw' });
    const malformed = failure(short.check('Bearer x'));

    expect(short.check('Basic dTpwdw==')).toEqual({ ok: true });
    expect(short.check('Basic dTpwdw')).toEqual({ ok: true });
    for (const header of ['Basic dTpwdx==', 'Basic dTpwdx', 'Basic dTpwd/==']) {
      const result = failure(short.check(header));
      expect(result.reason).toBe('malformed_credentials');
      expect(result.response).toEqual(malformed.response);
    }
  });

  it('refuses latin1-encoded and double-encoded forms of a UTF-8 password', () => {
    const utf8 = createBasicAuthChecker({ username: 'hook-relay', password: 'p\u00e4ssw\u00f6rd' });

    expect(failure(utf8.check('Basic aG9vay1yZWxheTpw5HNzd/ZyZA==')).reason).toBe('malformed_credentials');
    expect(failure(utf8.check(`Basic ${b64('hook-relay:p\u00c3\u00a4ssw\u00c3\u00b6rd')}`)).reason).toBe('mismatch');
  });

  it('answers a missing header with ERR_BASIC_AUTH_MISSING and the exact response', () => {
    const result = failure(checker.check(undefined));
    const body = JSON.stringify({
      error: {
        code: 'ERR_BASIC_AUTH_MISSING',
        message: 'Credentials are required. Send them as "Authorization: Basic <base64 of user:password>".',
      },
    });

    expect(result.error).toBeInstanceOf(ApiKeyAuthError);
    expect(result.error.code).toBe('ERR_BASIC_AUTH_MISSING');
    expect(result.response).toEqual({
      status: 401,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        'www-authenticate': 'Basic realm="webhooks", charset="UTF-8"',
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
    });
  });

  it('answers every other refusal with the same ERR_BASIC_AUTH_INVALID bytes', () => {
    const responses = ['Basic !!!', `Basic ${b64('hook-relay:nope')}`, `Basic ${b64('x:p4ss:w0rd:x')}`].map(
      (header) => failure(checker.check(header)).response,
    );

    expect(JSON.parse(responses[0]!.body)).toEqual({
      error: { code: 'ERR_BASIC_AUTH_INVALID', message: 'The credentials are invalid.' },
    });
    expect(responses[1]).toEqual(responses[0]);
    expect(responses[2]).toEqual(responses[0]);
  });

  it('never echoes the presented credentials', () => {
    const result = failure(checker.check(`Basic ${b64('hook-relay:zz-guess-42')}`));

    expect(JSON.stringify(result.response)).not.toContain('zz-guess-42');
    expect(result.error.message).not.toContain('zz-guess-42');
  });

  it('compares both username and password even when the username is wrong', () => {
    const spy = vi.mocked(compare.secretsEqual);
    spy.mockClear();

    checker.check(`Basic ${b64('wrong-user:p4ss:w0rd:x')}`);

    expect(spy).toHaveBeenCalledTimes(2);
    expect(spy.mock.calls.map(([presented, expected]) => [presented, expected])).toEqual([
      ['wrong-user', compare.secretDigest('hook-relay')],
      ['p4ss:w0rd:x', compare.secretDigest('p4ss:w0rd:x')],
    ]);
  });

  it('does no comparison at all for a header over the length cap', () => {
    const spy = vi.mocked(compare.secretsEqual);
    spy.mockClear();

    checker.check(`Basic ${b64(`hook-relay:${'x'.repeat(4000)}`)}`);

    expect(spy).not.toHaveBeenCalled();
  });
});

describe('createBasicAuthChecker: checkRawHeaders', () => {
  const good = `Basic ${b64('hook-relay:p4ss:w0rd:x')}`;
  /** rawHeaders with `count` lines: Authorization first, then filler. */
  const lines = (count: number) => ['Authorization', good, ...Array.from({ length: count - 1 }, (_, i) => [`x-${i}`, '1']).flat()];

  it('reads every Authorization copy, whatever its letter case', () => {
    expect(checker.checkRawHeaders(['Host', 'x', 'authorization', good, 'AUTHORIZATION', good])).toEqual({ ok: true });
    expect(failure(checker.checkRawHeaders(['Authorization', good, 'authorization', `Basic ${b64('a:b')}`])).reason).toBe('malformed_header');
    expect(failure(checker.checkRawHeaders(['Host', 'x'])).reason).toBe('missing');
  });

  it('refuses, never throws, when an app-built rawHeaders holds a value that is no string before a second Authorization', () => {
    for (const first of [5, null, [good]]) {
      expect(failure(checker.checkRawHeaders(['authorization', first, 'authorization', good] as unknown as string[])).reason).toBe('malformed_header');
    }
  });

  it('refuses a request with more than 1,000 header lines as a malformed header, good credentials or not', () => {
    const malformed = failure(checker.check('Bearer x'));

    expect(checker.checkRawHeaders(lines(1_000))).toEqual({ ok: true });
    const result = failure(checker.checkRawHeaders(lines(1_001)));
    expect(result.reason).toBe('malformed_header');
    expect(result.response).toEqual(malformed.response);
  });
});

describe('createBasicAuthChecker: options', () => {
  it('names the realm in the challenge', () => {
    const custom = createBasicAuthChecker({ username: 'u', password: 'p', realm: 'Acme deliveries' });

    expect(failure(custom.check(undefined)).response.headers['www-authenticate']).toBe(
      'Basic realm="Acme deliveries", charset="UTF-8"',
    );
  });

  it('uses the app\'s error body', () => {
    const custom = createBasicAuthChecker({
      username: 'u',
      password: 'p',
      errorBody: (error) => ({ problem: error.code }),
    });

    expect(failure(custom.check('Basic !!!')).response.body).toBe('{"problem":"ERR_BASIC_AUTH_INVALID"}');
  });

  it.each([
    ['a realm with a quote', { username: 'u', password: 'p', realm: 'a"b' }, /"realm"/],
    ['a realm with a backslash', { username: 'u', password: 'p', realm: 'a\\b' }, /"realm"/],
    ['a username with a colon', { username: 'u:v', password: 'p' }, /"username"/],
    ['a username with a line break', { username: 'u\nv', password: 'p' }, /"username"/],
    ['no username', { password: 'p' }, /"username"/],
    ['an empty password', { username: 'u', password: '' }, /"password"/],
    ['a password that is not a string', { username: 'u', password: 42 }, /"password"/],
    ['a non-boolean forwardErrors', { username: 'u', password: 'p', forwardErrors: 'yes' }, /"forwardErrors"/],
    ['a misspelt option', { username: 'u', password: 'p', relam: 'x' }, /Did you mean "realm"/],
    ['a password too long for any header under the cap', { username: 'u', password: 'x'.repeat(3100) }, /"password" must be at most 1024 bytes/],
    ['a password of 1,025 bytes', { username: 'u', password: `${'\u00e4'.repeat(512)}x` }, /"password" must be at most 1024 bytes/],
    ['a password ending in a line break', { username: 'u', password: 'SECRET\n' }, /"password" must not contain control characters/],
    ['a password with a tab', { username: 'u', password: 'SEC\tRET' }, /"password" must not contain control characters/],
    ['a password with a lone surrogate', { username: 'u', password: 'p\ud800' }, /"password" must be well-formed/],
    ['a username of 257 bytes', { username: 'u'.repeat(257), password: 'p' }, /"username" must be at most 256 bytes/],
    ['a username with a right-to-left override (U+202E)', { username: 'u\u202ev', password: 'p' }, /"username" must not contain .*invisible or blank-looking characters/],
    ['a username with a line separator (U+2028)', { username: 'u\u2028v', password: 'p' }, /"username" must not contain .*line or paragraph separators/],
    ['a username with a paragraph separator (U+2029)', { username: 'u\u2029v', password: 'p' }, /"username"/],
    ['a username with a zero-width space', { username: 'u\u200bv', password: 'p' }, /"username"/],
    ['a username of spaces alone', { username: '  ', password: 'p' }, /"username" must not be only whitespace/],
    ['a username holding an API key', { username: `relay ${generateApiKey('sandbox').key}`, password: 'p' }, /"username" holds an API key/],
    ['a password over 1,024 bytes as configured (1,200), though 800 in normalization form C', { username: 'u', password: 'e\u0301'.repeat(400) }, /"password" must be at most 1024 bytes/],
    ['a username that is a Braille pattern blank (U+2800)', { username: '\u2800', password: 'p' }, /"username" must not contain .*invisible or blank-looking characters/],
  ])('refuses %s at setup with ERR_OPTIONS_INVALID', (_what, options, message) => {
    let error: unknown;
    try {
      createBasicAuthChecker(options as never);
    } catch (caught) {
      error = caught;
    }

    expect((error as ApiKeyAuthError).code).toBe('ERR_OPTIONS_INVALID');
    expect((error as ApiKeyAuthError).message).toMatch(message);
    expect((error as ApiKeyAuthError).message).not.toMatch(/xxxx|SECRET|SEC\tRET|u\u202ev|u\u2028v/);
  });
});

describe('createBasicAuthChecker: throttle', () => {
  const good = `Basic ${b64('hook-relay:p4ss:w0rd:x')}`;
  const wrong = (n: number) => `Basic ${b64(`hook-relay:guess-${n}`)}`;
  const TOO_MANY_BODY = '{"error":{"code":"ERR_TOO_MANY_ATTEMPTS","message":"Too many failed attempts. Retry later."}}';
  const guarded = (throttle?: unknown) =>
    createBasicAuthChecker({ username: 'hook-relay', password: 'p4ss:w0rd:x', ...(throttle === undefined ? {} : { throttle: throttle as never }) });
  const fail = (receiver: ReturnType<typeof guarded>, times: number, client?: string) => {
    for (let n = 0; n < times; n++) expect(failure(receiver.check(wrong(n), client)).response.status).toBe(401);
  };

  beforeEach(() => {
    // Only Date: the throttle reads Date.now(), and nothing here waits on a timer.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse('2026-06-01T12:00:00Z') });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers 429 with Retry-After after 20 wrong passwords from one address in 15 minutes, even to the right one', () => {
    const receiver = guarded();
    fail(receiver, 20, '203.0.113.7');

    const result = failure(receiver.check(good, '203.0.113.7'));

    expect(result.reason).toBe('too_many_attempts');
    expect(result.error).toBeInstanceOf(ApiKeyAuthError);
    expect([result.error.code, result.error.status, result.error.expose]).toEqual(['ERR_TOO_MANY_ATTEMPTS', 429, true]);
    expect(result.error.headers).toEqual({ 'retry-after': '900' });
    expect(result.response).toEqual({
      status: 429,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        'retry-after': '900',
        'content-length': String(TOO_MANY_BODY.length),
      },
      body: TOO_MANY_BODY,
    });
  });

  it('looks at no credentials once over the limit', () => {
    const receiver = guarded({ maxFailuresPerClient: 3 });
    fail(receiver, 3, '203.0.113.7');
    const spy = vi.mocked(compare.secretsEqual);
    spy.mockClear();

    for (const header of [good, wrong(99), undefined, 'Basic !!!']) {
      expect(failure(receiver.check(header, '203.0.113.7')).response.status).toBe(429);
    }
    expect(failure(receiver.checkRawHeaders(['Authorization', good], '203.0.113.7')).response.status).toBe(429);
    expect(spy).not.toHaveBeenCalled();
  });

  it('holds back only the address that failed (an IPv6 one by its /64)', () => {
    const receiver = guarded({ maxFailuresPerClient: 3 });
    fail(receiver, 3, '203.0.113.7');
    fail(receiver, 3, '2001:db8:7:9::1');

    expect(receiver.check(good, '198.51.100.1')).toEqual({ ok: true });
    expect(receiver.check(good, '2001:db8:7:a::1')).toEqual({ ok: true });
    expect(failure(receiver.check(good, '2001:db8:7:9::2')).response.status).toBe(429);
    expect(failure(receiver.check(good, '203.0.113.7')).response.status).toBe(429);
  });

  it('lets the right password through before the limit, and a success does not reset the count', () => {
    const receiver = guarded({ maxFailuresPerClient: 3 });
    fail(receiver, 2, '203.0.113.7');

    expect(receiver.check(good, '203.0.113.7')).toEqual({ ok: true });
    fail(receiver, 1, '203.0.113.7');
    expect(failure(receiver.check(good, '203.0.113.7')).response.status).toBe(429);
  });

  it('counts no request without credentials, nor any header that could never have been right', () => {
    const receiver = guarded({ maxFailuresPerClient: 3 });
    const neverRight = [undefined, [], 'Bearer x', 'Basic', 'Basic !!!', 'Basic aG9vay1yZWxheQ==', `Basic ${'A'.repeat(5000)}`, [good, wrong(0)]];

    for (let round = 0; round < 3; round++) {
      for (const header of neverRight) expect(failure(receiver.check(header as never, '203.0.113.7')).response.status).toBe(401);
      expect(failure(receiver.checkRawHeaders(['Host', 'x'], '203.0.113.7')).response.status).toBe(401);
    }

    expect(receiver.check(good, '203.0.113.7')).toEqual({ ok: true });
  });

  it('lets the address through again once its window ends, Retry-After counting down meanwhile', () => {
    const receiver = guarded({ maxFailuresPerClient: 3, windowMs: 60_000 });
    fail(receiver, 3, '203.0.113.7');

    vi.advanceTimersByTime(44_500);
    expect(failure(receiver.check(good, '203.0.113.7')).response.headers['retry-after']).toBe('16');
    vi.advanceTimersByTime(15_500);
    expect(receiver.check(good, '203.0.113.7')).toEqual({ ok: true });
    fail(receiver, 2, '203.0.113.7');
    expect(receiver.check(good, '203.0.113.7')).toEqual({ ok: true });
  });

  it('counts every check without an address (left out, or empty) under one shared counter', () => {
    const receiver = guarded({ maxFailuresPerClient: 3 });
    fail(receiver, 2);
    fail(receiver, 1, '');

    expect(failure(receiver.check(good)).response.status).toBe(429);
    expect(failure(receiver.checkRawHeaders(['Authorization', good])).response.status).toBe(429);
    expect(receiver.check(good, '198.51.100.1')).toEqual({ ok: true });
  });

  it('counts checkRawHeaders failures as check() does, and answers 429 before reading the headers', () => {
    const receiver = guarded({ maxFailuresPerClient: 2 });
    const raw = (header: string) => ['Host', 'x', 'Authorization', header];
    for (let n = 0; n < 2; n++) expect(failure(receiver.checkRawHeaders(raw(wrong(n)), '203.0.113.7')).reason).toBe('mismatch');

    // Even a request that would be malformed gets the 429: nothing of it is read.
    const tooManyLines = Array.from({ length: 1_001 }, (_, i) => [`x-${i}`, '1']).flat();
    expect(failure(receiver.checkRawHeaders(tooManyLines, '203.0.113.7')).reason).toBe('too_many_attempts');
    expect(failure(receiver.check(good, '203.0.113.7')).reason).toBe('too_many_attempts');
  });

  it('with throttle: false, counts nothing, as before there was a throttle', () => {
    const receiver = guarded(false);
    fail(receiver, 100, '203.0.113.7');
    fail(receiver, 100);

    expect(receiver.check(good, '203.0.113.7')).toEqual({ ok: true });
    expect(receiver.check(good)).toEqual({ ok: true });
  });

  it('shapes the 429 with the app\'s errorBody too', () => {
    const receiver = createBasicAuthChecker({
      username: 'hook-relay',
      password: 'p4ss:w0rd:x',
      throttle: { maxFailuresPerClient: 1 },
      errorBody: (error) => ({ problem: error.code, status: error.status }),
    });
    receiver.check(wrong(0), '203.0.113.7');

    const result = failure(receiver.check(good, '203.0.113.7'));

    expect(result.response.body).toBe('{"problem":"ERR_TOO_MANY_ATTEMPTS","status":429}');
    expect(result.response.headers['retry-after']).toBe('900');
  });
});

describe('createBasicAuthChecker: throttle options', () => {
  it.each([
    [true, 'createBasicAuthChecker: "throttle" must be an object or false.'],
    [[], 'createBasicAuthChecker: "throttle" must be an object or false.'],
    [{ maxFailuresPerClient: 0 }, 'createBasicAuthChecker: "throttle.maxFailuresPerClient" must be an integer from 1 to 1000000.'],
    [{ maxFailuresPerClient: '20' }, 'createBasicAuthChecker: "throttle.maxFailuresPerClient" must be an integer from 1 to 1000000.'],
    [{ windowMs: 10 }, 'createBasicAuthChecker: "throttle.windowMs" must be an integer from 1000 to 86400000.'],
    [{ maxTracked: 0.5 }, 'createBasicAuthChecker: "throttle.maxTracked" must be an integer from 1 to 10000000.'],
    [{ ipv6PrefixLength: 16 }, 'createBasicAuthChecker: "throttle.ipv6PrefixLength" must be an integer from 32 to 128.'],
    [{ maxFailurePerClient: 3 }, 'createBasicAuthChecker: unknown option in "throttle" (its name is not repeated, as it could be a secret). Did you mean "maxFailuresPerClient"?'],
  ])('refuses throttle %j at setup with ERR_OPTIONS_INVALID', (throttle, message) => {
    expect(() => createBasicAuthChecker({ username: 'u', password: 'p', throttle: throttle as never })).toThrow(
      expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message }),
    );
  });

  it('refuses maxFailuresPerKey, which only the authenticator has', () => {
    expect(() => createBasicAuthChecker({ username: 'u', password: 'p', throttle: { maxFailuresPerKey: 5 } as never })).toThrow(
      expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message: expect.stringMatching(/^createBasicAuthChecker: unknown option in "throttle" \(its name is not repeated/) }),
    );
  });

  it('does not repeat an unknown throttle name, which could be the password put in the wrong place', () => {
    const password = 'hunter2hunter2';
    let thrown: unknown;
    try {
      createBasicAuthChecker({ username: 'u', password, throttle: { [password]: 1 } as never });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'ERR_OPTIONS_INVALID' });
    expect((thrown as Error).message).toBe(
      'createBasicAuthChecker: unknown option in "throttle" (its name is not repeated, as it could be a secret). The options of "throttle" are maxFailuresPerClient, windowMs, maxTracked, ipv6PrefixLength.',
    );
    expect((thrown as Error).stack).not.toContain(password);
  });

  it('defaults to 20 failures per client in 15 minutes, 10,000 tracked, IPv6 per /64', () => {
    expect(DEFAULT_BASIC_AUTH_THROTTLE).toEqual({ maxFailuresPerClient: 20, windowMs: 900_000, maxTracked: 10_000, ipv6PrefixLength: 64 });
    expect(Object.isFrozen(DEFAULT_BASIC_AUTH_THROTTLE)).toBe(true);
  });

  it('leaves the caller\'s throttle object untouched', () => {
    const throttle = { maxFailuresPerClient: 3 };
    createBasicAuthChecker({ username: 'u', password: 'p', throttle });

    expect(throttle).toEqual({ maxFailuresPerClient: 3 });
  });
});
