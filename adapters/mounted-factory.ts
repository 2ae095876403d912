import { ApiKeyAuthError } from 'keyward';

/**
 * Refuses a request where a factory's first argument goes: the factory itself was mounted
 * (`app.use(expressBasicAuth)`, `{ onRequest: fastifyBasicAuth }`) instead of what it returns,
 * so the framework calls it with Express's `req`, Koa's `ctx` or Fastify's `request`. The
 * option checks would otherwise report the request's fields as unknown options.
 *
 * @param first - the factory's first argument.
 * @param factory - the factory's name.
 * @param args - its arguments as the message shows them, such as `{ username, password }`.
 * @param returned - what it returns: `middleware` or `hook`.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` when `first` is a request.
 */
export function refuseMountedFactory(
  first: unknown,
  factory: string,
  args: string,
  returned: 'middleware' | 'hook',
): void {
  if (!isFrameworkRequest(first)) return;
  throw new ApiKeyAuthError(
    'ERR_OPTIONS_INVALID',
    `${factory} was called with a request, so it was passed to the framework uncalled: call ${factory}(${args}) when setting up the route and pass the ${returned} it returns.`,
  );
}

/** Whether `value` is a request as Express, Koa and Fastify hand one to middleware. */
function isFrameworkRequest(value: unknown): boolean {
  try {
    const candidate = value as { method?: unknown; headers?: unknown } | null;
    return typeof candidate?.method === 'string' && typeof candidate.headers === 'object' && candidate.headers !== null;
  } catch {
    // A getter that throws: options or an authenticator with a trap, not a request.
    return false;
  }
}

/**
 * Answers a Fastify factory registered uncalled as a plugin (`app.register(fastifyBasicAuth)`):
 * avvio calls it with the instance, the plugin's options and `done`. The mistake goes to
 * `done`, so `ready()` rejects with it; a throw there would end the process.
 *
 * @param args - the factory's arguments.
 * @param factory - the factory's name.
 * @param call - the call to make instead, such as `fastifyBasicAuth({ username, password })`.
 * @param orElse - another way, if there is one, as the end of the sentence.
 * @returns the error given to `done`, or undefined when the call was not such a registration.
 */
export function refusePluginRegistration(
  args: ArrayLike<unknown>,
  factory: string,
  call: string,
  orElse?: string,
): ApiKeyAuthError | undefined {
  const done = args[2];
  if (!isFastifyInstance(args[0]) || typeof done !== 'function') return undefined;
  const error = new ApiKeyAuthError(
    'ERR_OPTIONS_INVALID',
    `${factory} was registered as a plugin, but it makes a hook: pass ${call} as a route's onRequest option${orElse ? `, ${orElse}` : ''}.`,
  );
  (done as (error: Error) => void)(error);
  return error;
}

/** Whether `value` is a Fastify instance, as avvio passes one to a plugin. */
export function isFastifyInstance(value: unknown): boolean {
  const candidate = value as { register?: unknown; addHook?: unknown } | null;
  return typeof candidate?.register === 'function' && typeof candidate.addHook === 'function';
}
