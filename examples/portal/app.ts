import { fileURLToPath } from 'node:url';
import express from 'express';
import { createPortalApi, type PortalApiOptions } from './api.js';
import { closeAfterLargeUnreadBody, loopbackHostOnly } from './request-guards.js';
import { securityHeaders } from './security-headers.js';
import { pageNotFound, siteErrorHandler } from './site-errors.js';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/** Where the JSON API is mounted. */
const API_PATH = '/portal/api';

/**
 * The portal's Express app: the page (static HTML, CSS and JavaScript from `public/`) and its
 * JSON API under `/portal/api`. It knows nothing of the gateway but its URL; the two share the
 * key store, not the app.
 *
 * @param options - see {@link PortalApiOptions}.
 * @param log - one line per API call (method, route pattern, status) and per lifecycle action;
 *   never a body, a key, a password or any text of the request path (see {@link logRequests}).
 * @returns the app, ready for `listen`.
 * @example
 * ```ts
 * createPortalApp({ manager, account, gatewayUrl, usageFlushIntervalMs: 1000 }, console.log).listen(3001);
 * ```
 */
export function createPortalApp(options: PortalApiOptions, log: (line: string) => void): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.use(closeAfterLargeUnreadBody());
  app.use(securityHeaders());
  // Logged before the Host check, so a refused DNS-rebinding attempt shows in the log too.
  app.use(API_PATH, logRequests(log));
  app.use(loopbackHostOnly());

  app.use(API_PATH, createPortalApi(options, log));
  // The page itself is not stored either: it may hold a one-time key while it is open. No
  // redirect for a path naming a folder (`/x/%2e%2e`): it would repeat the path, a key pasted
  // into it too, in a cacheable 301; such a path gets the fixed 404 as any other.
  const noStoreForPages = (res: express.Response, path: string) => path.endsWith('.html') && res.setHeader('Cache-Control', 'no-store');
  app.use(express.static(PUBLIC_DIR, { index: 'index.html', maxAge: 0, redirect: false, setHeaders: noStoreForPages }));
  app.use(pageNotFound());
  app.use(siteErrorHandler(log));
  return app;
}

/**
 * Logs each API call as `portal <method> <route> <status>` once its answer is sent, where
 * `<route>` is the pattern of the route that answered (`/portal/api/key/regenerate`), or
 * `(no route)` when none did. Nothing the client typed into the path is logged: a key pasted
 * into a URL can be disguised in more ways (encodings, case, lookalike characters, splits)
 * than any redaction could recognise, so the log only ever shows text from this file and
 * createPortalApi's route table. The method is the one Node's HTTP parser accepted, always
 * one of its known names.
 */
function logRequests(log: (line: string) => void): express.RequestHandler {
  return (req, res, next) => {
    res.on('finish', () => {
      // Set by the router when a route matched; its path is the pattern from the code.
      const pattern: unknown = req.route?.path;
      const route = typeof pattern === 'string' ? `${API_PATH}${pattern}` : '(no route)';
      log(`portal ${req.method} ${route} ${res.statusCode}`);
    });
    next();
  };
}
