import type { RequestHandler } from 'express';
import { refusalClosesConnection } from 'keyward';
import { sendError } from './api-errors.js';

/** The header every state-changing call of the page sends. */
export const PORTAL_REQUEST_HEADER = 'X-Portal-Request';

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Refuses cross-site writes, in the simple way a demo can afford.
 *
 * A state-changing request must carry `X-Portal-Request: 1`. A page on another site cannot
 * add a custom header without a CORS preflight, which this server never answers, so a forged
 * form post or cross-site `fetch` never gets here with it. On top of that, an `Origin` header
 * (browsers send one on every cross-origin request and on same-origin POST and PUT) must name
 * this server, and `Sec-Fetch-Site`, when sent, must be one of the values a browser sends for
 * a request from this site (in any letter case; two copies joined by Node are refused).
 *
 * A real portal would also have a login session and its usual CSRF token; this demo has no
 * login, so the header is the whole protection.
 *
 * @returns the middleware; put it first on every route that changes state.
 * @example
 * ```ts
 * const sameOrigin = sameOriginWrites();
 * api.post('/key', sameOrigin, issueKey);
 * ```
 */
export function sameOriginWrites(): RequestHandler {
  return function sameOriginWrites(req, res, next) {
    if (SAFE_METHODS.has(req.method)) return next();

    const origin = req.get('origin');
    const crossOrigin = origin !== undefined && origin !== `${req.protocol}://${req.get('host')}`;
    if (req.get(PORTAL_REQUEST_HEADER) !== '1' || crossOrigin || !fromThisSite(req.get('sec-fetch-site'))) {
      return sendError(
        res,
        403,
        'ERR_CROSS_SITE_REQUEST',
        `State-changing requests must come from the portal page itself (header ${PORTAL_REQUEST_HEADER}: 1, same origin).`,
      );
    }
    next();
  };
}

/**
 * Answers only requests addressed to a loopback name. The portal listens on 127.0.0.1, but a
 * web page elsewhere could still reach it through a DNS name that resolves there (DNS
 * rebinding); such a request carries that name in `Host` and is refused.
 *
 * @returns the middleware; mount it first.
 * @example
 * ```ts
 * app.use(loopbackHostOnly());
 * ```
 */
export function loopbackHostOnly(): RequestHandler {
  return function loopbackHostOnly(req, res, next) {
    // Node keeps the first of several Host lines; which one a proxy in front would act on is
    // anyone's guess, so RFC 9112 (section 3.2) asks for 400.
    if (hostLineCount(req.rawHeaders) > 1) {
      res.set('Cache-Control', 'no-store');
      return sendError(res, 400, 'ERR_INVALID_REQUEST', 'The request must have exactly one Host header.');
    }
    // The whole Host value: a loopback name, and after it nothing but an optional port. A
    // target in absolute form (`GET http://name/…`) names the host instead, as RFC 9112
    // (section 3.2.2) says, so that name must be a loopback one as well.
    // Names compare in lower case (DNS names are case-insensitive); a port may be empty.
    const hostName = (authority: string) => /^(\[[^\]]*\]|[^:]*)(?::\d*)?$/.exec(authority)?.[1]?.toLowerCase() ?? '';
    const names = [hostName(req.get('host') ?? '')];
    if (!req.url.startsWith('/')) names.push(hostName(authorityOf(req.url)));
    if (!names.every((name) => LOOPBACK_HOSTS.has(name))) {
      res.set('Cache-Control', 'no-store');
      return sendError(res, 403, 'ERR_CROSS_SITE_REQUEST', 'This demo portal only answers on 127.0.0.1 or localhost.');
    }
    next();
  };
}

/** The `Sec-Fetch-Site` values a browser sends for a request that did not come from another site. */
const SITE_VALUES_ALLOWED: ReadonlySet<string> = new Set(['same-origin', 'same-site', 'none']);

function fromThisSite(secFetchSite: string | undefined): boolean {
  return secFetchSite === undefined || SITE_VALUES_ALLOWED.has(secFetchSite.trim().toLowerCase());
}

/** The authority of a request target in absolute form (`http://name:port/…`), or '' for none. */
function authorityOf(target: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(target)?.[1] ?? '';
}

/** How many Host lines a request's raw headers hold (names, at even indexes, in any case). */
function hostLineCount(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let at = 0; at < rawHeaders.length; at += 2) if (rawHeaders[at]!.toLowerCase() === 'host') count++;
  return count;
}

/**
 * Closes the connection after any answer to a request whose body is large (over 64 KiB) or of
 * unknown length, as keyward's refusals and the demo do (`refusalClosesConnection`). Only the
 * webhook save reads a body, and never one that large; kept alive, the connection would have
 * Node read and throw away the whole body after the answer, so any client could make the
 * portal swallow gigabytes with a plain GET.
 *
 * @returns the middleware; mount it first.
 * @example
 * ```ts
 * app.use(closeAfterLargeUnreadBody());
 * ```
 */
export function closeAfterLargeUnreadBody(): RequestHandler {
  return function closeAfterLargeUnreadBody(req, res, next) {
    if (refusalClosesConnection(req)) res.set('Connection', 'close');
    next();
  };
}
