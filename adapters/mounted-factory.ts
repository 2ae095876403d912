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
