import { AttemptThrottle, resolveThrottleOptions, type ClientThrottleLimits } from './attempt-throttle.js';

/**
 * Limits on failed checks at a webhook receiver, counted per client address in fixed windows.
 * Only a well-formed header whose username or password is wrong counts: a request without
 * credentials, or with a header that is malformed or too long, could never have been the right
 * guess. A success does not reset the count.
 */
export interface BasicAuthThrottleOptions {
  /**
   * Failed checks from one client address per window before that address gets 429 for every
   * request until the window ends. The one legitimate sender, the gateway, never fails unless
   * it is misconfigured, so this only has to leave room for someone trying a setup by hand;
   * a guesser gets 20 tries a quarter hour, under 2,000 a day.
   * @default 20
   */
  maxFailuresPerClient?: number | undefined;
  /** Length of a counting window, 1 s to 24 h. @default 900000 (15 minutes) */
  windowMs?: number | undefined;
  /**
   * Most client addresses tracked, least recently seen dropped first (a 429 counts as seeing
   * one), so a flood of addresses cannot grow memory; about 160 bytes per entry.
   * @default 10000
   */
  maxTracked?: number | undefined;
  /**
   * The leading bits of a global IPv6 address that name one client (32 to 128), as for the
   * authenticator's throttle: rotating addresses within a /64 gains nothing.
   * @default 64
   */
  ipv6PrefixLength?: number | undefined;
}

/** The receivers' defaults, frozen; see {@link BasicAuthThrottleOptions} for the reasoning. */
export const DEFAULT_BASIC_AUTH_THROTTLE: Readonly<ClientThrottleLimits> = Object.freeze({
  maxFailuresPerClient: 20,
  windowMs: 15 * 60_000,
  maxTracked: 10_000,
  ipv6PrefixLength: 64,
});

/**
 * Builds a receiver's failure throttle from its `throttle` option, checked as the
 * authenticator's is.
 *
 * @param value - the option: an object, `false` for none, or undefined for the defaults.
 * @param factory - the factory it was given to; messages start with it.
 * @returns the throttle, counting per client only, or undefined when switched off.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` naming the bad limit, or an unknown one.
 * @example
 * ```ts
 * const throttle = basicAuthThrottle({ maxFailuresPerClient: 5 }, 'expressBasicAuth');
 * ```
 */
export function basicAuthThrottle(value: unknown, factory: string): AttemptThrottle | undefined {
  // The options around this one hold the password: an unknown name here is not repeated either.
  const limits = resolveThrottleOptions(value, factory, DEFAULT_BASIC_AUTH_THROTTLE, 'withheld');
  // Read through Date each time, not a saved Date.now: tests that fake Date reach it too.
  return limits === false ? undefined : new AttemptThrottle(limits, () => Date.now());
}
