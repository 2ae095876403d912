import { ApiKeyAuthError } from './errors.js';
import type { ApiKeyRow } from './store.js';

/**
 * What a sealed webhook password is bound to, as the box's additional data: its key's id and
 * its webhook URL. Copied to another row, or left in place while the URL is changed by hand,
 * it no longer opens (`ERR_WEBHOOK_SECRET`), so someone who can write to the key table cannot
 * have a key's Basic credentials sent to an address of their own. The key manager reseals a
 * kept password when `setWebhook` changes the URL.
 *
 * @param row - the key's id and the URL the password is sent to.
 * @returns the context for `SecretBox.seal` and `SecretBox.open`.
 * @throws {ApiKeyAuthError} `ERR_WEBHOOK_SECRET` (500, not exposed) when the id is not text or
 *   the URL is neither text nor null (or left out, which reads as null): a row no password
 *   can have been sealed for.
 * @example
 * ```ts
 * // Opening a row's password with a box of your own, as webhookAuthorizationFor does.
 * const password = box.open(row.webhook_basic_auth_password_sealed!, webhookSealContext(row));
 * ```
 */
export function webhookSealContext(row: Pick<ApiKeyRow, 'id' | 'webhook_url'>): string {
  const { id, webhook_url: url } = row;
  // Anything else would reach JSON.stringify, which throws for a BigInt and calls an object's
  // toJSON: a corrupt row is the store's fault, never a raw TypeError for the caller.
  if (typeof id !== 'string' || (typeof url !== 'string' && url !== null && url !== undefined)) {
    throw new ApiKeyAuthError('ERR_WEBHOOK_SECRET', 'The stored webhook settings are not usable: the key id and the URL must be text.', { status: 500, expose: false });
  }
  // JSON keeps the two apart whatever they contain.
  return JSON.stringify(['keyward.webhook.v1', id, url]);
}
