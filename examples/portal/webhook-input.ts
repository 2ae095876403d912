import type { WebhookSettingsInput } from 'keyward';
import { PortalRequestError } from './api-errors.js';

/** The webhook form's field names, as the seed page names them. */
const FIELDS: ReadonlySet<string> = new Set([
  'webhook_url',
  'webhook_basic_auth_username',
  'webhook_basic_auth_password',
]);

/**
 * Turns the body of `PUT /portal/api/webhook` into keyward's `setWebhook` input. It checks
 * only the shape; the values themselves (https only, lengths, a colon in the username) are
 * keyward's to judge, and come back as `ERR_WEBHOOK_INVALID`.
 *
 * A password field left out keeps the saved password, `null` removes it: the page never shows
 * the password, so an untouched field must not wipe it. A username field left out keeps the
 * saved username too (keyward's rule); `null` or `""` removes it.
 *
 * @param body - the parsed JSON body.
 * @returns the settings for `KeyManager.setWebhook`.
 * @throws {PortalRequestError} `ERR_INVALID_REQUEST` when the body is not an object or names a
 *   field the form does not have (the message lists names, never values).
 * @example
 * ```ts
 * webhookInput({ webhook_url: 'https://hooks.example.com/in' }); // { url: 'https://hooks.example.com/in', username: undefined }
 * ```
 */
export function webhookInput(body: unknown): WebhookSettingsInput {
  // The JSON parser leaves a body of any other Content-Type unread.
  if (body === undefined) throw new PortalRequestError('The request body must be sent with Content-Type: application/json.');
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new PortalRequestError('The request body must be a JSON object with webhook_url, webhook_basic_auth_username and webhook_basic_auth_password.');
  }
  const unknown = Object.keys(body).filter((name) => !FIELDS.has(name));
  if (unknown.length > 0) {
    // The names are not repeated: a password pasted in the wrong place could be one.
    throw new PortalRequestError(`Unknown field(s) (${unknown.length}, names not repeated). Expected webhook_url, webhook_basic_auth_username, webhook_basic_auth_password.`);
  }

  const fields = body as Record<string, unknown>;
  const input: WebhookSettingsInput = {
    url: fields.webhook_url as string,
    username: fields.webhook_basic_auth_username as string | null | undefined,
  };
  if (Object.hasOwn(fields, 'webhook_basic_auth_password')) {
    input.password = fields.webhook_basic_auth_password as string | null;
  }
  return input;
}
