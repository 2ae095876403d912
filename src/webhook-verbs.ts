import { ApiKeyAuthError, invalidOption } from './errors.js';
import { toCard, type KeyCard } from './key-card.js';
import type { ResolvedKeyManagerOptions } from './key-manager-options.js';
import { isPossibleKeyId } from './key-manager-arguments.js';
import { assertLiveRow, notFound, type KeyRows } from './key-rows.js';
import { ownOptions, unknownOptionMessage } from './options.js';
import type { RowWriter } from './row-write.js';
import { isOpenFailure } from './secret-box.js';
import type { ApiKeyRow } from './store.js';
import { webhookAuthorizationFor } from './webhook-authorization.js';
import { webhookSealContext } from './webhook-seal-context.js';
import {
  assertWebhookPassword,
  normalizeWebhookUrl,
  normalizeWebhookUsername,
  webhookUsernameProblem,
  type WebhookSettingsInput,
} from './webhook-settings.js';
import { assertHolds } from './written-row.js';

/** The field names `setWebhook` accepts; any other is refused with a did-you-mean. */
const WEBHOOK_SETTINGS_NAMES: readonly (keyof WebhookSettingsInput)[] = ['url', 'username', 'password'];

/**
 * `KeyManager.setWebhook`, `clearWebhook`, `webhookAuthorization` and `resealWebhookPassword`:
 * the verbs over a key's webhook settings and its sealed password.
 */
export function webhookVerbs(
  { box, now }: ResolvedKeyManagerOptions,
  { liveRow, modifyExact }: KeyRows,
  { change }: RowWriter,
) {
  /**
   * The patch that keeps a row's webhook password for settings sealed to `context`: none when
   * it opens there already (the same URL, or back to the one it was sealed for), the password
   * resealed for `context` when it opens for the row's URL, and a refusal when it opens for
   * neither (copied from another row, or its URL changed by hand). Without `webhookKeys`,
   * a password on an unchanged URL is kept unchecked, as nothing here could open it.
   */
  const keptPassword = (current: ApiKeyRow, context: string): Partial<ApiKeyRow> => {
    const kept = current.webhook_basic_auth_password_sealed;
    if (kept == null) return {};
    const keptContext = webhookSealContext(current);
    if (!box) {
      if (keptContext === context) return {};
      throw noSealingKeys();
    }
    const openedFor = (sealContext: string): string | undefined => {
      try {
        return box.open(kept, sealContext);
      } catch (error) {
        // A key id no longer configured is the app's to fix, and its own message says so.
        if (isOpenFailure(error)) return undefined;
        throw error;
      }
    };
    if (openedFor(context) !== undefined) return {};
    const password = keptContext === context ? undefined : openedFor(keptContext);
    if (password === undefined) throw unopenableKeptPassword();
    return { webhook_basic_auth_password_sealed: box.seal(password, context) };
  };

  return {
    async setWebhook(keyId: string, given: WebhookSettingsInput): Promise<KeyCard> {
      // First, as for every verb: the id goes into the password's seal context below.
      if (!isPossibleKeyId(keyId)) throw notFound();
      if (typeof given !== 'object' || given === null || Array.isArray(given)) {
        const message = 'Webhook settings must be { url, username?, password? }.';
        throw new ApiKeyAuthError('ERR_WEBHOOK_INVALID', message, { status: 400 });
      }
      // A misspelt `usernmae` would otherwise keep the old username and report success.
      const unknown = unknownOptionMessage(given, WEBHOOK_SETTINGS_NAMES, 'setWebhook', 'withheld');
      if (unknown !== undefined) throw new ApiKeyAuthError('ERR_WEBHOOK_INVALID', unknown, { status: 400 });
      const settings = ownOptions(given, WEBHOOK_SETTINGS_NAMES);
      const url = normalizeWebhookUrl(settings.url);
      // Left out, the username is kept, as the password is: a client that sends only a new URL
      // must not turn its deliveries' Basic credentials into a password with no username.
      const username = normalizeWebhookUsername(settings.username);
      // A password is sealed for this key and this URL (see webhookSealContext).
      const context = webhookSealContext({ id: keyId, webhook_url: url });
      let sealed: string | null | undefined;
      if (settings.password === null) sealed = null;
      else if (settings.password !== undefined) {
        const password = assertWebhookPassword(settings.password);
        if (!box) invalidOption('createKeyManager needs "webhookKeys" to store webhook passwords.');
        sealed = box.seal(password, context);
      }
      const at = now();
      const settingsFor = (current: ApiKeyRow) => {
        const withPassword = sealed === undefined ? current.webhook_basic_auth_password_sealed != null : sealed !== null;
        return {
          webhook_url: url,
          ...(username === undefined ? keptUsername(current, withPassword) : { webhook_basic_auth_username: username }),
          // A kept password is resealed for a new URL from the row as the store hands it over,
          // so a save racing this one can never leave a password sealed for another URL.
          ...(sealed === undefined ? keptPassword(current, context) : { webhook_basic_auth_password_sealed: sealed }),
        };
      };
      return toCard(await change(keyId, settingsFor, 'setWebhook'), at);
    },

    async clearWebhook(keyId: string): Promise<KeyCard> {
      const at = now();
      return toCard(
        await change(
          keyId,
          { webhook_url: null, webhook_basic_auth_username: null, webhook_basic_auth_password_sealed: null },
          'clearWebhook',
        ),
        at,
      );
    },

    async webhookAuthorization(key: string | ApiKeyRow): Promise<string | null> {
      const row = typeof key === 'string' ? await liveRow(key) : givenRow(key);
      if (row.webhook_basic_auth_password_sealed == null) return null;
      if (!box) throw noSealingKeys();
      return webhookAuthorizationFor(row, box);
    },

    async resealWebhookPassword(keyId: string): Promise<boolean> {
      const row = await liveRow(keyId);
      const sealed = row.webhook_basic_auth_password_sealed;
      if (sealed == null) return false;
      if (!box) throw noSealingKeys();
      const context = webhookSealContext(row);
      // Opened even when already under the current key: a sweep over every row then finds
      // each password whose deliveries would fail, not only those it resealed.
      const password = box.open(sealed, context);
      if (!box.needsReseal(sealed)) return false;
      const resealed = box.seal(password, context);
      const patch = { webhook_basic_auth_password_sealed: resealed };
      const after = await modifyExact(keyId, (current) =>
        current.webhook_basic_auth_password_sealed === sealed && current.webhook_url === row.webhook_url ? patch : null,
      );
      if (after === null) return false;
      assertHolds('resealWebhookPassword', after, patch);
      return true;
    },
  };
}

/**
 * Nothing to write for a username left out, once the one stored is checked: a username written
 * there by hand that `setWebhook` would refuse (a `:`, a line break) is not kept under a save
 * reported as done when a password goes with it, as every delivery's header would then fail.
 * Without a password no header is built, and the username is kept as it is.
 *
 * @param withPassword - whether the row will hold a password once the save is written.
 * @throws {ApiKeyAuthError} `ERR_WEBHOOK_INVALID` (409) naming the rule, never the username.
 */
function keptUsername(current: ApiKeyRow, withPassword: boolean): Partial<ApiKeyRow> {
  const kept: unknown = current.webhook_basic_auth_username;
  if (!withPassword || kept === null || kept === undefined || kept === '') return {};
  const problem = typeof kept === 'string' ? webhookUsernameProblem(kept) : '"username" must be a string.';
  if (problem === undefined) return {};
  throw new ApiKeyAuthError(
    'ERR_WEBHOOK_INVALID',
    `The stored webhook username breaks a rule (${problem.replace(/\.$/, '')}), so it cannot be kept: send the username again, or username: null to remove it.`,
    { status: 409, expose: true },
  );
}

/**
 * A kept webhook password that does not open for the row it is on: tampered, or moved there.
 * 409 and exposed, unlike the other `ERR_WEBHOOK_SECRET`s: the one who saves the form can fix
 * it, by sending the password again, and an app that shows only exposed messages must show
 * them how.
 */
function unopenableKeptPassword(): ApiKeyAuthError {
  return new ApiKeyAuthError(
    'ERR_WEBHOOK_SECRET',
    'The stored webhook password cannot be opened for this key and URL (altered, or written there by hand), so it cannot be kept: send the password again, or password: null to remove it.',
    { status: 409, expose: true },
  );
}

function noSealingKeys(): ApiKeyAuthError {
  return new ApiKeyAuthError(
    'ERR_WEBHOOK_SECRET',
    'A webhook password is stored but the manager has no "webhookKeys" to open it.',
    { status: 500, expose: false },
  );
}

/**
 * A row given to `webhookAuthorization` in place of a key id: an object with a key id whose
 * key is live. Anything else (a `String` object, an array) names no key, as an impossible id
 * does.
 *
 * @throws {ApiKeyAuthError} `ERR_KEY_NOT_FOUND`.
 */
function givenRow(key: unknown): ApiKeyRow {
  if (typeof key !== 'object' || key === null || Array.isArray(key) || typeof (key as Partial<ApiKeyRow>).id !== 'string') throw notFound();
  assertLiveRow(key as ApiKeyRow);
  return key as ApiKeyRow;
}
