import { createBasicAuthChecker, type BasicAuthOptions } from 'keyward';
import { answerFastify, setForwardedHeaders } from './fastify-answer.js';
import type { FastifyHookReply, FastifyHookRequest } from './fastify-hook-types.js';
import { misplacedHook, ranAfterHandler } from './fastify-hook-phase.js';
import { refuseMountedFactory, refusePluginRegistration } from './mounted-factory.js';
import { failAsyncThrough, wrongFramework, type AdapterExport } from './wrong-framework.js';

const BASIC_AUTH_HOOK: AdapterExport = { name: 'fastifyBasicAuth', framework: 'Fastify', checks: 'basic' };

/** Options of {@link fastifyBasicAuth}. */
export type FastifyBasicAuthOptions = BasicAuthOptions;

/**
 * The hook {@link fastifyBasicAuth} returns; use it as `onRequest` (or `preParsing`,
 * `preValidation`, `preHandler`). In `preSerialization` or `onSend`, which run after the
 * handler, it answers 500 `ERR_OPTIONS_INVALID`; in `onResponse`, too late to answer, it
 * fails with that error, which Fastify logs. It fits the routes of an HTTP/1 instance and
 * of one made with `http2: true`.
 */
export type FastifyBasicAuthHook = (
  request: FastifyHookRequest,
  reply: FastifyHookReply,
) => Promise<FastifyHookReply | undefined>;

/**
 * Fastify hook for a webhook receiver: lets the request through only with the configured HTTP
 * Basic credentials, compared in constant time. A refusal is answered with 401,
 * `WWW-Authenticate: Basic realm="…", charset="UTF-8"` and keyward's JSON body; with
 * `forwardErrors` the `ApiKeyAuthError` is thrown to the app's error handler instead (Fastify
 * applies its `statusCode` and `headers`). Wrong credentials are counted per `request.ip`,
 * which follows the instance's `trustProxy` option; past the `throttle` limit the address
 * gets 429 with `Retry-After`.
 *
 * Register it as an `onRequest` hook, so an unauthenticated body is never parsed.
 *
 * @param options - `username`, `password`, `realm`, `errorBody`, `forwardErrors`, `throttle`.
 * @returns the hook.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` at setup for bad options.
 * @example
 * ```ts
 * const password = process.env.HOOK_PASSWORD!;
 * const hookAuth = fastifyBasicAuth({ username: 'hook-relay', password });
 * app.post('/hooks/in', { onRequest: hookAuth }, receive);
 * ```
 */
export function fastifyBasicAuth(options: FastifyBasicAuthOptions): FastifyBasicAuthHook {
  // `arguments`, not a parameter: only avvio passes more than one (see the function called).
  const registered = refusePluginRegistration(arguments, 'fastifyBasicAuth', 'fastifyBasicAuth({ username, password })');
  // Fastify ignores what a plugin returns; a hook that fails every request keeps the type.
  if (registered) return () => Promise.reject(registered);
  refuseMountedFactory(options, 'fastifyBasicAuth', '{ username, password }', 'hook');
  const checker = createBasicAuthChecker(options, 'fastifyBasicAuth');

  return async function fastifyBasicAuthHook(request, reply) {
    // Two parameters declared, as Fastify refuses an async hook that declares `done`; the
    // phase shows in what else it is given.
    if (ranAfterHandler(reply, arguments[2], arguments[3])) throw misplacedHook('fastifyBasicAuth');
    const raw = request.raw;
    // Mounted on Express or Koa, or registered as a plugin: no Fastify request.
    if (raw === undefined) {
      failAsyncThrough(arguments, wrongFramework(BASIC_AUTH_HOOK, request));
      return undefined;
    }
    const result = checker.checkRawHeaders(raw.rawHeaders, request.ip);
    if (result.ok) return undefined;
    if (checker.forwardErrors) {
      setForwardedHeaders(request, reply, result.error.headers);
      throw result.error;
    }
    // Fastify's rule for async hooks that answer early: send, then return the reply.
    return answerFastify(request, reply, result.response);
  };
}
