import { refusalClosesConnection, type AuthResponse } from 'keyward';
import type { FastifyHookReply, FastifyHookRequest } from './fastify-hook-types.js';

/**
 * Sends a refusal the core built. A Buffer is sent as it is: a string would go through a
 * serializer an earlier hook set with reply.serializer(). A large body still to come closes
 * the connection rather than being read and thrown away.
 *
 * @param request - the request refused.
 * @param reply - its reply.
 * @param response - the core's answer.
 * @returns the reply, which an async hook that answers early must return.
 */
export function answerFastify(
  request: FastifyHookRequest,
  reply: FastifyHookReply,
  { status, headers, body }: AuthResponse,
): FastifyHookReply {
  reply.code(status).headers(headers);
  if (refusalClosesConnection(request.raw)) reply.header('connection', 'close');
  return reply.send(Buffer.from(body));
}

/**
 * Sets a refusal's headers on the reply before the error goes to the error handler
 * (`forwardErrors`), with `Connection: close` where {@link answerFastify} would send it: a
 * handler that sets only a status and a body still sends them.
 *
 * @param request - the request refused.
 * @param reply - its reply.
 * @param headers - the error's headers (the challenge, `Retry-After`).
 */
export function setForwardedHeaders(
  request: FastifyHookRequest,
  reply: FastifyHookReply,
  headers: Readonly<Record<string, string>>,
): void {
  reply.headers(headers);
  if (refusalClosesConnection(request.raw)) reply.header('connection', 'close');
}
