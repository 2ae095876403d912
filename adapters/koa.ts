import type { Middleware, ParameterizedContext } from 'koa';
import {
  isPendingDecision,
  NodeCredentialRequest,
  resolveRouteOptions,
  type ApiKeyAuth,
  type ApiKeyContext,
  type AuthResult,
  type RouteOptions,
} from 'keyward';
import { answerKoa, setForwardedHeaders } from './koa-response.js';
import { refuseMountedFactory } from './mounted-factory.js';
import { failThrough, wrongFramework, type AdapterExport } from './wrong-framework.js';

// The webhook receiver's Basic-auth middleware ships from the same entry point.
export { koaBasicAuth, type KoaBasicAuthOptions } from './koa-basic-auth.js';

declare module 'koa' {
  // Koa's augmentation point for what middleware puts on `ctx.state`.
  interface DefaultState {
    /** Set by keyward's middleware once the key has passed every check. */
    apiKey?: ApiKeyContext | undefined;
  }
}

const API_KEY_MIDDLEWARE: AdapterExport = { name: 'koaApiKeyAuth', framework: 'Koa', checks: 'api key' };

/** Options of {@link koaApiKeyAuth}. */
export type KoaApiKeyAuthOptions = RouteOptions;

/**
 * Koa middleware (Koa 2 and 3) that authenticates the request's API key. On success
 * `ctx.state.apiKey` holds the key context and the downstream middleware runs; otherwise the
 * refusal is answered here with the status, headers and body the core decided, so the bytes
 * match every other adapter. With `forwardErrors` the `ApiKeyAuthError` is thrown instead: it
 * carries `status`, `expose` and `headers`, so Koa's default error handling, or a try/catch
 * error middleware that copies `err.headers`, keeps both the status and the challenge. The
 * headers are also set on `ctx` before the throw, so a catch-all that sets only status and
 * body still sends the challenge and `Retry-After`.
 *
 * Mount it before any body parser, so an unauthenticated request costs no parse.
 *
 * > [!NOTE]
 * > `ctx.state.apiKey` is typed by augmenting Koa's `DefaultState` (this needs `@types/koa`).
 * > An app that types its own state with `new Koa<MyState>()` adds
 * > `apiKey?: ApiKeyContext | undefined` to `MyState`.
 *
 * @param auth - the authenticator from `createApiKeyAuth`.
 * @param options - `keyType` the route needs; `forwardErrors`.
 * @returns the middleware.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` at setup for bad arguments.
 * @example
 * ```ts
 * const auth = createApiKeyAuth({ store });
 * router.post('/v1/sms', koaApiKeyAuth(auth, { keyType: 'sms_api' }), bodyParser(), send);
 * ```
 */
export function koaApiKeyAuth(auth: ApiKeyAuth, options: KoaApiKeyAuthOptions = {}): Middleware {
  refuseMountedFactory(auth, 'koaApiKeyAuth', 'auth', 'middleware');
  const { requirement, forwardErrors } = resolveRouteOptions(auth, options, 'koaApiKeyAuth');

  return function koaApiKeyAuthMiddleware(ctx: ParameterizedContext, next: () => Promise<unknown>) {
    // Mounted on Express or as a Fastify hook: the second argument is a response or a reply,
    // and the caller's own callback (next, done) comes third.
    if (typeof next !== 'function') return failThrough(arguments[2], wrongFramework(API_KEY_MIDDLEWARE, ctx), next);
    const decided = auth.decide(new NodeCredentialRequest(ctx.req, ctx.originalUrl, ctx), requirement);
    if (isPendingDecision(decided)) return Promise.resolve(decided).then(finish);
    // A decision made without waiting goes on at once rather than a microtask later; the
    // middleware still returns a promise, as wrappers that chain on it expect.
    try {
      return finish(decided);
    } catch (error) {
      return Promise.reject(error);
    }

    function finish(result: AuthResult): Promise<unknown> {
      // Only a clear pass goes on; anything else is answered or thrown as a refusal.
      if (result.ok === true) {
        ctx.state.apiKey = result.context;
        return next();
      }
      if (forwardErrors) {
        const error = result.error;
        if (error === undefined) throw new Error('keyward: the authenticator gave no decision');
        setForwardedHeaders(ctx, error.headers);
        throw error;
      }
      answerKoa(ctx, result.response);
      return Promise.resolve();
    }
  };
}
