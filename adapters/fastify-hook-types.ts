import type { onRequestHookHandler, RawServerDefault } from 'fastify';
import type { Http2SecureServer, Http2Server } from 'node:http2';

/**
 * The raw servers a Fastify instance runs on: Node's HTTP/1 server (whose hooks an `https`
 * instance's also fit) and the HTTP/2 servers of `http2: true`, with or without TLS.
 */
// Taken from Fastify's own hook type rather than written as FastifyReply<…>: FastifyReply's
// generic parameters come in another order in Fastify 4 than in 5, a hook's do not.
type HookArguments<Server extends RawServerDefault | Http2Server | Http2SecureServer> = Parameters<onRequestHookHandler<Server>>;

/**
 * The request Fastify passes keyward's hooks: on an HTTP/1 instance (whose hooks an `https`
 * instance's also fit) or one made with `http2: true`, with or without TLS, so that the hooks
 * fit a route of either. Its `raw` is then an `IncomingMessage` or an `Http2ServerRequest`,
 * both of which carry the headers, URL and socket keyward reads. Written out as a union, so
 * that it keeps its name in editors and error messages.
 */
export type FastifyHookRequest =
  | HookArguments<RawServerDefault>[0]
  | HookArguments<Http2Server>[0]
  | HookArguments<Http2SecureServer>[0];

/** The reply Fastify passes keyward's hooks, on an HTTP/1 or an HTTP/2 instance. */
export type FastifyHookReply =
  | HookArguments<RawServerDefault>[1]
  | HookArguments<Http2Server>[1]
  | HookArguments<Http2SecureServer>[1];
