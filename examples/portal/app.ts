import { fileURLToPath } from 'node:url';
import express from 'express';
import { createPortalApi, type PortalApiOptions } from './api.js';
import { loopbackHostOnly } from './request-guards.js';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/**
 * Same-origin only, no inline code: the page's script and style are files. The key banner is
 * the most sensitive thing this page shows, so nothing else may run next to it.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The portal's Express app: the page (static HTML, CSS and JavaScript from `public/`) and its
 * JSON API under `/portal/api`. It knows nothing of the gateway but its URL; the two share the
 * key store, not the app.
 *
 * @param options - see {@link PortalApiOptions}.
 * @param log - one line per API call (method, path, status) and per lifecycle action; never a
 *   body, a key or a password.
 * @returns the app, ready for `listen`.
 * @example
 * ```ts
 * createPortalApp({ manager, account, gatewayUrl, usageFlushIntervalMs: 1000 }, console.log).listen(3001);
 * ```
 */
export function createPortalApp(options: PortalApiOptions, log: (line: string) => void): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.use(loopbackHostOnly());
  app.use((req, res, next) => {
    res.set({
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    });
    // Read now: routers rewrite req.url while they run. The query string is never logged.
    const path = req.path;
    if (path.startsWith('/portal/api/')) {
      res.on('finish', () => log(`portal ${req.method} ${path} ${res.statusCode}`));
    }
    next();
  });

  app.use('/portal/api', createPortalApi(options, log));
  app.use(express.static(PUBLIC_DIR, { index: 'index.html', maxAge: 0 }));
  return app;
}
