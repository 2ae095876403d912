import { describe, expect, it } from 'vitest';
import { ApiKeyAuthError, type ApiKeyAuthErrorCode } from 'keyward';

describe('ApiKeyAuthError status', () => {
  it.each([
    ['ERR_API_KEY_MISSING', 401, true],
    ['ERR_API_KEY_INVALID', 401, true],
    ['ERR_API_KEY_INACTIVE', 403, true],
    ['ERR_API_KEY_WRONG_TYPE', 403, true],
    ['ERR_TOO_MANY_ATTEMPTS', 429, true],
    ['ERR_OVERLOADED', 503, false],
    ['ERR_STORE_UNAVAILABLE', 503, false],
    ['ERR_STORE_REFUSED', 500, false],
    ['ERR_STORED_HASH_INVALID', 500, false],
    ['ERR_STORED_ROW_INVALID', 500, false],
    ['ERR_INTERNAL', 500, false],
    ['ERR_OPTIONS_INVALID', 500, false],
    ['ERR_KEY_EXISTS', 409, true],
    ['ERR_KEY_NOT_FOUND', 404, true],
    ['ERR_KEY_CONFLICT', 409, true],
    ['ERR_INVALID_ARGUMENT', 400, true],
    ['ERR_WEBHOOK_INVALID', 400, true],
    ['ERR_WEBHOOK_SECRET', 500, false],
    ['ERR_BASIC_AUTH_MISSING', 401, true],
    ['ERR_BASIC_AUTH_INVALID', 401, true],
  ] satisfies [ApiKeyAuthErrorCode, number, boolean][])('made without a status, %s takes its code\'s, %i, and is exposed: %s', (code, status, expose) => {
    const error = new ApiKeyAuthError(code, 'message');
    expect([error.status, error.statusCode, error.expose]).toEqual([status, status, expose]);
  });

  it('keeps a status given, whatever the code', () => {
    const error = new ApiKeyAuthError('ERR_KEY_EXISTS', 'message', { status: 500 });
    expect([error.status, error.statusCode, error.expose]).toEqual([500, 500, false]);
  });

  it.each([
    ['a success', 200],
    ['a redirect', 302],
    ['NaN', Number.NaN],
    ['a fraction', 401.5],
    ['beyond 599', 600],
    ['a string', '409'],
  ])('replaces a status that is no error status (%s) with its code\'s', (_name, status) => {
    // A store's `new ApiKeyAuthError('ERR_KEY_EXISTS', …, { status: 200 })` must not make an
    // app that answers with error.status send a success.
    const error = new ApiKeyAuthError('ERR_KEY_EXISTS', 'message', { status: status as number });
    expect([error.status, error.statusCode, error.expose]).toEqual([409, 409, true]);
  });

  it('takes null options as none rather than throwing a TypeError of its own', () => {
    const error = new ApiKeyAuthError('ERR_STORE_UNAVAILABLE', 'message', null);
    expect([error.code, error.status, error.expose, error.headers, error.cause]).toEqual(['ERR_STORE_UNAVAILABLE', 503, false, {}, undefined]);
  });

  it('gives 500 to a code it does not know (from JavaScript) and to one only Object.prototype has', () => {
    expect(new ApiKeyAuthError('ERR_SOMETHING_ELSE' as ApiKeyAuthErrorCode, 'message').status).toBe(500);
    expect(new ApiKeyAuthError('toString' as ApiKeyAuthErrorCode, 'message').status).toBe(500);
  });
});
