// Reading the presented credential from a request. Everything here is linear in a bounded
// input: values longer than MAX_CREDENTIAL_HEADER_LENGTH are refused before they are scanned,
// and the one regular expression here that runs on request data is a single anchored
// character class, which matches in one pass with nothing to backtrack into.

/**
 * The request parts keyward reads. Every adapter passes a `NodeCredentialRequest`, which fills
 * all of them from Node's request message; so should other callers. `{ headers: req.headers }`
 * alone type-checks but gives up two protections: see `rawHeaders` and `remoteAddress`.
 */
export interface CredentialRequest {
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /**
   * Node's `rawHeaders` (names and values alternating, as received), when the caller has
   * them. Preferred for the credential headers: `headers` keeps only the first of two
   * `Authorization` headers, and two different keys must be refused rather than resolved by
   * their order. (Node's `headersDistinct` would tell the same, but building it costs
   * several microseconds per request; the credential headers are found in `rawHeaders`
   * with a short scan.) Without it only `headers` is read: from Node's `req.headers`, a
   * second `Authorization` header is not seen and the first one decides, and a request with
   * more than 1,000 header lines is not recognised as such.
   */
  rawHeaders?: readonly string[] | undefined;
  /** Path and query, read only when a query parameter carrier is switched on. */
  url?: string | undefined;
  /**
   * The peer address of the connection (the socket's, so a proxy's when there is one). Read
   * only by the default `clientAddress` of the attempt throttle. With neither this nor
   * `clientIp` (and no `clientAddress` option), a request has no address: it counts against
   * the one per-client limit every request without an address shares, and once a lookup id
   * has failed too often in the window, requests for it get 429 unless this instance has
   * already verified the key they carry, so forgeries can lock out the key's holder.
   */
  remoteAddress?: string | undefined;
  /**
   * The client address as the framework reports it, honouring the app's trust-proxy setting
   * (Express `req.ip`, Koa `ctx.ip`, Fastify `request.ip`). Read only by the default
   * `clientAddress` of the attempt throttle, for requests that reach the secret check.
   */
  readonly clientIp?: string | undefined;
}

/** Where credentials may come from. */
export interface CredentialCarriers {
  /** Header that may carry a bare key besides `Authorization: Bearer`, or false for none. */
  apiKeyHeader: string | false;
  /** Query parameter that may carry a key, or false (the default: URLs end up in logs). */
  queryParameter: string | false;
}

/** Longest header or query value looked at; a key with `Bearer ` fits many times over. */
export const MAX_CREDENTIAL_HEADER_LENGTH = 512;

/**
 * Most header lines a request may have for its credential to be read. Node's `headers`
 * keeps only the first 1000 lines of a request (its default `maxHeadersCount`), and even
 * `rawHeaders` stops a little later, so past this a second, different key could be cut off
 * unseen: such a request is refused rather than read.
 */
export const MAX_HEADER_LINES = 1000;

/** Why no usable credential was read. Goes to the decision hook, never to the client. */
export type CredentialFailure =
  | 'missing'
  | 'empty'
  | 'too_long'
  | 'malformed_header'
  | 'conflicting_credentials'
  | 'too_many_headers';

/**
 * Result of {@link extractCredential} and {@link parseBearerHeader}: the credential text as
 * sent (not yet checked as a key), or why none could be read.
 */
export type ExtractCredentialResult =
  | { ok: true; credential: string }
  | { ok: false; reason: CredentialFailure };

type CarrierResult = ExtractCredentialResult | undefined;

/**
 * Reads the one credential a request presents. `Authorization` must use the Bearer scheme
 * (any letter case) followed by one or more spaces and a single token; tabs are not
 * separators. Several carriers may be present only if they hold the very same key.
 *
 * @param request - headers (and the URL when a query carrier is on).
 * @param carriers - the carriers switched on.
 * @returns the credential, or why the request has no usable one.
 * @example
 * ```ts
 * const carriers = { apiKeyHeader: 'x-api-key', queryParameter: false } as const;
 * extractCredential({ headers: { authorization: 'Bearer abc' } }, carriers);
 * // { ok: true, credential: 'abc' }
 * extractCredential({ headers: { authorization: 'Bearer abc', 'x-api-key': 'def' } }, carriers);
 * // { ok: false, reason: 'conflicting_credentials' }
 * ```
 */
export function extractCredential(
  request: CredentialRequest,
  carriers: CredentialCarriers,
): ExtractCredentialResult {
  if (request.rawHeaders && hasTooManyHeaderLines(request.rawHeaders)) {
    return { ok: false, reason: 'too_many_headers' };
  }
  // Plain calls and no per-request closures, arrays or sets: this runs on every request.
  const authorization = readHeader(headerValue(request, 'authorization'), parseBearerHeader);
  const bare = carriers.apiKeyHeader ? readHeader(headerValue(request, carriers.apiKeyHeader), readBareValue) : undefined;
  const query = carriers.queryParameter ? readQuery(request.url, carriers.queryParameter) : undefined;

  // The first unusable carrier, in this order, decides; then any two usable ones must agree.
  if (authorization?.ok === false) return authorization;
  if (bare?.ok === false) return bare;
  if (query?.ok === false) return query;
  const first = authorization ?? bare ?? query;
  if (first === undefined) return { ok: false, reason: 'missing' };
  if ((bare && bare.credential !== first.credential) || (query && query.credential !== first.credential)) {
    return { ok: false, reason: 'conflicting_credentials' };
  }
  return first;
}

/**
 * Whether a request has more than {@link MAX_HEADER_LINES} header lines, so Node may have cut a
 * second credential off unseen. For every check that reads credentials from `rawHeaders`.
 *
 * @param rawHeaders - Node's `message.rawHeaders` (names and values alternating).
 */
export function hasTooManyHeaderLines(rawHeaders: readonly string[]): boolean {
  return rawHeaders.length > 2 * MAX_HEADER_LINES;
}

/** A header's value, from `rawHeaders` when the caller passed them (they keep repeats). */
function headerValue(request: CredentialRequest, name: string): string | string[] | undefined {
  return request.rawHeaders ? rawValuesOf(request.rawHeaders, name) : headersObjectValue(request.headers, name);
}

/**
 * Every value a headers object holds for `name`, under any ASCII letter case of it: one
 * string, an array when there are several, or undefined. Node's `req.headers` has lower-case
 * names only, but an object an app builds (from a serverless event, say) may keep the sender's
 * spelling; read by the lower-case name alone, an `Authorization` there would go unseen, and
 * with it a conflict with another carrier.
 */
function headersObjectValue(headers: CredentialRequest['headers'], name: string): string | string[] | undefined {
  let found: string | string[] | undefined;
  for (const field in headers) {
    // Own names only: `for…in` also visits what a polluted Object.prototype holds.
    if (!isHeaderName(field, name) || !Object.hasOwn(headers, field)) continue;
    const value = headers[field];
    if (value === undefined) continue;
    // A value of another type is kept as it is: the readers refuse it.
    found = found === undefined ? value : ([] as unknown[]).concat(found, value) as string[];
  }
  return found;
}

/**
 * Every value of the header `name` in Node's `rawHeaders`: one string, an array when it was
 * sent more than once, or undefined. Node's `headers` keeps only the first copy of a repeated
 * `Authorization`; this keeps them all, so a check can refuse two different ones. Names match
 * in any ASCII letter case, on both sides, and no other character is folded.
 *
 * @param rawHeaders - Node's `message.rawHeaders` (names and values alternating).
 * @param name - the header name, in any ASCII letter case.
 * @example
 * ```ts
 * const signatures = rawHeaderValue(req.rawHeaders, 'X-Signature'); // 'a', ['a', 'b'] or undefined
 * ```
 */
export function rawHeaderValue(rawHeaders: readonly string[], name: string): string | string[] | undefined {
  // ASCII capitals only: `toLowerCase()` on the whole name would also turn a Kelvin sign into `k`.
  return rawValuesOf(rawHeaders, name.replace(/[A-Z]+/g, (capitals) => capitals.toLowerCase()));
}

/**
 * {@link rawHeaderValue} for a name already in lower case. Allocates only for a repeat, and
 * then an array of its own: an app-built rawHeaders may hold values that are no strings (an
 * array among them), which the callers refuse as malformed, and none is ever changed here. A
 * single value that is no string comes back in an array of its own too: an array given as one
 * value must not pass for copies that were sent.
 */
function rawValuesOf(rawHeaders: readonly string[], name: string): string | string[] | undefined {
  let first: string | undefined;
  let copies: string[] | undefined;
  let count = 0;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const field = rawHeaders[i]!;
    if (!isHeaderName(field, name)) continue;
    const value = rawHeaders[i + 1]!;
    count++;
    if (count === 1) first = value;
    else if (count === 2) copies = [first!, value];
    else copies!.push(value);
  }
  if (copies !== undefined) return copies;
  return count === 1 && typeof first !== 'string' ? [first as unknown as string] : first;
}

/**
 * Whether a received header field name is `name` (lower case), with ASCII letters compared in
 * any case and nothing else folded: `toLowerCase()` would also fold a Kelvin sign into `k`,
 * and allocate a string for every field of the right length. Runs for every header of every
 * request.
 */
function isHeaderName(field: string, name: string): boolean {
  // An app-built rawHeaders may hold anything; what is no string names no header.
  if (typeof field !== 'string' || field.length !== name.length) return false;
  for (let i = 0; i < field.length; i++) {
    let code = field.charCodeAt(i);
    if (code >= 0x41 && code <= 0x5a) code |= 0x20;
    if (code !== name.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Parses an `Authorization` header value as `Bearer <token>`.
 *
 * @param value - the raw header value.
 * @returns the token, or why the header is unusable.
 * @example
 * ```ts
 * parseBearerHeader('bearer  sk_test_x'); // { ok: true, credential: 'sk_test_x' }
 * parseBearerHeader('Basic dTpw'); // { ok: false, reason: 'malformed_header' }
 * parseBearerHeader('Bearer'); // { ok: false, reason: 'empty' }
 * ```
 */
export function parseBearerHeader(value: string): ExtractCredentialResult {
  if (value.length > MAX_CREDENTIAL_HEADER_LENGTH) return { ok: false, reason: 'too_long' };
  const trimmed = trimOws(value);

  const space = trimmed.indexOf(' ');
  if (!isBearerScheme(trimmed, space === -1 ? trimmed.length : space)) return { ok: false, reason: 'malformed_header' };
  if (space === -1) return { ok: false, reason: 'empty' };

  let start = space;
  while (trimmed.charCodeAt(start) === 0x20) start++;
  const token = trimmed.slice(start);

  if (token.length === 0) return { ok: false, reason: 'empty' };
  if (!isSingleVisibleToken(token)) return { ok: false, reason: 'malformed_header' };
  return { ok: true, credential: token };
}

/** The refusal of a header value that is no text at all. */
const MALFORMED: ExtractCredentialResult = Object.freeze({ ok: false, reason: 'malformed_header' });

/** A credential header read with `read`: every copy of a repeated one (see readEveryCopy). */
function readHeader(value: string | string[] | undefined, read: (value: string) => ExtractCredentialResult): CarrierResult {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return read(value);
  // An app-built request may carry null, a number or an object: malformed, never a fault.
  return Array.isArray(value) ? readEveryCopy(value, read) : MALFORMED;
}

function readQuery(url: string | undefined, parameter: string): CarrierResult {
  // A URL that is no text carries no query to read.
  if (typeof url !== 'string') return undefined;
  const queryStart = url.indexOf('?');
  if (queryStart === -1) return undefined;
  const values = new URLSearchParams(url.slice(queryStart + 1)).getAll(parameter);
  if (values.length === 0) return undefined;
  // Repeated, as a repeated header is: every copy must carry the same key.
  return values.length === 1 ? readBareValue(values[0]!) : readEveryCopy(values, readBareValue);
}

function readBareValue(value: string): ExtractCredentialResult {
  if (value.length > MAX_CREDENTIAL_HEADER_LENGTH) return { ok: false, reason: 'too_long' };
  const token = trimOws(value);
  if (token.length === 0) return { ok: false, reason: 'empty' };
  if (!isSingleVisibleToken(token)) return { ok: false, reason: 'malformed_header' };
  return { ok: true, credential: token };
}

/**
 * A header sent more than once arrives as an array. Every copy must be usable and carry the
 * same key; the copies are compared by the key they carry, so `Bearer K` and `bearer  K`
 * agree.
 */
function readEveryCopy(values: string[], read: (value: string) => ExtractCredentialResult): CarrierResult {
  let first: Extract<ExtractCredentialResult, { ok: true }> | undefined;
  for (const value of values) {
    if (typeof value !== 'string') return MALFORMED;
    const result = read(value);
    if (!result.ok) return result;
    if (first === undefined) first = result;
    else if (result.credential !== first.credential) return { ok: false, reason: 'conflicting_credentials' };
  }
  return first;
}

/**
 * Strips optional whitespace (spaces and tabs) at both ends, as HTTP allows, with a plain
 * loop: a regular expression could backtrack on a long run of whitespace.
 */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * Whether the first `length` characters of `value` are `Bearer` in any ASCII letter case,
 * compared in place: this runs on every request.
 */
function isBearerScheme(value: string, length: number): boolean {
  if (length !== BEARER.length) return false;
  for (let i = 0; i < length; i++) {
    // Setting bit 5 lower-cases an ASCII letter; only B/b gives b, and so on.
    if ((value.charCodeAt(i) | 0x20) !== BEARER.charCodeAt(i)) return false;
  }
  return true;
}

const BEARER = 'bearer';

// One anchored character class: V8 runs it as a single native pass, several times faster
// than a charCodeAt loop over a slice of the header.
const VISIBLE_ASCII = /^[\x21-\x7e]*$/;

/** Visible ASCII only: no space, tab, control or non-ASCII character anywhere. */
function isSingleVisibleToken(token: string): boolean {
  return VISIBLE_ASCII.test(token);
}
