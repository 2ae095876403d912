import type { Middleware } from 'koa';
import { createBasicAuthChecker, type BasicAuthOptions } from 'keyward';
import { answerKoa, setForwardedHeaders } from './koa-response.js';
import { refuseMountedFactory } from './mounted-factory.js';
import { failAsyncThrough, wrongFramework, type AdapterExport } from './wrong-framework.js';

const BASIC_AUTH_MIDDLEWARE: AdapterExport = { name: 'koaBasicAuth', framework: 'Koa', checks: 'basic' };

/** Options of {@link koaBasicAuth}. */
export type KoaBasicAuthOptions = BasicAuthOptions;

/**
 * Koa middleware for a webhook receiver: lets the request through only with the configured
 * HTTP Basic credentials, compared in constant time. Wrong credentials are counted per
 * `ctx.ip`, which follows the app's `proxy` setting; past the `throttle` limit the address
 * gets 429 with `Retry-After`.
 *
 * A refusal is answered here (401, `WWW-Authenticate: Basic realm="…", charset="UTF-8"`, JSON
 * body; or the 429) without throwing, so an app's own try/catch error middleware cannot turn
 * it into a 500 or drop the challenge. With `forwardErrors` the challenge (or `Retry-After`) is
 * set on the response and the `ApiKeyAuthError` (with `status`, `expose` and `headers`) is
 * thrown for the app to shape.
 *
 * @param options - `username`, `password`, `realm`, `errorBody`, `forwardErrors`, `throttle`.
 * @returns the middleware.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` at setup for bad options.
 * @example
 * ```ts
 * const hookAuth = koaBasicAuth({ username: 'hook-relay', password: process.env.HOOK_PASSWORD! });
 * router.post('/hooks/in', hookAuth, receive);
 * ```
 */
export function koaBasicAuth(options: KoaBasicAuthOptions): Middleware {
  refuseMountedFactory(options, 'koaBasicAuth', '{ username, password }', 'middleware');
  const checker = createBasicAuthChecker(options, 'koaBasicAuth');

  return async function koaBasicAuthMiddleware(ctx, next) {
    // Mounted on Express or as a Fastify hook: see koaApiKeyAuth.
    if (typeof next !== 'function') return failAsyncThrough(arguments, wrongFramework(BASIC_AUTH_MIDDLEWARE, ctx));
    const result = checker.checkRawHeaders(ctx.req.rawHeaders, ctx.ip);
    if (result.ok) return next();

    if (checker.forwardErrors) {
      setForwardedHeaders(ctx, result.error.headers);
      throw result.error;
    }
    answerKoa(ctx, result.response);
  };
}
