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
  created_at: string;
  /** Null when the key has never authenticated a call: the page shows "Never". */
  last_used_at: string | null;
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
 * @returns the JSON object; dates as ISO 8601 strings in UTC.
 * @example
 * ```ts
 * res.json({ card: card ? cardJson(card) : null });
 * ```
 */
export function cardJson(card: KeyCard): CardJson {
  return {
    id: card.keyId,
    key_type: card.keyType,
    status: card.status,
    status_lbl: card.statusLabel,
    environment: card.environment,
    created_at: isoDate(card.createdAt),
    last_used_at: card.lastUsedAt === null ? null : isoDate(card.lastUsedAt),
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

function isoDate(value: Date | string): string {
  return new Date(value).toISOString();
}
