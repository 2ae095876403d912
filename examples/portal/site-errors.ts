import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { sendError } from './api-errors.js';
import { SECURITY_HEADERS } from './security-headers.js';

const NOT_FOUND = 'No such page or file.';
const REFUSED = 'This request cannot be answered as it was sent.';
// The same refusal, written straight to a connection or a bare response, which is then closed.
const REFUSED_BODY = JSON.stringify({ error: { code: 'ERR_INVALID_REQUEST', message: REFUSED } });
const REFUSED_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...SECURITY_HEADERS,
  'Content-Type': 'application/json; charset=utf-8',
  'Content-Length': String(Buffer.byteLength(REFUSED_BODY)),
  'Cache-Control': 'no-store',
  Connection: 'close',
});

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

/** The status Node itself would answer a parse error with, by the error's code; 400 otherwise. */
const PARSE_ERROR_STATUS: Readonly<Record<string, [number, string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};

/**
 * The server's `clientError` listener: answers a request Node's HTTP parser refused before
 * the app saw it (a malformed request line, headers over Node's size limit) with the status
 * Node would send, the {@link SECURITY_HEADERS} and the fixed error body, then closes the
 * connection. Node's own answer carries no header but `Connection`. As Node does, a
 * connection that can no longer be written, or whose answer to an earlier request has begun
 * (its bytes would be corrupted), is closed without one.
 *
 * @param error - the parse error.
 * @param socket - the client's connection.
 * @example
 * ```ts
 * server.on('clientError', answerClientError);
 * ```
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // `_httpMessage`, the answer under way on this connection, is Node's own field; its own
  // clientError handling reads it for the same check.
  const underWay = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || underWay?.headersSent === true) return void socket.destroy();
  const [status, reason] = PARSE_ERROR_STATUS[error.code ?? ''] ?? [400, 'Bad Request'];
  writeRefusal(socket, status, reason);
}

/**
 * The server's `connect` listener: a `CONNECT` request (the portal is no proxy) gets 400 with
 * the security headers and the fixed body, then the connection is closed. Without a listener,
 * Node closes it without a word.
 *
 * @example
 * ```ts
 * server.on('connect', refuseConnect);
 * ```
 */
export function refuseConnect(_request: IncomingMessage, socket: Duplex): void {
  if (!socket.writable) return void socket.destroy();
  writeRefusal(socket, 400, 'Bad Request');
}

/**
 * The server's `checkExpectation` listener: a request whose `Expect` is not `100-continue`
 * gets Node's 417, but with the security headers and the fixed body.
 *
 * @example
 * ```ts
 * server.on('checkExpectation', refuseExpectation);
 * ```
 */
export function refuseExpectation(_request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(417, REFUSED_HEADERS);
  response.end(REFUSED_BODY);
}

/** Writes a refusal straight to the connection, then closes it. */
function writeRefusal(socket: Duplex, status: number, reason: string): void {
  const head = Object.entries(REFUSED_HEADERS).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  // Ended, then destroyed once written: the server keeps half-open connections, and a client
  // that never closes its side would otherwise hold this one for good.
  socket.end(`HTTP/1.1 ${status} ${reason}\r\n${head}\r\n${REFUSED_BODY}`, () => socket.destroy());
}
