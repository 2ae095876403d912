import { randomUUID } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import { refusalClosesConnection, type ApiKeyContext } from 'keyward';

/** A framework-free answer: each demo app writes it with its own response API. */
export interface DemoReply {
  status: number;
  body: unknown;
}

const MAX_BODY_LENGTH = 1_600;

const GRAPHEMES = new Intl.Segmenter('en', { granularity: 'grapheme' });

function characterCount(text: string): number {
  let count = 0;
  for (const _ of GRAPHEMES.segment(text)) count++;
  return count;
}

// What no message should carry: control characters but tab and line breaks, bidirectional
// overrides and isolates (which reorder what the recipient sees), a byte-order mark, and
// noncharacters (U+FDD0 to U+FDEF, and the last two code points of every plane).
const UNSENDABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufeff\p{Noncharacter_Code_Point}]/u;

/**
 * `POST /v1/sms`: accepts `{ "to", "body" }` and pretends to queue the message.
 *
 * @param payload - the parsed JSON body; undefined when the body was not sent as JSON, which
 *   every framework's demo leaves unread.
 * @param apiKey - the authenticated key's context.
 */
export function acceptSms(payload: unknown, apiKey: ApiKeyContext): DemoReply {
  if (payload === undefined) return notSentAsJson();
  // The parser takes an array too (as express.json does); it is no message.
  if (Array.isArray(payload)) return notAnObject();
  const { to, body } = (payload ?? {}) as { to?: unknown; body?: unknown };
  if (typeof to !== 'string' || !/^\+?[0-9]{6,15}$/.test(to)) {
    return invalidRequest('"to" must be a phone number such as +15550100.');
  }
  // Characters as a reader counts them (grapheme clusters): an emoji, a family of emoji or a
  // letter with a combining accent is one, whatever its UTF-16 units or code points.
  if (typeof body !== 'string' || body.trim() === '' || characterCount(body) > MAX_BODY_LENGTH) {
    return invalidRequest(`"body" must be a string of at most ${MAX_BODY_LENGTH} characters, not all of them white space.`);
  }
  if (UNSENDABLE.test(body)) {
    return invalidRequest('"body" must not hold control characters (other than tab and line breaks), bidirectional overrides, a byte-order mark or noncharacters.');
  }
  if (/\p{Surrogate}/u.test(body)) {
    // A lone surrogate written as a JSON escape (`\ud800`) would be sent as U+FFFD, another
    // message than the one asked for, as bytes that are not UTF-8 would.
    return invalidRequest('"body" must be well-formed Unicode text: a lone surrogate (an escape from \\ud800 to \\udfff without its pair) is not.');
  }
  return {
    status: 202,
    body: { id: `msg_${randomUUID().replaceAll('-', '')}`, status: 'queued', to, environment: apiKey.environment },
  };
}

/**
 * The headers of every demo answer, on every framework:
 * - `Cache-Control: no-store`, as on keyward's refusals: an answer to a keyed request is that
 *   account's, and a key in `X-API-Key` does not keep shared caches from storing it as a key in
 *   `Authorization` does;
 * - `Connection: close` when the answer leaves a large body unread (see
 *   `refusalClosesConnection`), whatever the route and whether or not it asks for a key: kept
 *   alive, Node would read and throw away the whole body after the answer, so any client could
 *   have the gateway swallow gigabytes.
 *
 * @param request - Node's request being answered.
 */
export function answerHeaders(request: Parameters<typeof refusalClosesConnection>[0]): Record<string, string> {
  return refusalClosesConnection(request) ? { 'cache-control': 'no-store', connection: 'close' } : { 'cache-control': 'no-store' };
}

/** `GET /v1/whoami`: the key context, nothing secret. */
export function whoami(apiKey: ApiKeyContext): DemoReply {
  return { status: 200, body: { apiKey } };
}

/** `GET /healthz`: unauthenticated liveness. */
export function health(): DemoReply {
  return { status: 200, body: { status: 'ok' } };
}

/** Largest request body the demo reads, on every framework. */
export const MAX_REQUEST_BODY_BYTES = 16 * 1024;

/**
 * A body refused with an answer of its own, thrown from a body reader to the app's error
 * handler, which answers {@link bodyErrorReply}: its `reply`. `status` is there for Express's
 * JSON parser, which would otherwise wrap an error thrown by its `verify` hook in a 403.
 */
export class BodyRefusal extends Error {
  readonly status: number;

  constructor(readonly reply: DemoReply) {
    super('request body refused');
    this.status = reply.status;
  }
}

/**
 * Refuses a body whose bytes are not UTF-8. Decoding would put U+FFFD in place of each bad
 * byte, and the demo would queue a message other than the one sent, without a word.
 *
 * @param bytes - the body as it came.
 * @param charset - the charset the parser will decode it by, where it reads the declared one
 *   (Express's does: UTF-16 and UTF-32 too); Koa's and Fastify's demos read UTF-8 always.
 * @throws {BodyRefusal} 415 for another declared charset, as Express answers latin1; 400
 *   "The request body must be UTF-8 text." for bytes that are not UTF-8.
 */
export function assertUtf8Body(bytes: Uint8Array, charset = 'utf-8'): void {
  if (charset !== 'utf-8') throw new BodyRefusal(notSentAsJson());
  if (!isUtf8(bytes)) throw new BodyRefusal(invalidRequest('The request body must be UTF-8 text.'));
}

/**
 * The answer to an error a body reader threw: a {@link BodyRefusal}'s own, otherwise the one
 * {@link unreadableBody} gives for its status.
 *
 * @param error - what the framework's error handler got.
 */
export function bodyErrorReply(error: unknown): DemoReply {
  if (error instanceof BodyRefusal) return error.reply;
  const { status, statusCode } = (error ?? {}) as { status?: number; statusCode?: number };
  return unreadableBody(status ?? statusCode);
}

/**
 * Parses a JSON request body by the rules of Express's `express.json()`, so every framework's
 * demo accepts and refuses the same bodies: an empty body reads as `{}`, and only an object or
 * an array may stand at the top level.
 *
 * @param text - the body as received.
 * @returns the value, or `undefined` with `ok: false` when the body is not such JSON.
 */
export function parseJsonBody(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text.length === 0) return { ok: true, value: {} };
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[') return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** 400: the body is JSON, or was meant to be, but no object. */
function notAnObject(): DemoReply {
  return invalidRequest('The request body must be a JSON object, such as {"to":"+15550100","body":"hello"}.');
}

/** 415: the body was not sent as JSON (another type, or a Content-Type no parser can read). */
function notSentAsJson(): DemoReply {
  const message = 'Send the message as JSON in UTF-8, with Content-Type: application/json.';
  return { status: 415, body: { error: { code: 'ERR_INVALID_REQUEST', message } } };
}

/**
 * What the demo answers when a request body cannot be read (413 too large, 415 a media type
 * the parser refuses, 400 not JSON) or anything else fails (500): the same on every framework.
 *
 * @param status - the status the framework or the body reader gave the failure.
 */
export function unreadableBody(status: number | undefined): DemoReply {
  if (status === 413) {
    return { status: 413, body: { error: { code: 'ERR_INVALID_REQUEST', message: `The request body is larger than ${MAX_REQUEST_BODY_BYTES} bytes.` } } };
  }
  // Fastify's for a Content-Type it cannot parse (empty, two types); Express's for a charset
  // other than UTF-8.
  if (status === 415) return notSentAsJson();
  // Express's strict parser refuses JSON that is no object or array (`null`, `5`) here too.
  if (status !== undefined && status >= 400 && status < 500) return notAnObject();
  return { status: 500, body: { error: { code: 'ERR_INTERNAL', message: 'Internal server error.' } } };
}

/**
 * Gives a request that declares no body (neither `Content-Length` nor `Transfer-Encoding`) the
 * `Content-Length: 0` it stands for (RFC 9112, section 6.3), so it is answered as an empty body
 * on every framework: Express's and Koa's body readers take a request without either header for
 * one without a content type (415, though it was sent as JSON), while Fastify's reads it as empty.
 *
 * @param headers - Node's request headers (`req.headers`), changed in place.
 */
export function declareEmptyBody(headers: IncomingHttpHeaders): void {
  if (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) headers['content-length'] = '0';
}

/**
 * The answer to a body sent compressed (any `Content-Encoding` but `identity`), or undefined
 * for a plain one. The demo takes plain bodies only, on every framework alike: Express's parser
 * would inflate gzip while Koa's and Fastify's demo parsers would read the compressed bytes
 * as text, so each framework would answer another way. An empty or whitespace-only header
 * names no coding (RFC 9110 lets the list be empty, and Express's parser reads it as
 * identity), so it counts as none.
 *
 * @param contentEncoding - the request's `Content-Encoding` header, if any.
 */
export function compressedBody(contentEncoding: string | string[] | undefined): DemoReply | undefined {
  const coding = contentEncoding === undefined ? '' : String(contentEncoding).trim().toLowerCase();
  if (coding === '' || coding === 'identity') return undefined;
  const message = 'Send the message uncompressed: this gateway takes no Content-Encoding.';
  return { status: 415, body: { error: { code: 'ERR_INVALID_REQUEST', message } } };
}

/**
 * The answer to a body framed with a transfer coding other than `chunked` alone, or undefined.
 * Node's parser refuses a request whose last coding is not `chunked` itself, so what reaches
 * an app is a coding listed before it (`gzip, chunked`): Node takes the chunks apart and hands
 * on the gzip bytes as they came, which would otherwise be read as plain text. RFC 9112
 * (section 6.1) has a server answer 501 to a transfer coding it does not understand.
 *
 * @param transferEncoding - the request's `Transfer-Encoding` header, if any.
 */
export function unknownTransferCoding(transferEncoding: string | string[] | undefined): DemoReply | undefined {
  if (transferEncoding === undefined || String(transferEncoding).trim().toLowerCase() === 'chunked') return undefined;
  const message = 'Send the message with no Transfer-Encoding but chunked: this gateway decodes no other.';
  return { status: 501, body: { error: { code: 'ERR_NOT_IMPLEMENTED', message } } };
}

/**
 * The answer to a body coded in a way the demo does not read (see {@link compressedBody} and
 * {@link unknownTransferCoding}), or undefined for a plain one.
 *
 * @param headers - Node's request headers (`req.headers`).
 */
export function unreadableCoding(headers: IncomingHttpHeaders): DemoReply | undefined {
  return compressedBody(headers['content-encoding']) ?? unknownTransferCoding(headers['transfer-encoding']);
}

/** Any path or method the demo does not serve. */
export function notFound(): DemoReply {
  return { status: 404, body: { error: { code: 'ERR_NOT_FOUND', message: 'No such route.' } } };
}

function invalidRequest(message: string): DemoReply {
  return { status: 400, body: { error: { code: 'ERR_INVALID_REQUEST', message } } };
}
