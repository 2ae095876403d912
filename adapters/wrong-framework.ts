import type { ServerResponse } from 'node:http';
import { ApiKeyAuthError, defaultErrorBody, responseFor, warnOnce } from 'keyward';
import { isFastifyInstance } from './mounted-factory.js';

/** The frameworks keyward has an adapter for, as a message names them. */
export type Framework = 'Express' | 'Koa' | 'Fastify';

/**
 * One adapter export, as the error for its use on another framework describes it: its name,
 * its framework, what it checks (an API key, or a webhook receiver's Basic credentials), and
 * whether it is the Fastify plugin, which is registered rather than called.
 */
export interface AdapterExport {
  name: string;
  framework: Framework;
  checks: 'api key' | 'basic';
  plugin?: true;
}

// What to use instead, by what the misplaced export checks and the framework that called it.
const RIGHT_EXPORT = {
  'api key': {
    Express: 'expressApiKeyAuth(auth) from keyward/express',
    Koa: 'koaApiKeyAuth(auth) from keyward/koa',
    Fastify: "fastifyApiKeyAuthHook(auth) from keyward/fastify as the route's onRequest, or register the fastifyApiKeyAuth plugin",
  },
  basic: {
    Express: 'expressBasicAuth({ username, password }) from keyward/express',
    Koa: 'koaBasicAuth({ username, password }) from keyward/koa',
    Fastify: "fastifyBasicAuth({ username, password }) from keyward/fastify as the route's onRequest",
  },
} as const;

/**
 * The error of an adapter export called by another framework (`fastifyApiKeyAuthHook(auth)`
 * mounted on Express, `expressApiKeyAuth(auth)` on Koa), or by something it cannot place.
 * It names the export to use there when the caller is recognisable.
 *
 * @param misplaced - the export that was called.
 * @param first - the first argument it was called with: Express's `req`, Koa's `ctx`,
 *   Fastify's `request` or instance.
 * @returns an `ERR_OPTIONS_INVALID` error.
 */
export function wrongFramework(misplaced: AdapterExport, first: unknown): ApiKeyAuthError {
  const { name, framework, checks, plugin } = misplaced;
  const caller = frameworkOf(first);
  const is = plugin ? 'is a Fastify plugin' : framework === 'Fastify' ? 'makes a Fastify hook' : `makes ${framework} middleware`;
  let message: string;
  if (caller === framework && plugin) {
    message = `${name} is a plugin, not a hook: register it with app.register(${name}, { auth }), or pass fastifyApiKeyAuthHook(auth) as a route's onRequest.`;
  } else if (caller !== undefined && caller !== framework) {
    message = `${name} ${is}, but ${caller} called it: on ${caller}, use ${RIGHT_EXPORT[checks][caller]}.`;
  } else {
    message = `${name} ${is}, but it was called with something other than ${CALL_SHAPES[framework]}: ${plugin ? `register it with app.register(${name}, { auth })` : MOUNTS[framework]}.`;
  }
  return new ApiKeyAuthError('ERR_OPTIONS_INVALID', message);
}

const CALL_SHAPES: Record<Framework, string> = {
  Express: "Express's (req, res, next)",
  Koa: "Koa's (ctx, next)",
  Fastify: 'a Fastify request',
};

const MOUNTS: Record<Framework, string> = {
  Express: 'mount it on an Express app or router',
  Koa: 'mount it on a Koa app or router',
  Fastify: "pass it as a Fastify route's onRequest",
};

/**
 * Fails a call from the wrong framework through that framework's error path: the callback its
 * caller passed (Express's `next`, Fastify's `done`). Without one, a plain `node:http` listener
 * (`server.on('request', middleware)`: a request and its `ServerResponse`) gets a 500 through
 * its response (unless another listener has begun it), since a throw there would end the
 * process; anything else gets a throw (Koa, whose dispatch turns it into a rejected promise
 * and so a 500 from the app's error handling).
 * Never a pass, and never a rejection that Express 4 would leave unhandled.
 *
 * @param callback - the argument where the caller's callback would be.
 * @param error - the error from {@link wrongFramework}.
 * @param response - the second argument, a plain listener's response.
 * @throws {ApiKeyAuthError} `error`, when there is neither a callback nor a response to answer.
 */
export function failThrough(callback: unknown, error: ApiKeyAuthError, response: unknown): void {
  if (typeof callback === 'function') return void (callback as (error: Error) => void)(error);
  if (!answeredThrough(response, error)) throw error;
}

/**
 * {@link failThrough} for an async function, whose throw is a rejected promise: Fastify and
 * avvio read that promise, so they get the rejection alone (calling their callback too would go
 * on twice); anyone else gets its callback, as Express 4 ignores the promise, or a plain
 * listener its 500, as nothing reads the promise there either.
 *
 * @param args - the async function's arguments.
 * @param error - the error from {@link wrongFramework}.
 * @throws {ApiKeyAuthError} `error`, for Fastify, avvio, or a caller without a callback.
 */
export function failAsyncThrough(args: ArrayLike<unknown>, error: ApiKeyAuthError): void {
  if (isFastifyRequest(args[0]) || isFastifyInstance(args[0])) throw error;
  failThrough(args[2], error, args[1]);
}

/**
 * Answers 500 with keyward's JSON error body through a plain listener's response (left alone
 * when another listener has begun it), and warns once per message (the body says only
 * "Internal server error."), so the operator hears what to mount instead. Whether `response`
 * was such a response.
 */
function answeredThrough(response: unknown, error: ApiKeyAuthError): boolean {
  const candidate = response as Partial<Pick<ServerResponse, 'writeHead' | 'end' | 'headersSent'>> | null | undefined;
  if (typeof candidate?.writeHead !== 'function' || typeof candidate.end !== 'function' || typeof candidate.headersSent !== 'boolean') return false;
  if (!candidate.headersSent) {
    // The status, headers and body every adapter writes for this error.
    const { status, headers, body } = responseFor(error, defaultErrorBody);
    candidate.writeHead(status, headers);
    candidate.end(body);
  }
  warnOnce('KEYWARD_WRONG_FRAMEWORK', error.message);
  return true;
}

/**
 * Whether an Express middleware was called by something other than Express: Koa (no `next`),
 * Fastify as a hook (a Fastify request), or Fastify's `register` (avvio passes the instance,
 * the options and its `done`).
 *
 * @param req - the first argument.
 * @param next - the third argument.
 */
export function notCalledByExpress(req: unknown, next: unknown): boolean {
  return typeof next !== 'function' || isFastifyRequest(req) || isFastifyInstance(req);
}

/** Whether `value` is a Fastify request: it has Node's message as `raw`, and its instance. */
export function isFastifyRequest(value: unknown): boolean {
  const candidate = value as { raw?: unknown; server?: unknown } | null | undefined;
  return typeof candidate?.raw === 'object' && candidate.raw !== null && isFastifyInstance(candidate.server);
}

/** The framework whose middleware or hook arguments start with `first`, if recognisable. */
function frameworkOf(first: unknown): Framework | undefined {
  try {
    if (isFastifyRequest(first) || isFastifyInstance(first)) return 'Fastify';
    const candidate = first as { req?: unknown; request?: unknown; response?: unknown; app?: unknown } | null | undefined;
    if (isObject(candidate?.req) && isObject(candidate?.request) && isObject(candidate?.response)) return 'Koa';
    // Express gives every request its app (a function) on the request's prototype.
    if (typeof (candidate?.app as { handle?: unknown } | undefined)?.handle === 'function') return 'Express';
  } catch {
    // A getter that throws: nothing recognisable.
  }
  return undefined;
}

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null;
}
