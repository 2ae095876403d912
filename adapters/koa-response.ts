import type { ParameterizedContext } from 'koa';
import type { AuthResponse } from 'keyward';

/**
 * Answers with a response the core built, through Koa's own response (not
 * `ctx.respond = false`), so that upstream middleware, a request logger say, sees the real
 * status. Setting a string body makes Koa write its own `Content-Type` and `Content-Length`;
 * they are removed and the core's headers set after, so the bytes match the other adapters:
 * the same header names, letter case and order.
 *
 * @param ctx - the request's context.
 * @param response - the core's answer.
 */
export function answerKoa(ctx: ParameterizedContext, response: AuthResponse): void {
  ctx.status = response.status;
  ctx.body = response.body;
  ctx.remove('Content-Type');
  ctx.remove('Content-Length');
  ctx.set({ ...response.headers });
}
