import type { ApiKeyAuth, RouteRequirement } from './authenticator.js';
import { invalidOption } from './errors.js';
import { assertKnownOptions, assertOptionsObject } from './options.js';

/** Options every adapter takes for one route or one mount point. */
export interface RouteOptions extends RouteRequirement {
  /**
   * Hand refusals to the framework's error handling (`next(err)` in Express, a thrown error in
   * Koa, the error handler in Fastify) instead of answering them. The error is an
   * `ApiKeyAuthError` carrying `status`, `expose` and `headers`. @default false
   */
  forwardErrors?: boolean;
}

/** Route options after checks. */
export interface ResolvedRouteOptions {
  requirement: RouteRequirement;
  forwardErrors: boolean;
}

/**
 * Checks an adapter's arguments when the route is set up, so a mistake fails at startup
 * rather than leaving a route open.
 *
 * @param auth - the authenticator from `createApiKeyAuth`.
 * @param options - the route's options.
 * @param factory - the adapter's name, for error messages.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID`.
 */
export function resolveRouteOptions(
  auth: ApiKeyAuth,
  options: RouteOptions,
  factory: string,
): ResolvedRouteOptions {
  if (typeof auth?.decide !== 'function') {
    invalidOption(`${factory} needs the authenticator from createApiKeyAuth() as its first argument.`);
  }
  assertOptionsObject(options, factory);
  assertKnownOptions(options, ['keyType', 'forwardErrors'], factory);
  const { keyType, forwardErrors = false } = options;
  if (keyType !== undefined && (typeof keyType !== 'string' || keyType.length === 0)) {
    invalidOption(`${factory}: "keyType" must be a non-empty string.`);
  }
  if (typeof forwardErrors !== 'boolean') invalidOption(`${factory}: "forwardErrors" must be a boolean.`);
  return { requirement: keyType === undefined ? {} : { keyType }, forwardErrors };
}
