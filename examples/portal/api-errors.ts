import type { ErrorRequestHandler, Response } from 'express';
import { ApiKeyAuthError, type ApiKeyAuthErrorCode } from 'keyward';

/** Codes of the portal's own refusals, next to keyward's codes in the same body shape. */
export type PortalErrorCode =
  | 'ERR_INVALID_REQUEST'
  | 'ERR_CROSS_SITE_REQUEST'
  | 'ERR_NOT_FOUND'
  | 'ERR_INTERNAL';

/**
 * A request the portal API refuses before keyward sees it (a body of the wrong shape). Its
 * message is shown to the client, so it names fields, never their values.
 *
 * @example
 * ```ts
 * throw new PortalRequestError('The request body must be a JSON object.');
 * ```
 */
export class PortalRequestError extends Error {
  override readonly name = 'PortalRequestError';
  readonly code = 'ERR_INVALID_REQUEST';
}

/**
 * HTTP status of each keyward error the portal's verbs can raise that the merchant is told
 * about. A code missing here is a server fault and is answered as a generic 500.
 */
const STATUS_BY_CODE: Partial<Record<ApiKeyAuthErrorCode, number>> = {
  ERR_KEY_EXISTS: 409,
  ERR_KEY_CONFLICT: 409,
  ERR_KEY_NOT_FOUND: 404,
  ERR_WEBHOOK_INVALID: 400,
  ERR_INVALID_ARGUMENT: 400,
};

/**
 * The status a keyward error is answered with when the merchant is told its message: its own,
 * when that is a 4xx (a kept webhook username that breaks the rules is a 409
 * `ERR_WEBHOOK_INVALID`), else the code's; undefined for a server fault.
 */
function merchantStatus(error: ApiKeyAuthError): number | undefined {
  const status = STATUS_BY_CODE[error.code];
  if (status === undefined) return undefined;
  return error.status >= 400 && error.status < 500 ? error.status : status;
}

/**
 * Writes keyward's error body shape, `{"error":{"code","message"}}`. (An answer that leaves a
 * large body unread closes the connection: the app's `closeAfterLargeUnreadBody` sees to it
 * for every answer.)
 *
 * @param res - the response to write.
 * @param status - the HTTP status.
 * @param code - a keyward code or one of the portal's own.
 * @param message - safe to show to the merchant; never holds a key or a password.
 */
export function sendError(
  res: Response,
  status: number,
  code: ApiKeyAuthErrorCode | PortalErrorCode,
  message: string,
): void {
  res.status(status).json({ error: { code, message } });
}

/**
 * The portal API's error handler: keyward's lifecycle errors get their status and message, a
 * store that failed or did not answer in time a 503 with `Retry-After`, a {@link PortalRequestError} or a body the JSON parser refused gets 400, anything else a
 * generic 500.
 *
 * It logs only the code or error name and the status, never a message: a JSON parse error's
 * message quotes the request body, which may hold the webhook password.
 *
 * @param log - where the one-line fault note goes.
 * @returns the Express error handler.
 * @example
 * ```ts
 * router.use(portalErrorHandler(console.log));
 * ```
 */
export function portalErrorHandler(log: (line: string) => void): ErrorRequestHandler {
  return function portalErrorHandler(error: unknown, _req, res, _next) {
    if (error instanceof ApiKeyAuthError && error.code === 'ERR_WEBHOOK_SECRET') {
      // A stored password keyward cannot open (altered, or its sealing key gone): the operator
      // hears the code; the merchant is told what fixes it, never the message, which names keys.
      log(`portal fault ${error.code}`);
      return sendError(res, 409, error.code, SECRET_UNUSABLE);
    }
    if (error instanceof ApiKeyAuthError && error.code === 'ERR_STORE_UNAVAILABLE') {
      // The store failed or was too slow: worth retrying, so not a 500. The message is the
      // portal's own, as keyward's may name what the merchant cannot act on.
      log(`portal fault ${error.code}`);
      res.set('Retry-After', String(STORE_RETRY_AFTER_SECONDS));
      return sendError(res, 503, error.code, STORE_UNAVAILABLE);
    }
    if (error instanceof ApiKeyAuthError) {
      const status = merchantStatus(error);
      if (status !== undefined) return sendError(res, status, error.code, error.message);
      log(`portal fault ${error.code}`);
      return sendError(res, 500, 'ERR_INTERNAL', 'Internal server error.');
    }

    if (error instanceof PortalRequestError) return sendError(res, 400, error.code, error.message);

    const status = httpStatusOf(error);
    if (status !== undefined && status >= 400 && status < 500) {
      return sendError(res, status === 413 ? 413 : 400, 'ERR_INVALID_REQUEST', bodyMessage(status, error));
    }

    log(`portal fault ${error instanceof Error ? error.name : typeof error}`);
    return sendError(res, 500, 'ERR_INTERNAL', 'Internal server error.');
  };
}

const STORE_RETRY_AFTER_SECONDS = 5;
const STORE_UNAVAILABLE = 'Your keys cannot be reached right now. Reload the page in a moment to see where things stand.';

const SECRET_UNUSABLE =
  'The saved webhook password can no longer be used: type the password again and save, or remove it.';

/** The status body-parser puts on the errors it raises (bad JSON, too large, bad charset). */
function httpStatusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

function bodyMessage(status: number, error: unknown): string {
  if (status === 413) return 'The request body is too large.';
  // body-parser's own type for a Content-Encoding it cannot undo (zstd, say).
  if ((error as { type?: unknown } | null)?.type === 'encoding.unsupported') {
    return 'The request body\'s Content-Encoding is not supported: send it as it is, or compressed with gzip, deflate or br.';
  }
  // zlib's codes (Z_DATA_ERROR, Z_BUF_ERROR): bytes that are not what the encoding names.
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return 'The request body cannot be decompressed as its Content-Encoding says: send it as it is, or compressed as it declares.';
  }
  if ((error as { type?: unknown } | null)?.type === 'entity.parse.failed') {
    return 'The request body is not valid JSON: send a JSON object with Content-Type: application/json.';
  }
  return 'The request body must be a JSON object sent with Content-Type: application/json.';
}
