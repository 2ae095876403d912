import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2SecureServer, Http2Server } from 'node:http2';
import type { Request } from 'express';
import type { RawServerBase, RawServerDefault, RouteShorthandOptions } from 'fastify';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  isPendingDecision,
  NodeCredentialRequest,
  type ApiKeyAuth,
  type ApiKeyAuthError,
  type ApiKeyAuthErrorCode,
  type ApiKeyAuthOptions,
  type ApiKeyContext,
  type Argon2PoolOptions,
  type AuthResult,
  type KeyStatus,
  type KeyStore,
  type KeyUsage,
  type RecordUsageResult,
} from 'keyward';
import type { expressApiKeyAuth } from 'keyward/express';
import type { FastifyApiKeyAuthHook, FastifyBasicAuthHook } from 'keyward/fastify';
import { exactOptionalTypeErrors } from './helpers/exact-optional.js';

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

  it('takes a recordUsage that resolves to nothing, as stores written before deferred uses do, or to deferred uses', () => {
    expectTypeOf<(usage: readonly KeyUsage[]) => Promise<void>>().toExtend<KeyStore['recordUsage']>();
    expectTypeOf<(usage: readonly KeyUsage[]) => Promise<RecordUsageResult>>().toExtend<KeyStore['recordUsage']>();
    expectTypeOf<RecordUsageResult['deferred']>().toEqualTypeOf<readonly KeyUsage[]>();
  });

  it('rejects unknown route options at compile time', () => {
    expectTypeOf<Parameters<typeof expressApiKeyAuth>[1]>().toEqualTypeOf<
      { keyType?: string; forwardErrors?: boolean } | undefined
    >();
  });

  it("leaves a route's path parameters to Express after either Express middleware, as strings under @types/express 5", () => {
    const errors = exactOptionalTypeErrors(`
      import express, { type RequestHandler } from 'express';
      import type { ApiKeyAuth } from 'keyward';
      import { expressApiKeyAuth, expressBasicAuth } from 'keyward/express';
      declare const auth: ApiKeyAuth;
      declare function lookup(accountId: string): unknown;
      const app = express();
      app.get('/v1/accounts/:accountId/sms', expressApiKeyAuth(auth), (req, res) => {
        res.json(lookup(req.params.accountId));
      });
      app.post('/hooks/:source', expressBasicAuth({ username: 'hook-relay', password: 'p' }), express.json(), (req, res) => {
        const source: string = req.params.source;
        // @ts-expect-error: a string taken from the path, not any
        const wrong: number = req.params.source;
        res.json({ source, wrong, account: req.apiKey?.accountId });
      });
      const router = express.Router();
      router.get('/:accountId', expressApiKeyAuth(auth, { keyType: 'sms_api' }), (req, res) => {
        res.json(lookup(req.params.accountId));
      });
      app.use('/v1/accounts', expressApiKeyAuth(auth), router);
      // Still an Express RequestHandler wherever one is asked for.
      export const handlers: RequestHandler[] = [expressApiKeyAuth(auth), expressBasicAuth({ username: 'hook-relay', password: 'p' })];
    `);
    expect(errors).toEqual([]);
  });

  // Checked by `npx tsc --noEmit` (test/ is in tsconfig.json), like every expectTypeOf here.
  it("builds a NodeCredentialRequest from Node's request message alone, as on a plain node:http server", () => {
    expectTypeOf(NodeCredentialRequest).toBeConstructibleWith({} as IncomingMessage, '/v1/whoami');
    expectTypeOf(NodeCredentialRequest).toBeConstructibleWith({} as IncomingMessage, undefined, { ip: '203.0.113.7' });
    expectTypeOf(NodeCredentialRequest).toBeConstructibleWith({} as IncomingMessage, '/', {} as Request);
  });

  it('compiles the guard of the README section "Another framework"', () => {
    // The README's code block as it stands, with `auth` made a parameter.
    const guardFor = (auth: ApiKeyAuth) =>
      function guard(req: IncomingMessage, res: ServerResponse, next: () => void) {
        const finish = (result: AuthResult) => {
          if (result.ok === true) return next(); // result.context: keyId, accountId, keyType, environment
          res.writeHead(result.response.status, result.response.headers);
          res.end(result.response.body);
        };
        // A framework passes a third argument: where it keeps the client IP after its trust-proxy
        // rules (Express's `req`, Koa's `ctx`). Plain Node has none, so the throttle counts the
        // socket's address.
        const decided = auth.decide(new NodeCredentialRequest(req, req.url));
        if (!isPendingDecision(decided)) return finish(decided);
        // A decision never rejects; the catch is for a throw in finish or next.
        Promise.resolve(decided).then(finish).catch(() => {
          if (!res.headersSent) res.writeHead(500);
          res.end();
        });
      };
    expectTypeOf(guardFor).returns.parameters.toEqualTypeOf<[IncomingMessage, ServerResponse, () => void]>();
  });

  it('lets a modify change give fields as undefined, which the stores leave alone, under exactOptionalPropertyTypes', () => {
    const errors = exactOptionalTypeErrors(`
      import type { ApiKeyRowChange, KeyStore } from 'keyward';
      declare const store: KeyStore;
      declare const keyType: string | undefined;
      void store.modify('key_1', () => ({ key_type: keyType, status: undefined }));
      export const change: ApiKeyRowChange = { expires_at: undefined };
    `);
    expect(errors).toEqual([]);
  });

  it("fits both Fastify hooks as a route's onRequest on an HTTP/1 instance and on one made with http2: true", () => {
    type OnRequest<Server extends RawServerBase> = NonNullable<RouteShorthandOptions<Server>['onRequest']>;
    expectTypeOf<FastifyApiKeyAuthHook>().toExtend<OnRequest<RawServerDefault>>();
    expectTypeOf<FastifyApiKeyAuthHook>().toExtend<OnRequest<Http2Server>>();
    expectTypeOf<FastifyApiKeyAuthHook>().toExtend<OnRequest<Http2SecureServer>>();
    expectTypeOf<FastifyBasicAuthHook>().toExtend<OnRequest<RawServerDefault>>();
    expectTypeOf<FastifyBasicAuthHook>().toExtend<OnRequest<Http2Server>>();
    expectTypeOf<FastifyBasicAuthHook>().toExtend<OnRequest<Http2SecureServer>>();
    // toExtend would pass for `any` as well: the hooks' parameters must stay real types.
    expectTypeOf<Parameters<FastifyApiKeyAuthHook>[0]>().not.toBeAny();
    expectTypeOf<Parameters<FastifyApiKeyAuthHook>[1]>().not.toBeAny();
    expectTypeOf<Parameters<FastifyBasicAuthHook>[0]>().not.toBeAny();
    expectTypeOf<Parameters<FastifyBasicAuthHook>[1]>().not.toBeAny();
  });

  // Fastify 5 is the repository's `fastify`; Fastify 4's types are compiled in its place, for
  // the snippet, keyward's adapters and fastify-plugin alike.
  it.each([
    ['Fastify 5', {}],
    ['Fastify 4', { fastify: ['./node_modules/fastify4/fastify.d.ts'] }],
  ])('%s: compiles both hooks as onRequest on fastify() and fastify({ http2: true }), request.apiKey typed, under exactOptionalPropertyTypes', (_version, paths) => {
    const errors = exactOptionalTypeErrors(
      `
      import fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
      import type { ApiKeyAuth, ApiKeyContext } from 'keyward';
      import { fastifyApiKeyAuthHook, fastifyBasicAuth } from 'keyward/fastify';
      declare const auth: ApiKeyAuth;
      const hookAuth = fastifyBasicAuth({ username: 'hook-relay', password: 'p' });
      const http1 = fastify();
      const http2 = fastify({ http2: true });
      http1.post('/v1/sms', { onRequest: fastifyApiKeyAuthHook(auth, { keyType: 'sms_api' }) }, async (request) => {
        const context: ApiKeyContext | undefined = request.apiKey;
        // @ts-expect-error: typed, not any
        const wrong: number = request.apiKey;
        return { account: context?.accountId, wrong };
      });
      http2.post('/v1/sms', { onRequest: fastifyApiKeyAuthHook(auth, { keyType: 'sms_api' }) }, async (request) => {
        const context: ApiKeyContext | undefined = request.apiKey;
        // @ts-expect-error: typed, not any
        const wrong: number = request.apiKey;
        return { account: context?.accountId, wrong };
      });
      http1.post('/hooks/in', { onRequest: hookAuth }, async () => ({ received: true }));
      http2.post('/hooks/in', { onRequest: hookAuth }, async () => ({ received: true }));
      // The check is not vacuous: a hook typed for an HTTP/1 instance only is refused there.
      const http1Only = (_request: FastifyRequest, _reply: FastifyReply, done: () => void) => done();
      http1.post('/v1/old', { onRequest: http1Only }, async () => ({}));
      // @ts-expect-error: an HTTP/2 instance's request and reply are not an HTTP/1 one's
      http2.post('/v1/old', { onRequest: http1Only }, async () => ({}));
    `,
      paths,
    );
    expect(errors).toEqual([]);
  });

  it('takes the Argon2 pool options or false', () => {
    expectTypeOf<ApiKeyAuthOptions['argon2Pool']>().toEqualTypeOf<Argon2PoolOptions | false | undefined>();
    expectTypeOf<Argon2PoolOptions>().toEqualTypeOf<{ threads?: number; maxQueue?: number; niceIncrement?: number }>();
  });
});
