import type { ApiKeyAuth, RouteRequirement } from './api-key-auth.js';
import { invalidOption } from './errors.js';
import { assertOptionsObject, closestName, knownOptions, quotedName } from './options.js';
import { ownField } from './own-field.js';

/** Options every adapter takes for one route or one mount point. */
export interface RouteOptions extends RouteRequirement {
  /**
   * Hand refusals to the framework's error handling (`next(err)` in Express, a thrown error in
   * Koa, the error handler in Fastify) instead of answering them. The error is an
   * `ApiKeyAuthError` carrying `status`, `expose` and `headers`. @default false
   */
  forwardErrors?: boolean | undefined;
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
 *
 * @internal Shared with keyward's other entry points; not public API, and may change in any release.
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
  const { keyType, forwardErrors = false } = knownOptions(options, ['keyType', 'forwardErrors'], factory);
  if (!isKeyTypeOption(keyType)) invalidOption(`${factory}: "keyType" must be a non-empty string.`);
  if (typeof forwardErrors !== 'boolean') invalidOption(`${factory}: "forwardErrors" must be a boolean.`);
  return { requirement: keyType === undefined ? NO_REQUIREMENT : { keyType }, forwardErrors };
}

/**
 * A requirement handed to `decide()` or `authenticate()`, read once: a frozen copy of it, or
 * what is wrong with it. It must be a plain object whose only own property is an optional
 * non-empty `keyType` (no other field, inherited, hidden or symbol-named, and no class
 * instance), because a direct caller's mistake (`'sms_api'`, `{ keytype }`, a field on a
 * prototype) must not drop the route's key-type check. The adapters check theirs at setup.
 *
 * @param requirement - as the caller gave it.
 */
export function readRequirement(requirement: unknown): RouteRequirement | string {
  if (typeof requirement !== 'object' || requirement === null || Array.isArray(requirement)) {
    return 'the route requirement must be an object such as { keyType: "sms_api" }';
  }
  try {
    const prototype: unknown = Object.getPrototypeOf(requirement);
    if (prototype !== Object.prototype && prototype !== null) {
      return 'the route requirement must be a plain object such as { keyType: "sms_api" }';
    }
    const other = Reflect.ownKeys(requirement).find((name) => name !== 'keyType');
    if (other !== undefined) {
      const name = typeof other === 'string' ? other : String(other);
      const hint = closestName(name, ['keyType']);
      return `the route requirement: unknown field ${quotedName(name)}.${hint ? ` Did you mean "${hint}"?` : ''}`;
    }
    const keyType = ownField(requirement as RouteRequirement, 'keyType');
    if (!isKeyTypeOption(keyType)) return 'the route requirement\'s "keyType" must be a non-empty string';
    return keyType === undefined ? NO_REQUIREMENT : Object.freeze({ keyType });
  } catch {
    return 'the route requirement could not be read';
  }
}

/**
 * The requirement of a route that asks for a live key only. Its `keyType` is its own, so none
 * is read from a polluted Object.prototype.
 */
export const NO_REQUIREMENT: RouteRequirement = Object.freeze({ keyType: undefined });

/** A route's `keyType`: left out, or a non-empty string. */
function isKeyTypeOption(value: unknown): value is string | undefined {
  return value === undefined || (typeof value === 'string' && value.length > 0);
}
