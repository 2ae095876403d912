import type { IssuedKey, KeyCard } from 'keyward';

/**
 * The card as the portal's JSON API sends it. Field names follow the seed page's API-key row
 * (`key_type`, `status_lbl`, `created_at`, `last_used_at`, …), so the page and any script
 * reading the API see the names the merchant documentation uses. Never the cleartext.
 */
export interface CardJson {
  id: string;
  key_type: string;
  /** Raw status value, as stored (`allowed`, `suspended`, …). */
  status: string | null;
  /** ACTIVE, SUSPENDED or EXPIRED. */
  status_lbl: string;
  environment: string;
  /** Null only when the stored value cannot be read (see `unreadable_dates`). */
  created_at: string | null;
  /** Null when the key has never authenticated a call: the page shows "Never". */
  last_used_at: string | null;
  /** When the key stops working; null when it never expires. */
  expires_at: string | null;
  /**
   * The date fields above whose stored value is no moment (an Invalid Date, text no date can
   * be read from); each of them is null. Empty for every key keyward wrote. The JSON has no
   * Invalid Date, and a bare null would say "never expires" of a key that no request passes
   * with (keyward refuses its row), or "never used" of one that was.
   */
  unreadable_dates: DateField[];
  masked_key: string;
  /** The HTTPS URL receipts are posted to, or null when webhooks are off. */
  webhook_url: string | null;
  webhook_basic_auth_username: string | null;
  /** Whether a Basic-auth password is saved. The password itself is never part of a card. */
  webhook_basic_auth_configured: boolean;
}

/**
 * Turns a keyward card into the API's JSON shape.
 *
 * @param card - from `KeyManager.describeAccount`, `issue` or `regenerate`.
 * @returns the JSON object; dates as ISO 8601 strings in UTC, or null with their name in
 *   `unreadable_dates` when the stored value holds no moment.
 * @example
 * ```ts
 * res.json({ card: card ? cardJson(card) : null });
 * ```
 */
export function cardJson(card: KeyCard): CardJson {
  const unreadable: DateField[] = [];
  const date = (field: DateField, value: unknown, nullIs: 'none' | 'unreadable'): string | null => {
    if (value === null && nullIs === 'none') return null;
    const iso = isoDate(value);
    if (iso === undefined) unreadable.push(field);
    return iso ?? null;
  };
  return {
    id: card.keyId,
    key_type: card.keyType,
    status: card.status,
    status_lbl: card.statusLabel,
    environment: card.environment,
    created_at: date('created_at', card.createdAt, 'unreadable'),
    last_used_at: date('last_used_at', card.lastUsedAt, 'none'),
    expires_at: date('expires_at', card.expiresAt, 'none'),
    unreadable_dates: unreadable,
    masked_key: card.maskedKey,
    webhook_url: card.webhook.url,
    webhook_basic_auth_username: card.webhook.username,
    webhook_basic_auth_configured: card.webhook.basicAuthConfigured,
  };
}

/**
 * The answer to generate and regenerate: the one response that carries the cleartext.
 *
 * @param issued - what `issue` or `regenerate` returned.
 * @returns `{ key, card }`.
 * @example
 * ```ts
 * res.status(201).json(issuedJson(await manager.issue({ accountId, environment: 'sandbox' })));
 * ```
 */
export function issuedJson(issued: IssuedKey): { key: string; card: CardJson } {
  return { key: issued.key, card: cardJson(issued.card) };
}

/** A card's date fields, by their JSON names. */
export type DateField = 'created_at' | 'last_used_at' | 'expires_at';

/**
 * A Date, or text a custom store handed over, as ISO 8601 in UTC; undefined when it holds no
 * moment. `toISOString` throws a RangeError on an Invalid Date, which made the whole card, and
 * `GET /key`, a 500.
 */
function isoDate(value: unknown): string | undefined {
  let time = Number.NaN;
  if (typeof value === 'string') {
    time = Date.parse(value);
  } else {
    try {
      // The time a Date holds, of any realm, read past any method of the object's own.
      time = Date.prototype.getTime.call(value);
    } catch {
      // Not a Date: no moment either.
    }
  }
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}
