import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import {
  ApiKeyAuthError,
  isPendingDecision,
  knownOptions,
  NodeCredentialRequest,
  resolveRouteOptions,
  type ApiKeyAuth,
  type ApiKeyContext,
  type AuthResult,
  type RouteOptions,
} from 'keyward';
import { answerFastify, setForwardedHeaders } from './fastify-answer.js';
import type { FastifyHookReply, FastifyHookRequest } from './fastify-hook-types.js';
import { misplacedHook, ranAfterHandler } from './fastify-hook-phase.js';
import { isFastifyInstance, refuseMountedFactory, refusePluginRegistration } from './mounted-factory.js';
import { failAsyncThrough, failThrough, wrongFramework, type AdapterExport } from './wrong-framework.js';

// The webhook receiver's Basic-auth hook ships from the same entry point.
export {
  fastifyBasicAuth,
  type FastifyBasicAuthHook,
  type FastifyBasicAuthOptions,
} from './fastify-basic-auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by keyward's hook once the key has passed every check. */
    apiKey?: ApiKeyContext | undefined;
  }
}

const API_KEY_HOOK: AdapterExport = { name: 'fastifyApiKeyAuthHook', framework: 'Fastify', checks: 'api key' };
const API_KEY_PLUGIN: AdapterExport = { name: 'fastifyApiKeyAuth', framework: 'Fastify', checks: 'api key', plugin: true };

/** Options of {@link fastifyApiKeyAuthHook}: `keyType` the route needs; `forwardErrors`. */
export type FastifyApiKeyAuthHookOptions = RouteOptions;

/** Options of the {@link fastifyApiKeyAuth} plugin. */
export interface FastifyApiKeyAuthOptions extends RouteOptions {
  /** The authenticator from `createApiKeyAuth`, shared by every route it guards. */
  auth: ApiKeyAuth;
}

/**
 * A callback-style hook that authenticates the request: `onRequest` (best: before anything
 * else runs), `preParsing`, `preValidation` or `preHandler`. In `preParsing` Fastify passes
 * the payload stream before `done`, and the hook hands it on unchanged. It fits the routes of
 * an HTTP/1 instance and of one made with `http2: true`.
 */
export type FastifyApiKeyAuthHook = {
  (request: FastifyHookRequest, reply: FastifyHookReply, done: (error?: Error) => void): void;
  (request: FastifyHookRequest, reply: FastifyHookReply, payload: unknown, done: (error?: Error | null) => void): void;
};

/**
 * An `onRequest` hook (Fastify 4 and 5) that authenticates one route's API key. It runs before
 * the body is read, so a refused request never costs a body parse. On success
 * `request.apiKey` holds the key context; otherwise the refusal is answered with the status,
 * headers and body the core decided (the same bytes as every other adapter), or, with
 * `forwardErrors`, the `ApiKeyAuthError` goes to the error handler, carrying `statusCode` and
 * `headers` that Fastify's default handler applies.
 *
 * @param auth - the authenticator from `createApiKeyAuth`.
 * @param options - `keyType` the route needs; `forwardErrors`.
 * @returns the hook, for a route's `onRequest` option.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` at setup for bad arguments.
 * @example
 * ```ts
 * app.post('/v1/sms', { onRequest: fastifyApiKeyAuthHook(auth, { keyType: 'sms_api' }) }, send);
 * ```
 */
export function fastifyApiKeyAuthHook(
  auth: ApiKeyAuth,
  options: FastifyApiKeyAuthHookOptions = {},
): FastifyApiKeyAuthHook {
  // `arguments`, not a parameter: only avvio passes three (see the function called).
  const registered = refusePluginRegistration(
    arguments,
    'fastifyApiKeyAuthHook',
    'fastifyApiKeyAuthHook(auth)',
    'or register the plugin instead: app.register(fastifyApiKeyAuth, { auth })',
  );
  // Fastify ignores what a plugin returns; a hook that fails every request keeps the type.
  if (registered) return failingHook(registered);
  refuseMountedFactory(auth, 'fastifyApiKeyAuthHook', 'auth', 'hook');
  return hookFor(auth, options, 'fastifyApiKeyAuthHook');
}

function failingHook(error: ApiKeyAuthError): FastifyApiKeyAuthHook {
  return function fastifyApiKeyAuthFailing(_request: FastifyHookRequest, _reply: FastifyHookReply, doneOrPayload: unknown) {
    // Three parameters, as the real hook's: see there.
    const doneAfterPayload: unknown = arguments[3];
    failThrough(typeof doneAfterPayload === 'function' ? doneAfterPayload : doneOrPayload, error, _reply);
  };
}

/**
 * Fastify plugin (Fastify 4 and 5) that authenticates every route of the context it is
 * registered in, and of that context's children, in an `onRequest` hook: before the body is
 * parsed. Wrapped with fastify-plugin, so it does not open a context of its own: register it
 * inside the plugin that holds the protected routes, and routes outside that plugin (a health
 * check, say) stay open. It decorates the request with `apiKey`.
 *
 * > [!NOTE]
 * > Registered in a context and again in one of its children, both hooks run for the child's
 * > routes. To demand another key type on a single route, use {@link fastifyApiKeyAuthHook}
 * > on that route in a context without the plugin.
 *
 * @param fastify - the instance it is registered in (passed by Fastify).
 * @param options - `auth` (required), `keyType`, `forwardErrors`.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` at registration (surfacing from `ready()`
 *   or `listen()`) for bad options.
 * @example
 * ```ts
 * app.register(async (v1) => {
 *   await v1.register(fastifyApiKeyAuth, { auth, keyType: 'sms_api' });
 *   v1.post('/v1/sms', async (request) => ({ account: request.apiKey!.accountId }));
 * });
 * ```
 */
export const fastifyApiKeyAuth = fp(
  async function keyward(fastify: FastifyInstance, options: FastifyApiKeyAuthOptions) {
    // Used as a hook (`{ onRequest: fastifyApiKeyAuth }`) or as Express or Koa middleware, it
    // is called with a request, and its reply or response would be read as the options.
    if (!isFastifyInstance(fastify)) return failAsyncThrough(arguments, wrongFramework(API_KEY_PLUGIN, fastify));
    const given = options ?? ({} as FastifyApiKeyAuthOptions);
    if (Object.hasOwn(given, 'prefix')) {
      // fastify-plugin shares the parent's context, so a prefix would be silently ignored.
      throw new ApiKeyAuthError(
        'ERR_OPTIONS_INVALID',
        'fastifyApiKeyAuth: "prefix" has no effect; register the plugin inside the prefixed plugin instead.',
      );
    }
    if (typeof (given as Partial<ApiKeyAuth>).decide === 'function') {
      throw new ApiKeyAuthError(
        'ERR_OPTIONS_INVALID',
        'fastifyApiKeyAuth takes options, not the authenticator itself: app.register(fastifyApiKeyAuth, { auth }).',
      );
    }
    // Read as every other option object is: a class's getters count, Object.prototype does not.
    const { auth, keyType, forwardErrors } = knownOptions(given, ['auth', 'keyType', 'forwardErrors'], 'fastifyApiKeyAuth');
    // Checked before hookFor, whose message names a first argument: here it is an option.
    if (typeof auth?.decide !== 'function') {
      throw new ApiKeyAuthError(
        'ERR_OPTIONS_INVALID',
        'fastifyApiKeyAuth needs the "auth" option, the authenticator from createApiKeyAuth(): app.register(fastifyApiKeyAuth, { auth }).',
      );
    }
    const hook = hookFor(auth, { keyType, forwardErrors }, 'fastifyApiKeyAuth');
    // Declared once per context: a child inherits its parent's decorator.
    if (!fastify.hasRequestDecorator('apiKey')) fastify.decorateRequest('apiKey', undefined);
    fastify.addHook('onRequest', hook);
  },
  { name: 'keyward', fastify: '4.x || 5.x' },
);

function registeredAsPlugin(factory: string): ApiKeyAuthError {
  return new ApiKeyAuthError(
    'ERR_OPTIONS_INVALID',
    `${factory}: the hook was registered as a plugin; pass it as a route's onRequest option ({ onRequest: ${factory}(auth) }), or register the plugin instead: app.register(fastifyApiKeyAuth, { auth }).`,
  );
}

function hookFor(auth: ApiKeyAuth, options: RouteOptions, factory: string): FastifyApiKeyAuthHook {
  const { requirement, forwardErrors } = resolveRouteOptions(auth, options, factory);

  // Callback style rather than async: a decision made without waiting goes on in the same
  // turn, and a refusal is answered by sending the reply and never calling done(), which
  // ends the hook chain, so neither the body parser nor the handler runs.
  // Three parameters declared, and `preParsing`'s fourth read from `arguments`: Express takes
  // a function of four for an error handler, and would skip this one if mounted there.
  return function fastifyApiKeyAuthOnRequest(request: FastifyHookRequest, reply: FastifyHookReply, doneOrPayload: unknown) {
    const doneAfterPayload: unknown = arguments[3];
    // `preParsing` passes the payload stream before done; `done()` without a new payload keeps it.
    const done = (typeof doneAfterPayload === 'function' ? doneAfterPayload : doneOrPayload) as (error?: Error) => void;
    if (ranAfterHandler(reply, doneOrPayload, doneAfterPayload)) return done(misplacedHook(factory));
    const raw = request.raw;
    if (raw === undefined) {
      // app.register(hook): avvio calls it as a plugin, (instance, options, done). A throw here
      // would crash the process; done(error) makes ready() reject instead.
      if (isFastifyInstance(request)) return done(registeredAsPlugin(factory));
      // Mounted on Express (done is its next) or Koa (no callback: thrown, Koa rejects).
      return failThrough(done, wrongFramework(API_KEY_HOOK, request), reply);
    }
    // On an HTTP/2 instance `raw` is an Http2ServerRequest, which has every field read:
    // headers, rawHeaders, and the socket's remoteAddress.
    const decided = auth.decide(new NodeCredentialRequest(raw as IncomingMessage, raw.url, request), requirement);
    if (!isPendingDecision(decided)) return finish(decided);
    Promise.resolve(decided).then(finish).catch((error: unknown) => done(error as Error));

    function finish(result: AuthResult): void {
      // Only a clear pass goes on; anything else is answered or forwarded as a refusal.
      if (result.ok === true) {
        request.apiKey = result.context;
        return done();
      }
      if (forwardErrors) {
        const error = result.error;
        if (error === undefined) return done(new Error('keyward: the authenticator gave no decision'));
        setForwardedHeaders(request, reply, error.headers);
        return done(error);
      }
      answerFastify(request, reply, result.response);
    }
  };
}
