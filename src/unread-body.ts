import type { IncomingMessage } from 'node:http';

/**
 * The most body a refused request may still have to come for its connection to stay open.
 * Node reads and discards whatever body a handler leaves unread, to reuse the connection; a
 * small one costs less than the new connection the client would otherwise open.
 */
const KEPT_ALIVE_UNREAD_BYTES = 64 * 1024;

/**
 * Whether a refusal keyward writes should close the connection (`Connection: close`): an
 * HTTP/1 request whose body has not all arrived and is over 64 KiB or of unknown length
 * (chunked). Kept alive, the connection would have Node read and throw away that whole body
 * after the refusal, however large: a client with a bad key could have a gateway swallow
 * gigabytes. HTTP/2 bounds it by flow control, and forbids the header.
 *
 * The adapters apply it to the refusals they write and to those they hand on with
 * `forwardErrors` (set on the response first, as the challenge is); an adapter of your own for
 * another framework can do the same.
 *
 * @param request - Node's request being refused (`req` on Express, `ctx.req` on Koa,
 *   `request.raw` on Fastify).
 * @returns true when the refusal should carry `Connection: close`.
 * @example
 * ```ts
 * // Writing a refusal on a plain node:http server.
 * const { status, headers, body } = result.response;
 * res.writeHead(status, refusalClosesConnection(req) ? { ...headers, connection: 'close' } : headers);
 * res.end(body);
 * ```
 */
export function refusalClosesConnection(
  request: Pick<IncomingMessage, 'httpVersionMajor' | 'complete' | 'headers'>,
): boolean {
  if (request.httpVersionMajor !== 1 || request.complete) return false;
  const { headers } = request;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && !(Number(length) <= KEPT_ALIVE_UNREAD_BYTES);
}
