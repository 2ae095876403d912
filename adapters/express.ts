import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request } from 'express';
import {
  createBasicAuthChecker,
  isPendingDecision,
  NodeCredentialRequest,
  refusalClosesConnection,
  resolveRouteOptions,
  type ApiKeyAuth,
  type ApiKeyAuthError,
  type ApiKeyContext,
  type AuthResponse,
  type AuthResult,
  type BasicAuthOptions,
  type RouteOptions,
} from 'keyward';
import { refuseMountedFactory } from './mounted-factory.js';
import { setOwnHeaders } from './own-headers.js';
import { failThrough, notCalledByExpress, wrongFramework, type AdapterExport } from './wrong-framework.js';

declare global {
  // Express's own augmentation point for properties that middleware adds to the request.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by keyward's middleware once the key has passed every check. */
      apiKey?: ApiKeyContext | undefined;
    }
  }
}

/**
 * The request as keyward's Express middleware reads it: Node's message, with the fields
 * Express adds that it uses.
 */
export type ExpressAuthRequest = IncomingMessage & Pick<Request, 'apiKey' | 'ip' | 'originalUrl'>;

/**
 * The middleware {@link expressApiKeyAuth} and {@link expressBasicAuth} return, which fits any
 * route of Express 4 and 5 as an Express `RequestHandler` does. Its request is written without
 * the types Express gives each route (parameters, body, query), so that mounting it adds
 * nothing to what TypeScript infers for the handlers after it: on
 * `app.get('/v1/accounts/:accountId', expressApiKeyAuth(auth), handler)`, the handler's
 * `req.params.accountId` is a `string`, taken from the path. (A `RequestHandler` would make
 * the route's parameters Express's catch-all `ParamsDictionary`, with `string | string[]`
 * values under @types/express 5.)
 */
export type ExpressAuthMiddleware = (req: ExpressAuthRequest, res: ServerResponse, next: NextFunction) => void;

const API_KEY_MIDDLEWARE: AdapterExport = { name: 'expressApiKeyAuth', framework: 'Express', checks: 'api key' };
const BASIC_AUTH_MIDDLEWARE: AdapterExport = { name: 'expressBasicAuth', framework: 'Express', checks: 'basic' };

/** Options of {@link expressApiKeyAuth}. */
export type ExpressApiKeyAuthOptions = RouteOptions;

/**
 * Express middleware (Express 4 and 5) that authenticates the request's API key. On success
 * `req.apiKey` holds the key context and the next handler runs; otherwise the refusal is
 * answered as the core decided (or passed to `next(err)` with `forwardErrors`). A store that
 * rejects never leaves the request hanging, on Express 4 either.
 *
 * Mount it before any body parser, so an unauthenticated request costs no parse.
 *
 * @param auth - the authenticator from `createApiKeyAuth`.
 * @param options - `keyType` the route needs; `forwardErrors`.
 * @returns the middleware.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` at setup for bad arguments.
 * @example
 * ```ts
 * const auth = createApiKeyAuth({ store });
 * app.post('/v1/sms', expressApiKeyAuth(auth, { keyType: 'sms_api' }), express.json(), send);
 * ```
 */
export function expressApiKeyAuth(
  auth: ApiKeyAuth,
  options: ExpressApiKeyAuthOptions = {},
): ExpressAuthMiddleware {
  refuseMountedFactory(auth, 'expressApiKeyAuth', 'auth', 'middleware');
  const { requirement, forwardErrors } = resolveRouteOptions(auth, options, 'expressApiKeyAuth');

  return function expressApiKeyAuthMiddleware(req: ExpressAuthRequest, res: ServerResponse, next: NextFunction) {
    // Mounted on Koa (no next), as a Fastify hook or registered as a Fastify plugin: a valid key
    // would go on to a next() that is not Express's, or to none at all.
    if (notCalledByExpress(req, next)) return failThrough(next, wrongFramework(API_KEY_MIDDLEWARE, req), res);
    const decided = auth.decide(new NodeCredentialRequest(req, req.originalUrl ?? req.url, req), requirement);
    // A decision made without waiting is applied at once: Express going on in a later
    // microtask instead cost about 25 µs per request (measured on Express 5).
    if (!isPendingDecision(decided)) return finish(decided);
    // Express 4 ignores a returned promise; anything thrown in finish must still reach next().
    Promise.resolve(decided).then(finish).catch(next);

    function finish(result: AuthResult): void {
      // Only a clear pass goes on; anything else is answered or forwarded as a refusal.
      if (result.ok === true) {
        req.apiKey = result.context;
        return next();
      }
      if (forwardErrors) return forward(req, res, next, result.error);
      answer(req, res, result.response);
    }
  };
}


/** Options of {@link expressBasicAuth}. */
export type ExpressBasicAuthOptions = BasicAuthOptions;

/**
 * Express middleware for a webhook receiver: lets the request through only with the configured
 * HTTP Basic credentials, compared in constant time. Anything else gets 401 with
 * `WWW-Authenticate: Basic realm="…", charset="UTF-8"` and keyward's JSON error body (or
 * `next(err)` with `forwardErrors`). Wrong credentials are counted per `req.ip`, which follows
 * the app's `trust proxy` setting; past the `throttle` limit the address gets 429.
 *
 * @param options - `username`, `password`, `realm`, `errorBody`, `forwardErrors`, `throttle`.
 * @returns the middleware.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` at setup for bad options.
 * @example
 * ```ts
 * const hookAuth = expressBasicAuth({ username: 'hook-relay', password: process.env.HOOK_PASSWORD! });
 * app.post('/hooks/in', hookAuth, express.json(), receive);
 * ```
 */
export function expressBasicAuth(options: ExpressBasicAuthOptions): ExpressAuthMiddleware {
  refuseMountedFactory(options, 'expressBasicAuth', '{ username, password }', 'middleware');
  const checker = createBasicAuthChecker(options, 'expressBasicAuth');

  return function expressBasicAuthMiddleware(req: ExpressAuthRequest, res: ServerResponse, next: NextFunction) {
    if (notCalledByExpress(req, next)) return failThrough(next, wrongFramework(BASIC_AUTH_MIDDLEWARE, req), res);
    const result = checker.checkRawHeaders(req.rawHeaders, req.ip);
    if (result.ok) return next();
    if (checker.forwardErrors) return forward(req, res, next, result.error);
    answer(req, res, result.response);
  };
}

/**
 * Hands a refusal to the app's error handling, its headers (the challenge, `Retry-After`, and
 * `Connection: close` for a large body still to come) set on the response first, as the Koa
 * adapter does: a catch-all handler that sets only a status and a body still sends them.
 */
function forward(req: IncomingMessage, res: ServerResponse, next: NextFunction, error: ApiKeyAuthError | undefined): void {
  if (error === undefined) return next(new Error('keyward: the authenticator gave no decision'));
  if (!res.headersSent) {
    setOwnHeaders(res, error.headers);
    if (refusalClosesConnection(req)) res.setHeader('connection', 'close');
  }
  next(error);
}

/**
 * Writes a refusal the core built, with raw Node calls rather than res.send(): Express would
 * add an ETag, and the answer must be the same bytes on every framework. A large body still to
 * come closes the connection rather than being read and thrown away.
 */
function answer(req: IncomingMessage, res: ServerResponse, { status, headers, body }: AuthResponse): void {
  res.writeHead(status, refusalClosesConnection(req) ? { ...headers, connection: 'close' } : headers);
  res.end(body);
}
