import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { sendError } from './api-errors.js';

const NOT_FOUND = 'No such page or file.';
const REFUSED = 'This request cannot be answered as it was sent.';

/**
 * Answers a request outside the API that no static file matched: 404 in the API's error
 * shape, the same fixed body for every path. Express's own 404 page repeats the path, and a
 * key pasted into a URL would come back in it.
 *
 * @returns the handler; mount it after the static files.
 * @example
 * ```ts
 * app.use(express.static(PUBLIC_DIR));
 * app.use(pageNotFound());
 * ```
 */
export function pageNotFound(): RequestHandler {
  return function pageNotFound(_req, res) {
    fixedError(res, 404, 'ERR_NOT_FOUND', NOT_FOUND);
  };
}

/**
 * The error handler outside the API. The static file server hands it what it cannot answer
 * (a precondition or a range the file does not meet, a file it cannot read); Express's own
 * handler would answer with the error's stack. A client error keeps its status, with a fixed
 * body; anything else is a generic 500, and the log gets the error's name only.
 *
 * @param log - where the one-line fault note goes.
 * @returns the Express error handler; mount it last.
 * @example
 * ```ts
 * app.use(siteErrorHandler(console.log));
 * ```
 */
export function siteErrorHandler(log: (line: string) => void): ErrorRequestHandler {
  return function siteErrorHandler(error: unknown, _req, res, _next) {
    const status = (error as { status?: unknown } | null)?.status;
    const clientError = typeof status === 'number' && status >= 400 && status < 500;
    if (!clientError) log(`portal fault ${error instanceof Error ? error.name : typeof error}`);
    // A file that failed half-way through: its status line is sent, and only cutting the
    // connection tells the client the body is incomplete.
    if (res.headersSent) return void res.destroy();

    if (!clientError) return fixedError(res, 500, 'ERR_INTERNAL', 'Internal server error.');
    if (status === 404) return fixedError(res, 404, 'ERR_NOT_FOUND', NOT_FOUND);
    fixedError(res, status, 'ERR_INVALID_REQUEST', REFUSED);
  };
}

function fixedError(res: Response, status: number, code: 'ERR_NOT_FOUND' | 'ERR_INVALID_REQUEST' | 'ERR_INTERNAL', message: string): void {
  // Headers the static file server set before it gave up describe the file, not this answer
  // (its Content-Type would even have this JSON read as HTML). A 416's Content-Range stays.
  for (const name of ['Content-Type', 'ETag', 'Last-Modified', 'Accept-Ranges']) res.removeHeader(name);
  res.set('Cache-Control', 'no-store');
  sendError(res, status, code, message);
}
