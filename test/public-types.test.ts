import type { Request } from 'express';
import { describe, expectTypeOf, it } from 'vitest';
import type { ApiKeyAuthError, ApiKeyAuthErrorCode, ApiKeyContext, AuthResult, KeyStatus } from 'keyward';
import type { expressApiKeyAuth } from 'keyward/express';

describe('public types', () => {
  it('types req.apiKey on Express requests as the key context', () => {
    expectTypeOf<Request['apiKey']>().toEqualTypeOf<ApiKeyContext | undefined>();
  });

  it('narrows an authentication result to the context or the error', () => {
    expectTypeOf<Extract<AuthResult, { ok: true }>['context']>().toEqualTypeOf<ApiKeyContext>();
    expectTypeOf<Extract<AuthResult, { ok: false }>['error']>().toEqualTypeOf<ApiKeyAuthError>();
  });

  it('gives error codes and statuses as closed unions', () => {
    expectTypeOf<'ERR_API_KEY_INVALID'>().toExtend<ApiKeyAuthErrorCode>();
    expectTypeOf<'ERR_SOMETHING_ELSE'>().not.toExtend<ApiKeyAuthErrorCode>();
    expectTypeOf<'revoqued'>().toExtend<KeyStatus>();
    expectTypeOf<ApiKeyAuthError['code']>().toEqualTypeOf<ApiKeyAuthErrorCode>();
  });

  it('rejects unknown route options at compile time', () => {
    expectTypeOf<Parameters<typeof expressApiKeyAuth>[1]>().toEqualTypeOf<
      { keyType?: string; forwardErrors?: boolean } | undefined
    >();
  });
});
