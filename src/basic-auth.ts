import { basicAuthThrottle, type BasicAuthThrottleOptions } from './basic-auth-throttle.js';
import { secretDigest, secretsEqual } from './compare.js';
import { hasTooManyHeaderLines, rawHeaderValue, trimOws } from './extract.js';
import { ApiKeyAuthError, invalidOption } from './errors.js';
import {
  assertHeaderParameter,
  assertOptionalFunction,
  assertOptionsObject,
  knownOptions,
} from './options.js';
import {
  defaultErrorBody,
  responseFor,
  TOO_MANY_ATTEMPTS_MESSAGE,
  type AuthResponse,
  type ErrorBodyFormatter,
} from './responses.js';
import { webhookPasswordProblem, webhookUsernameProblem } from './webhook-settings.js';

/** Options of {@link createBasicAuthChecker} and of the receiver middleware of each adapter. */
export interface BasicAuthOptions {
  /**
   * The username the sender is configured with; `''` or `null` when it sends none, as in
   * `setWebhook`. Required: left out, it is refused rather than read as none.
   */
  username: string | null;
  /** The password the sender is configured with. Required, non-empty. */
  password: string;
  /** Realm named in the `WWW-Authenticate` challenge. @default 'webhooks' */
  realm?: string | undefined;
  /** Replaces the JSON body of the 401 and 429 answers. */
  errorBody?: ErrorBodyFormatter | undefined;
  /**
   * Adapters only: hand refusals to the framework's error handling (`next(err)` in Express, a
   * thrown error in Koa and Fastify) instead of answering them. The error carries `status`,
   * `expose` and `headers` (the challenge, or a 429's `Retry-After`). @default false
   */
  forwardErrors?: boolean | undefined;
  /**
   * Limits on failed checks per client address, or `false` for none. Past the limit, every
   * request from that address gets 429 `ERR_TOO_MANY_ATTEMPTS` with `Retry-After` until the
   * window ends, and its credentials are not looked at, so a right guess then gains nothing.
   * The adapters count under the framework's own client IP (Express `req.ip`, Koa `ctx.ip`,
   * Fastify `request.ip`), so behind a proxy set the framework's trust-proxy option, or the
   * gateway shares one counter with every other client.
   * @default {} (20 failures per client in 15 minutes; see BasicAuthThrottleOptions)
   */
  throttle?: BasicAuthThrottleOptions | false | undefined;
}

/**
 * Why Basic credentials were refused. For the app's logs; the client sees only the 401, or
 * the 429 of `too_many_attempts` (its address failed too often; nothing was checked).
 */
export type BasicAuthFailure =
  | 'missing'
  | 'too_long'
  | 'malformed_header'
  | 'malformed_credentials'
  | 'mismatch'
  | 'too_many_attempts';

/** The result of {@link BasicAuthChecker.check}. */
export type BasicAuthResult =
  | { ok: true }
  | { ok: false; reason: BasicAuthFailure; error: ApiKeyAuthError; response: AuthResponse };

/** A receiver-side Basic-auth check, built once per route. */
export interface BasicAuthChecker {
  /** Whether adapters forward refusals instead of answering them. */
  readonly forwardErrors: boolean;
  /**
   * Checks an `Authorization` header value. Never throws: anything but a string, an array of
   * strings or undefined is refused like a malformed header (`malformed_header`).
   *
   * @param authorization - the header as Node gives it (a repeated header is an array).
   * @param client - the client's address, which failures are counted under. Left out (or
   *   anything but a non-empty string), the request counts as from an unknown client, and
   *   all unknown clients share one counter: past its limit, every request without an
   *   address gets 429, the gateway's too.
   */
  check(authorization: string | string[] | undefined, client?: string): BasicAuthResult;
  /**
   * Checks a request by Node's `rawHeaders`, as the adapters do: every `Authorization` copy is
   * read, so two different ones are refused, and a request with more than 1,000 header lines
   * is refused as `malformed_header`, since Node may have cut a second one off unseen.
   *
   * @param rawHeaders - the request's `rawHeaders` (names and values alternating).
   * @param client - the client's address, as for {@link check}.
   */
  checkRawHeaders(rawHeaders: readonly string[], client?: string): BasicAuthResult;
}

/**
 * Longest `Authorization` value looked at. The longest credentials keyward lets a sender store,
 * and so the longest a receiver accepts at setup (256-byte username, 1 KiB password), encode
 * to about 1.7 KiB, so this leaves room to spare.
 */
export const MAX_BASIC_HEADER_LENGTH = 4096;

const OPTION_NAMES: readonly (keyof BasicAuthOptions)[] = [
  'username',
  'password',
  'realm',
  'errorBody',
  'forwardErrors',
  'throttle',
];

const BASE64_BODY = /^[A-Za-z0-9+/]+$/;

/**
 * Creates the framework-agnostic check behind `expressBasicAuth`, `koaBasicAuth` and
 * `fastifyBasicAuth`: the receiving end of keyward's webhook deliveries.
 *
 * The scheme name is matched in any letter case, followed by one or more spaces. The base64
 * part may come with or without `=` padding (some senders drop it), but any other character,
 * a wrong amount of padding, an impossible length or a last character whose unused bits are
 * not zero (non-canonical base64) is refused. The bytes must be valid UTF-8
 * (RFC 7617's `charset="UTF-8"`, which the challenge announces) and are split at the first
 * colon, so a password may contain colons. Username and password are both compared, always,
 * in constant time, so the timing does not tell which of the two was wrong.
 *
 * Wrong credentials are counted per client address (see {@link BasicAuthOptions.throttle});
 * past the limit, the address gets 429 without its credentials being looked at.
 *
 * @param options - see {@link BasicAuthOptions}.
 * @param factory - name used in option errors (adapters pass their own).
 * @returns the checker.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` for a missing or malformed username or
 *   password (the same rules as `setWebhook`: at most 256 and 1,024 bytes of UTF-8, no control
 *   characters, and for the username no `:`, invisible or blank characters, noncharacters
 *   or line separators, and not only whitespace),
 *   a realm that would break the challenge header, or a bad `throttle` limit.
 * @example
 * ```ts
 * const password = process.env.HOOK_PASSWORD!;
 * const checker = createBasicAuthChecker({ username: 'hook-relay', password });
 * const result = checker.checkRawHeaders(req.rawHeaders, req.socket.remoteAddress);
 * if (!result.ok) return send(result.response); // 401 with WWW-Authenticate: Basic …, or 429
 * ```
 */
export function createBasicAuthChecker(
  given: BasicAuthOptions,
  factory = 'createBasicAuthChecker',
): BasicAuthChecker {
  assertOptionsObject(given, factory);
  const options = knownOptions(given, OPTION_NAMES, factory, { naming: 'withheld', nullable: ['username'] });
  const { password, realm = 'webhooks', forwardErrors = false } = options;
  const username = options.username === null ? '' : options.username;
  if (typeof username !== 'string') {
    invalidOption(`${factory}: "username" must be a string ('' or null for none).`);
  }
  if (typeof password !== 'string' || password.length === 0) {
    invalidOption(`${factory}: "password" must be a non-empty string.`);
  }
  // The challenge's charset="UTF-8" asks clients for Unicode normalization form C (RFC 7617,
  // 2.1). Both sides are compared in that form, so a password configured or typed with a
  // combining accent matches the same password written with the accented letter.
  const expectedUsername = username.normalize('NFC');
  const expectedPassword = password.normalize('NFC');
  // The same checks as setWebhook's, so the receiver takes exactly what a keyward sender can be
  // configured with. Their byte limits also keep every correct header within
  // MAX_BASIC_HEADER_LENGTH: a credential no request under the cap could carry is refused here
  // rather than turning every delivery into a `too_long` refusal.
  // The text as configured (which the length limits read in both forms) and the form compared.
  const problem =
    webhookUsernameProblem(username) ?? webhookPasswordProblem(password) ??
    webhookUsernameProblem(expectedUsername) ?? webhookPasswordProblem(expectedPassword);
  if (problem !== undefined) invalidOption(`${factory}: ${problem}`);
  assertHeaderParameter(realm, 'realm', factory);
  assertOptionalFunction(options.errorBody, 'errorBody', factory);
  if (typeof forwardErrors !== 'boolean') {
    invalidOption(`${factory}: "forwardErrors" must be a boolean.`);
  }
  const throttle = basicAuthThrottle(options.throttle, factory);
  // A formatter that throws or returns junk falls back to the default body: never a 500.
  const format = options.errorBody ?? defaultErrorBody;
  const challenge = { 'www-authenticate': `Basic realm="${realm}", charset="UTF-8"` };
  const usernameDigest = secretDigest(expectedUsername);
  const passwordDigest = secretDigest(expectedPassword);

  const refuse = (reason: BasicAuthFailure): BasicAuthResult => {
    const error =
      reason === 'missing'
        ? new ApiKeyAuthError(
            'ERR_BASIC_AUTH_MISSING',
            'Credentials are required. Send them as "Authorization: Basic <base64 of user:password>".',
            { status: 401, headers: challenge },
          )
        : new ApiKeyAuthError('ERR_BASIC_AUTH_INVALID', 'The credentials are invalid.', {
            status: 401,
            headers: challenge,
          });
    return { ok: false, reason, error, response: responseFor(error, format) };
  };

  /** The 429 for a client over its limit, or undefined when it may be checked. */
  const throttled = (address: string | undefined): BasicAuthResult | undefined => {
    const wait = throttle === undefined ? 0 : throttle.clientWait(address);
    if (wait === 0) return undefined;
    const error = new ApiKeyAuthError('ERR_TOO_MANY_ATTEMPTS', TOO_MANY_ATTEMPTS_MESSAGE, {
      status: 429,
      headers: { 'retry-after': String(wait) },
    });
    return { ok: false, reason: 'too_many_attempts', error, response: responseFor(error, format) };
  };

  const verify = (authorization: unknown, address: string | undefined): BasicAuthResult => {
    const read = readBasicCredentials(authorization);
    if (typeof read === 'string') return refuse(read);

    // Both comparisons always run: `&&` would skip the password when the user is wrong.
    const userMatches = secretsEqual(read.username.normalize('NFC'), usernameDigest);
    const passwordMatches = secretsEqual(read.password.normalize('NFC'), passwordDigest);
    if (userMatches && passwordMatches) return { ok: true };
    // Only this counts: every other refusal could never have been the right guess.
    throttle?.recordClientFailure(address);
    return refuse('mismatch');
  };

  return {
    forwardErrors,
    check(authorization, client) {
      const address = clientAddressOf(client);
      return throttled(address) ?? verify(authorization, address);
    },
    checkRawHeaders(rawHeaders, client) {
      const address = clientAddressOf(client);
      const tooMany = throttled(address);
      if (tooMany !== undefined) return tooMany;
      // Like check(), never throws: anything but an array is no readable request.
      if (!Array.isArray(rawHeaders) || hasTooManyHeaderLines(rawHeaders)) return refuse('malformed_header');
      return verify(rawHeaderValue(rawHeaders, 'authorization'), address);
    },
  };
}

/** A client address as given, or undefined (an unknown client) for anything but non-empty text. */
function clientAddressOf(client: unknown): string | undefined {
  return typeof client === 'string' && client.length > 0 ? client : undefined;
}

/**
 * Reads `Basic <base64>` into a username and password, or says why it cannot. Linear in the
 * input, which is capped before any work; nothing here throws.
 */
function readBasicCredentials(
  header: unknown,
): { username: string; password: string } | Exclude<BasicAuthFailure, 'mismatch'> {
  const value = singleValue(header);
  if (value === undefined) return 'missing';
  if (value === null) return 'malformed_header';
  if (value.length > MAX_BASIC_HEADER_LENGTH) return 'too_long';

  const trimmed = trimOws(value);
  const space = trimmed.indexOf(' ');
  const scheme = space === -1 ? trimmed : trimmed.slice(0, space);
  if (scheme.toLowerCase() !== 'basic' || space === -1) return 'malformed_header';

  const token = trimmed.slice(space).replace(/^ +/, '');
  const bytes = decodeBase64(token);
  if (bytes === undefined) return 'malformed_credentials';

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return 'malformed_credentials';
  }

  // RFC 7617: the user-id cannot contain a colon, the password can. Split at the first one.
  const colon = text.indexOf(':');
  if (colon === -1) return 'malformed_credentials';
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * A header sent twice arrives as an array; two different copies are malformed (null), and so
 * is anything Node never gives (a number, an object, null, an array holding a non-string).
 */
function singleValue(value: unknown): string | null | undefined {
  if (value === undefined || typeof value === 'string') return value;
  if (!Array.isArray(value)) return null;
  if (value.length === 0) return undefined;
  // An index loop, not every(): every() skips the holes of a sparse array.
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== 'string' || value[i] !== value[0]) return null;
  }
  return value[0] as string;
}

/**
 * Decodes canonical standard base64 with or without `=` padding. Unlike `Buffer.from(x, 'base64')`, which
 * skips characters it does not know, anything outside the alphabet is refused; unlike `atob`,
 * nothing throws.
 */
function decodeBase64(token: string): Buffer | undefined {
  const body = token.replace(/={1,2}$/, '');
  const padding = token.length - body.length;
  if (!BASE64_BODY.test(body)) return undefined;
  // One leftover character cannot encode a byte; padding, when present, must complete a quad.
  if (body.length % 4 === 1) return undefined;
  if (padding > 0 && token.length % 4 !== 0) return undefined;

  const bytes = Buffer.from(body, 'base64');
  // Re-encoding gives the input back only when the unused low bits of its last character are
  // zero; otherwise two different headers (`dTpwdw==`, `dTpwdx==`) would mean one credential.
  return bytes.toString('base64').startsWith(body) ? bytes : undefined;
}
