import type { ParameterizedContext } from 'koa';
import { refusalClosesConnection, type AuthResponse } from 'keyward';
import { setOwnHeaders } from './own-headers.js';

/**
 * Answers with a response the core built, through Koa's own response (not
 * `ctx.respond = false`), so that upstream middleware, a request logger say, sees the real
 * status. The core's headers are set first, so Koa's string-body setter keeps their
 * `Content-Type` and only writes its own `Content-Length` (the same number, under its own
 * letter case), which is then set back: the bytes match the other adapters, with the same
 * header names, letter case and order. Setting them on Node's response directly skips Koa's
 * per-call copying, which showed under a flood of refusals. A large body still to come
 * closes the connection rather than being read and thrown away.
 *
 * @param ctx - the request's context.
 * @param response - the core's answer.
 */
export function answerKoa(ctx: ParameterizedContext, response: AuthResponse): void {
  // As Koa's own setters do once the head is out: nothing more can be said.
  if (ctx.headerSent) return;
  const { headers } = response;
  ctx.status = response.status;
  setOwnHeaders(ctx.res, headers);
  ctx.body = response.body;
  ctx.res.setHeader('content-length', headers['content-length']!);
  if (refusalClosesConnection(ctx.req)) ctx.res.setHeader('connection', 'close');
}

/**
 * Sets a refusal's headers on the response before the error is thrown to the app's error
 * handling (`forwardErrors`), with `Connection: close` where {@link answerKoa} would send it:
 * a catch-all that sets only status and body still sends them.
 *
 * @param ctx - the request's context.
 * @param headers - the error's headers (the challenge, `Retry-After`).
 */
export function setForwardedHeaders(ctx: ParameterizedContext, headers: Readonly<Record<string, string>>): void {
  ctx.set({ ...headers });
  if (refusalClosesConnection(ctx.req)) ctx.set('connection', 'close');
}
