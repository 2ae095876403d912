import type { Environment } from './key-format.js';
import { normalizeStatus, statusLabel, type StatusLabel } from './statuses.js';
import type { ApiKeyRow } from './store.js';
import { expiryState, storedTimeOf } from './valid-date.js';
import type { WebhookSettings } from './webhook-settings.js';

/** The portal card of a key: what may be shown after issue. Never the cleartext. */
export interface KeyCard {
  keyId: string;
  keyType: string;
  /** Raw status value, as stored. */
  status: string | null;
  statusLabel: StatusLabel;
  environment: Environment;
  /**
   * When the key was first issued. Always a Date, as are the other times of a card: a store
   * that reads a time as text gives a Date of that time, and text keyward cannot read (or no
   * value at all) gives an Invalid Date, never the text itself.
   */
  createdAt: Date;
  /** Null when the key has never authenticated a call ("Never" on the card); else as `createdAt`. */
  lastUsedAt: Date | null;
  /** Null for none; else as `createdAt` (an Invalid Date makes an active key's card say `EXPIRED`). */
  expiresAt: Date | null;
  /** Such as `sk_live_kqz3…oU0i`. */
  maskedKey: string;
  /** The webhook form's settings; the password is never part of a card. */
  webhook: WebhookSettings;
}

/**
 * The card of a row. For a row the gateway accepts, the label is what authenticating with the
 * key would answer: an `allowed` key whose `expires_at` has passed reads EXPIRED, while a
 * suspended one keeps SUSPENDED (the status is checked before the expiry date). A row the
 * gateway refuses as unsound (500 `ERR_STORED_ROW_INVALID`) still gets the label of its
 * status and expiry: with an `expires_at` keyward cannot read, an `allowed` key reads EXPIRED.
 */
export function toCard(row: ApiKeyRow, now: Date): KeyCard {
  const status = normalizeStatus(row.status);
  // An expiry that cannot be read shows as expired: no request passes with it.
  const expiry = expiryState(row.expires_at, now.getTime());
  const expired = status === 'allowed' && (expiry === 'passed' || expiry === 'unreadable');
  return {
    keyId: row.id,
    keyType: row.key_type,
    status: row.status,
    statusLabel: expired ? 'EXPIRED' : statusLabel(status),
    environment: row.environment,
    createdAt: cardTime(row.created_at) ?? new Date(Number.NaN),
    lastUsedAt: cardTime(row.last_used_at),
    expiresAt: cardTime(row.expires_at),
    maskedKey: row.masked_key,
    webhook: {
      url: row.webhook_url ?? null,
      username: row.webhook_basic_auth_username ?? null,
      basicAuthConfigured: row.webhook_basic_auth_password_sealed != null,
    },
  };
}

/**
 * A row's time as a card shows it: a Date, read as `expires_at` is read (a Date, or text with a
 * date, a time and a zone); an Invalid Date for anything else; null for none. Always a Date of
 * the card's own: a store that hands out its stored Dates would otherwise let an app that
 * formats `card.expiresAt` in place move the key's expiry.
 */
function cardTime(stored: unknown): Date | null {
  if (stored === null || stored === undefined) return null;
  return new Date(storedTimeOf(stored) ?? Number.NaN);
}
