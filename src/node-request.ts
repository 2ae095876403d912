import type { IncomingMessage } from 'node:http';
import type { CredentialRequest } from './extract.js';

/** Whatever gives the client address as the framework works it out (`req.ip`, `ctx.ip`). */
export interface ClientIpSource {
  readonly ip?: string | undefined;
}

/**
 * The request parts keyward reads, taken from Node's request message: what every adapter
 * hands to `authenticate`.
 *
 * A class rather than an object literal with getters: V8 builds a literal with an accessor
 * slowly (about 0.4 µs per request on the benchmark machine), a class instance with
 * prototype getters almost for free. What only the attempt throttle reads (the client
 * addresses) is worked out only when it is read.
 *
 * @example
 * ```ts
 * // In an Express middleware: the framework's request object knows the client IP.
 * await auth.authenticate(new NodeCredentialRequest(req, req.originalUrl, req));
 * // On a plain node:http server there is no framework IP: the throttle counts the socket's.
 * await auth.authenticate(new NodeCredentialRequest(req, req.url));
 * ```
 */
export class NodeCredentialRequest implements CredentialRequest {
  readonly headers: CredentialRequest['headers'];
  // Keeps a repeated Authorization header, which `headers` drops to its first copy.
  readonly rawHeaders: readonly string[];
  readonly url: string | undefined;
  readonly #message: IncomingMessage;
  readonly #ipSource: ClientIpSource | undefined;

  /**
   * @param message - Node's request message.
   * @param url - path and query as the framework sees them.
   * @param ipSource - the framework's request or context, whose `ip` follows its trust-proxy
   *   setting. Leave it out where there is none (plain `node:http`): `clientIp` is then
   *   undefined, and the default `clientAddress` counts the socket's `remoteAddress`.
   */
  constructor(message: IncomingMessage, url: string | undefined, ipSource?: ClientIpSource) {
    this.headers = message.headers;
    this.rawHeaders = message.rawHeaders;
    this.url = url;
    this.#message = message;
    this.#ipSource = ipSource;
  }

  /** The socket's peer address, read only when asked for (it can cost a system call). */
  get remoteAddress(): string | undefined {
    return this.#message.socket?.remoteAddress;
  }

  /**
   * The framework works its client IP out (trust proxy) only when this is read: for requests
   * that reach the secret check with throttling on.
   */
  get clientIp(): string | undefined {
    return this.#ipSource?.ip;
  }
}
