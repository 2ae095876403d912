import type { RequestHandler } from 'express';

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
 * Every powerful browser feature off, for this page and anything it could ever embed, but for
 * writing to the clipboard, which the banner's Copy button needs. Only names Chromium knows:
 * an unknown one costs a console error on every page load.
 */
const PERMISSIONS_POLICY = [
  'accelerometer=()',
  'autoplay=()',
  'browsing-topics=()',
  'camera=()',
  'clipboard-read=()',
  'clipboard-write=(self)',
  'display-capture=()',
  'encrypted-media=()',
  'fullscreen=()',
  'geolocation=()',
  'gyroscope=()',
  'hid=()',
  'idle-detection=()',
  'local-fonts=()',
  'magnetometer=()',
  'microphone=()',
  'midi=()',
  'payment=()',
  'picture-in-picture=()',
  'publickey-credentials-get=()',
  'screen-wake-lock=()',
  'serial=()',
  'usb=()',
  'xr-spatial-tracking=()',
].join(', ');

/** The headers every answer of the portal carries, page, static file, API call or error. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  // A window this page opens, or that opens it, gets no handle on it (and it none on them).
  'Cross-Origin-Opener-Policy': 'same-origin',
  // No other site may load the page, its script or an API answer as a subresource.
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': PERMISSIONS_POLICY,
});

/**
 * Sets {@link SECURITY_HEADERS} on the answer before anything else runs, so the answers of the
 * Host guard, the static files and the error handlers all carry them.
 *
 * @returns the middleware; mount it first.
 * @example
 * ```ts
 * app.use(securityHeaders());
 * ```
 */
export function securityHeaders(): RequestHandler {
  return function securityHeaders(_req, res, next) {
    res.set(SECURITY_HEADERS);
    next();
  };
}
