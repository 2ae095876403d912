import { ApiKeyAuthError, invalidOption } from './errors.js';
import { assertLiveRow } from './key-rows.js';
import type { SecretBox } from './secret-box.js';
import type { ApiKeyRow } from './store.js';
import { webhookSealContext } from './webhook-seal-context.js';
import { webhookPasswordProblem, webhookUsernameProblem } from './webhook-settings.js';

/**
 * Builds an `Authorization` header value for HTTP Basic auth: `Basic ` and the base64 of the
 * UTF-8 bytes of `username:password` in Unicode normalization form C (RFC 7617 with
 * `charset="UTF-8"`).
 *
 * @param username - the user-id, `''` or null for none; it cannot contain a colon.
 * @param password - the password; colons are fine.
 * @returns the header value, such as `Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==`.
 * @throws {ApiKeyAuthError} `ERR_WEBHOOK_INVALID` for credentials `setWebhook` would refuse:
 *   a username with a colon (the receiver could not tell where the password starts), an empty
 *   or missing password, control characters, lone surrogates, a username with invisible or
 *   blank-looking characters or noncharacters, or of whitespace alone, or over 256 bytes of
 *   username or 1 KiB of password (as given, and in normalization form C). The message names
 *   neither value.
 * @example
 * ```ts
 * basicAuthorizationHeader('hook-relay', 'p4ss:w0rd:x'); // 'Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA=='
 * ```
 */
export function basicAuthorizationHeader(username: string | null, password: string): string {
  // Null only: an `undefined` (an unset variable in plain JavaScript) is refused below.
  const given = username === null ? '' : username;
  // The rules setWebhook and the receivers apply, so a header built here is one a keyward
  // receiver can be configured to accept (and `process.env.UNSET` is not sent as "undefined").
  // Sent in Unicode normalization form C, as RFC 7617's charset="UTF-8" asks of a client.
  const problem =
    typeof given !== 'string'
      ? '"username" must be a string or null.'
      : typeof password !== 'string' || password.length === 0
        ? '"password" must be a non-empty string.'
        : (webhookUsernameProblem(given) ?? webhookPasswordProblem(password));
  if (problem !== undefined) {
    throw new ApiKeyAuthError('ERR_WEBHOOK_INVALID', `basicAuthorizationHeader: ${problem}`, { status: 400 });
  }
  return `Basic ${Buffer.from(`${given.normalize('NFC')}:${password.normalize('NFC')}`, 'utf8').toString('base64')}`;
}

/**
 * The `Authorization` header value a gateway sends with a webhook delivery for this row, or
 * null when no Basic-auth password is configured (then no header is sent). The sealed password
 * is opened only for the moment it takes to encode it.
 *
 * @param row - the key's row, as read from the store.
 * @param box - the box holding the sealing keys (from `createSecretBox`).
 * @returns the header value, or null.
 * @throws {ApiKeyAuthError} `ERR_WEBHOOK_SECRET` (500) when the stored password cannot be opened
 *   (sealed under a key id the box does not hold, altered, or sealed for another key or
 *   another webhook URL) or the stored credentials are
 *   ones `setWebhook` would refuse; `ERR_KEY_NOT_FOUND` for a row whose lifecycle fields do
 *   not show its key live (`soft_deleted` exactly false, `revoked_at` null);
 *   `ERR_OPTIONS_INVALID` when `row` is not an object or `box` is not a box (the sealing keys
 *   themselves, say). No error carries the password.
 * @example
 * ```ts
 * const authorization = webhookAuthorizationFor(row, box);
 * const headers = authorization ? { authorization } : {};
 * await fetch(row.webhook_url!, { method: 'POST', headers, body });
 * ```
 */
export function webhookAuthorizationFor(row: ApiKeyRow, box: SecretBox): string | null {
  if (typeof row !== 'object' || row === null) {
    invalidOption('webhookAuthorizationFor needs the key\'s row, as read from the store, as its first argument.');
  }
  if (typeof (box as Partial<SecretBox> | null)?.open !== 'function') {
    invalidOption('webhookAuthorizationFor needs the box from createSecretBox(keys) as its second argument, not the sealing keys themselves.');
  }
  assertLiveRow(row);
  const sealed = row.webhook_basic_auth_password_sealed;
  if (sealed === null || sealed === undefined) return null;
  try {
    // A row whose username column was not selected (undefined) has none, as a card reads it.
    return basicAuthorizationHeader(row.webhook_basic_auth_username ?? null, box.open(sealed, webhookSealContext(row)));
  } catch (error) {
    // Stored credentials setWebhook would have refused are a fault of the row, not of a caller.
    if (!(error instanceof ApiKeyAuthError) || error.code !== 'ERR_WEBHOOK_INVALID') throw error;
    throw new ApiKeyAuthError('ERR_WEBHOOK_SECRET', 'The stored webhook credentials are not usable.', { status: 500, expose: false });
  }
}
