import { describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, extractCredential, MAX_CREDENTIAL_HEADER_LENGTH, MemoryKeyStore, parseBearerHeader, rawHeaderValue } from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';

const carriers = { apiKeyHeader: 'x-api-key', queryParameter: false } as const;

describe('parseBearerHeader', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['bEaReR abc', 'abc'],
    ['Bearer    abc', 'abc'],
    ['  Bearer abc  ', 'abc'],
    ['\tBearer abc\t', 'abc'],
  ])('reads the token from %j', (header, token) => {
    expect(parseBearerHeader(header)).toEqual({ ok: true, credential: token });
  });

  it.each([
    ['Bearer', 'empty'],
    ['Bearer   ', 'empty'],
    ['Bearer\tabc', 'malformed_header'],
    ['Bearer abc def', 'malformed_header'],
    ['Bearer abc\tdef', 'malformed_header'],
    ['Basic abc', 'malformed_header'],
    ['Bearerabc', 'malformed_header'],
    ['Token abc', 'malformed_header'],
    ['Bearers abc', 'malformed_header'],
    ['Beare abc', 'malformed_header'],
    // Characters one bit (not the case bit) away from a letter of Bearer, and a lookalike.
    ['Bearer\u00a0abc', 'malformed_header'],
    ['\u0392earer abc', 'malformed_header'],
    ['Bearer\u0000 abc', 'malformed_header'],
    ['@earer abc', 'malformed_header'],
    ['Bea\u0012er abc', 'malformed_header'],
    ['Bearer ab\u00e9', 'malformed_header'],
    ['Bearer ab\u0000c', 'malformed_header'],
  ])('refuses %j as %s', (header, reason) => {
    expect(parseBearerHeader(header)).toEqual({ ok: false, reason });
  });

  it('refuses a value longer than the cap before looking at it', () => {
    expect(parseBearerHeader(`Bearer ${'a'.repeat(MAX_CREDENTIAL_HEADER_LENGTH)}`)).toEqual({ ok: false, reason: 'too_long' });
    expect(parseBearerHeader(`Bearer${' '.repeat(50_000)}\n`)).toEqual({ ok: false, reason: 'too_long' });
  });
});

describe('extractCredential', () => {
  it('reports a request without any carrier as missing', () => {
    expect(extractCredential({ headers: {} }, carriers)).toEqual({ ok: false, reason: 'missing' });
  });

  it('reads X-API-Key when it is switched on, and ignores it when it is off', () => {
    expect(extractCredential({ headers: { 'x-api-key': 'k1' } }, carriers)).toEqual({ ok: true, credential: 'k1' });
    expect(extractCredential({ headers: { 'x-api-key': 'k1' } }, { ...carriers, apiKeyHeader: false })).toEqual({
      ok: false,
      reason: 'missing',
    });
  });

  it('finds header names in rawHeaders in any ASCII letter case, and no other folding', () => {
    const raw = (...rawHeaders: string[]) => ({ headers: {}, rawHeaders });
    expect(extractCredential(raw('AUTHORIZATION', 'Bearer k1'), carriers)).toEqual({ ok: true, credential: 'k1' });
    expect(extractCredential(raw('X-Api-Key', 'k1'), carriers)).toEqual({ ok: true, credential: 'k1' });
    // U+212A KELVIN SIGN lower-cases to "k" in JavaScript; it is no X-API-Key.
    expect(extractCredential(raw('X-API-\u212AEY', 'k1'), carriers)).toEqual({ ok: false, reason: 'missing' });
    expect(extractCredential(raw('x-api-kez', 'k1', 'authorizatioN', 'Bearer k2'), carriers)).toEqual({ ok: true, credential: 'k2' });
  });

  it('finds header names in a headers object in any ASCII letter case, as an app-built request may spell them', () => {
    const headers = (fields: Record<string, string>) => ({ headers: fields });
    expect(extractCredential(headers({ Authorization: 'Bearer k1' }), carriers)).toEqual({ ok: true, credential: 'k1' });
    // Two carriers, or one carrier spelt twice, with different keys: refused, never one of them.
    expect(extractCredential(headers({ Authorization: 'Bearer k1', 'x-api-key': 'k2' }), carriers)).toEqual({ ok: false, reason: 'conflicting_credentials' });
    expect(extractCredential(headers({ 'X-API-Key': 'k2', authorization: 'Bearer k1' }), carriers)).toEqual({ ok: false, reason: 'conflicting_credentials' });
    expect(extractCredential(headers({ authorization: 'Bearer k1', AUTHORIZATION: 'Bearer k2' }), carriers)).toEqual({ ok: false, reason: 'conflicting_credentials' });
    expect(extractCredential(headers({ authorization: 'Bearer k1', Authorization: 'Bearer k1' }), carriers)).toEqual({ ok: true, credential: 'k1' });
  });

  it('reports an empty X-API-Key as empty', () => {
    expect(extractCredential({ headers: { 'x-api-key': '' } }, carriers)).toEqual({ ok: false, reason: 'empty' });
  });

  it('refuses two carriers holding different keys, and accepts the same key twice', () => {
    const both = (other: string) => ({ headers: { authorization: 'Bearer k1', 'x-api-key': other } });
    expect(extractCredential(both('k2'), carriers)).toEqual({ ok: false, reason: 'conflicting_credentials' });
    expect(extractCredential(both('k1'), carriers)).toEqual({ ok: true, credential: 'k1' });
  });

  it('lets a broken Authorization header win over a good X-API-Key', () => {
    const request = { headers: { authorization: 'Basic abc', 'x-api-key': 'k1' } };
    expect(extractCredential(request, carriers)).toEqual({ ok: false, reason: 'malformed_header' });
  });

  it('reads the query parameter only when the app opts in, and takes it repeated only when every copy carries the same key', () => {
    const request = { headers: {}, url: '/v1/x?api_key=k1' };
    expect(extractCredential(request, carriers)).toEqual({ ok: false, reason: 'missing' });
    const optedIn = { ...carriers, queryParameter: 'api_key' };
    expect(extractCredential(request, optedIn)).toEqual({ ok: true, credential: 'k1' });
    expect(extractCredential({ headers: {}, url: '/v1/x?api_key=k1&api_key=k2' }, optedIn)).toEqual({
      ok: false,
      reason: 'conflicting_credentials',
    });
    expect(extractCredential({ headers: {}, url: '/v1/x?api_key=k1&api_key=k1' }, optedIn)).toEqual({ ok: true, credential: 'k1' });
    expect(extractCredential({ headers: {}, url: '/v1/x?api_key=k1&api_key=' }, optedIn)).toEqual({ ok: false, reason: 'empty' });
  });

  it('refuses a header sent twice with different values', () => {
    const request = { headers: { 'x-api-key': ['k1', 'k2'] } };
    expect(extractCredential(request, carriers)).toEqual({ ok: false, reason: 'conflicting_credentials' });
  });

  it('finds a second Authorization header in rawHeaders, whatever its letter case, where headers keeps only the first', () => {
    const request = (second: string) => ({
      headers: { authorization: 'Bearer k1' },
      rawHeaders: ['Host', 'x', 'Authorization', 'Bearer k1', 'AUTHORIZATION', second],
    });
    expect(extractCredential(request('Bearer k2'), carriers)).toEqual({ ok: false, reason: 'conflicting_credentials' });
    expect(extractCredential(request('Bearer k1'), carriers)).toEqual({ ok: true, credential: 'k1' });
  });

  it('compares repeated headers by the key they carry, so the same key written twice differently is one key', () => {
    const raw = (...values: string[]) => ({ headers: {}, rawHeaders: values.flatMap((value) => ['Authorization', value]) });
    expect(extractCredential(raw('Bearer k1', 'bearer   k1'), carriers)).toEqual({ ok: true, credential: 'k1' });
    expect(extractCredential(raw('Bearer k1', 'Bearer k2'), carriers)).toEqual({ ok: false, reason: 'conflicting_credentials' });
    expect(extractCredential(raw('Bearer k1', ''), carriers)).toEqual({ ok: false, reason: 'malformed_header' });
    expect(extractCredential({ headers: { 'x-api-key': ['k1', ' k1'] } }, carriers)).toEqual({ ok: true, credential: 'k1' });
  });

  it('refuses to read a request with more than 1,000 header lines, where Node may have cut a second key off', () => {
    const lines = (count: number) => ['Authorization', 'Bearer k1', ...Array.from({ length: count - 1 }, (_, i) => [`x-${i}`, '1']).flat()];
    expect(extractCredential({ headers: {}, rawHeaders: lines(1_000) }, carriers)).toEqual({ ok: true, credential: 'k1' });
    expect(extractCredential({ headers: {}, rawHeaders: lines(1_001) }, carriers)).toEqual({ ok: false, reason: 'too_many_headers' });
  });

  it('reads the credentials from rawHeaders when they are given', () => {
    const request = { headers: {}, rawHeaders: ['authorization', 'Bearer k1', 'X-Api-Key', 'k1'] };
    expect(extractCredential(request, carriers)).toEqual({ ok: true, credential: 'k1' });
    expect(extractCredential({ headers: {}, rawHeaders: ['Host', 'x'] }, carriers)).toEqual({ ok: false, reason: 'missing' });
  });
});

describe('rawHeaderValue', () => {
  it('finds a header named in any letter case, as the app may spell it, with every copy sent', () => {
    const rawHeaders = ['Host', 'x', 'X-Signature', 'a', 'x-signature', 'b'];
    expect(rawHeaderValue(rawHeaders, 'X-Signature')).toEqual(['a', 'b']);
    expect(rawHeaderValue(rawHeaders, 'x-SIGNATURE')).toEqual(['a', 'b']);
    expect(rawHeaderValue(rawHeaders, 'HOST')).toBe('x');
    expect(rawHeaderValue(rawHeaders, 'X-Missing')).toBeUndefined();
  });

  it('folds ASCII letters only: a Kelvin sign in either name is no k', () => {
    expect(rawHeaderValue(['X-Key', 'a'], 'X-\u212Aey')).toBeUndefined();
    expect(rawHeaderValue(['X-\u212Aey', 'a'], 'X-Key')).toBeUndefined();
  });

  it('gives an app-built rawHeaders\' repeated values that are no strings back in an array of its own, changing none', () => {
    const held = ['a'];
    const rawHeaders = ['authorization', 5, 'authorization', 'x', 'Authorization', null] as unknown as string[];

    expect(rawHeaderValue(rawHeaders, 'Authorization')).toEqual([5, 'x', null]);
    expect(rawHeaderValue(['authorization', held, 'authorization', 'b'] as unknown as string[], 'authorization')).toEqual([['a'], 'b']);
    expect(held).toEqual(['a']);
    expect(rawHeaderValue(['authorization', held] as unknown as string[], 'authorization')).toEqual([['a']]);
  });

  it('refuses such a request with 401 invalid, never 500: a number, null or an array before a second Authorization', async () => {
    const store = new MemoryKeyStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_raw', environment: 'sandbox' });
    const auth = createApiKeyAuth({ store, argon2Pool: false });
    try {
      for (const first of [5, null, ['Bearer x']]) {
        const result = await auth.authenticate({ headers: {}, rawHeaders: ['authorization', first, 'authorization', 'Bearer x'] as unknown as string[] });
        expect(result.ok ? 200 : [result.response.status, result.error.code]).toEqual([401, 'ERR_API_KEY_INVALID']);
      }
      // One value that is an array of copies is malformed too, however alike and valid they are.
      const single = await auth.authenticate({ headers: {}, rawHeaders: ['authorization', [`Bearer ${key}`, `Bearer ${key}`]] as unknown as string[] });
      expect(single.ok ? 200 : single.error.code).toBe('ERR_API_KEY_INVALID');
      expect((await auth.authenticate({ headers: {}, rawHeaders: ['authorization', `Bearer ${key}`] })).ok).toBe(true);
    } finally {
      await auth.close();
    }
  });
});
