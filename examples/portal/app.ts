import { fileURLToPath } from 'node:url';
import express from 'express';
import { API_KEY_PATTERN } from 'keyward';
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
    const path = loggablePath(req.path);
    if (req.path.startsWith('/portal/api/')) {
      res.on('finish', () => log(`portal ${req.method} ${path} ${res.statusCode}`));
    }
    next();
  });

  app.use('/portal/api', createPortalApi(options, log));
  app.use(express.static(PUBLIC_DIR, { index: 'index.html', maxAge: 0 }));
  return app;
}

/** A keyward key anywhere in a text: API_KEY_PATTERN without its `\b`s, global. */
const KEY_ANYWHERE = new RegExp(API_KEY_PATTERN.source.replaceAll('\\b', ''), `${API_KEY_PATTERN.flags.replace('g', '')}g`);

/**
 * The request path as the log may show it. A key pasted where a key id goes ends up in the
 * path, and the log must never carry one, so every key-shaped run is replaced with
 * `[redacted]`. The `\b`s of API_KEY_PATTERN are dropped so that `/x_sk_test_…` cannot slip
 * through. A key can also arrive percent-encoded (`%73k_test_…`, or `%2573…` encoded twice);
 * keys are ASCII, so decoding only the `%00`–`%7F` escapes, a few rounds deep, finds one, and
 * that cannot throw on a malformed `%`. When the decoded path holds a key the whole path is
 * withheld, since where it sits in the raw text is not known. The raw form is what gets
 * logged, so a `%0A` never splits the log line.
 */
export function loggablePath(path: string): string {
  const redacted = path.replace(KEY_ANYWHERE, '[redacted]');
  let decoded = redacted;
  for (let round = 0; round < 4 && decoded.includes('%'); round += 1) {
    decoded = decoded.replace(/%([0-7][0-9A-Fa-f])/g, (_escape, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  return decoded.search(KEY_ANYWHERE) === -1 ? redacted : '[redacted path]';
}
