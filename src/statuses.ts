/** The status values a row may hold, spelled as the backend stores them. */
export type KeyStatus =
  | 'allowed'
  | 'pending_validation'
  | 'suspended'
  | 'revoqued'
  | 'locked'
  | 'expired'
  | 'rejected';

/**
 * A status as the key manager takes it: one of {@link KeyStatus}, or `revoked`, the alias of
 * `revoqued`, which is stored as `revoqued`.
 */
export type KeyStatusInput = KeyStatus | 'revoked';

/** The label the portal card shows for a status. */
export type StatusLabel = 'ACTIVE' | 'SUSPENDED' | 'EXPIRED';

interface StatusRule {
  label: StatusLabel;
  /** What the caller is told to do, as the 403 message. */
  message: string;
}

const RULES: Readonly<Record<KeyStatus, StatusRule>> = Object.freeze({
  allowed: { label: 'ACTIVE', message: 'This API key is active.' },
  pending_validation: {
    label: 'SUSPENDED',
    message: 'This API key is pending validation. Contact your account manager to activate it.',
  },
  suspended: {
    label: 'SUSPENDED',
    message: 'This API key is suspended. Contact your account manager.',
  },
  revoqued: {
    label: 'SUSPENDED',
    message: 'This API key is revoked. Regenerate it if you still need the integration.',
  },
  locked: { label: 'SUSPENDED', message: 'This API key is locked. Contact support.' },
  expired: { label: 'EXPIRED', message: 'This API key is expired. Regenerate it.' },
  rejected: {
    label: 'SUSPENDED',
    message: 'This API key is rejected. Contact your account manager.',
  },
});

/** Every status value, in the order of the seed page's table. */
export const KEY_STATUSES = Object.freeze(Object.keys(RULES) as KeyStatus[]);

/** Message for a status value keyward does not know (NULL, a typo, other casing). */
export const UNKNOWN_STATUS_MESSAGE = 'This API key is not active. Contact support.';

/**
 * Maps a stored status value to a known status. `revoked` is accepted as an alias of
 * `revoqued`; any other value, including other letter cases and NULL, is unknown and fails
 * closed.
 *
 * @param value - the status column as read from the store.
 * @returns the known status, or undefined for a value keyward does not know.
 * @example
 * ```ts
 * normalizeStatus('revoked'); // 'revoqued'
 * normalizeStatus('Allowed'); // undefined: refused like any unknown status
 * ```
 */
export function normalizeStatus(value: unknown): KeyStatus | undefined {
  if (value === 'revoked') return 'revoqued';
  if (typeof value === 'string' && Object.hasOwn(RULES, value)) return value as KeyStatus;
  return undefined;
}

/**
 * Portal label of a status. The stored value is read as {@link normalizeStatus} reads it
 * (`revoked` is `revoqued`), and a value keyward does not know (NULL, a typo, other letter
 * case) reads as SUSPENDED, as such a key is refused.
 *
 * @param status - a status as stored, or one {@link normalizeStatus} gave (undefined for an
 *   unknown one).
 * @returns `ACTIVE`, `SUSPENDED` or `EXPIRED`.
 * @example
 * ```ts
 * statusLabel('locked'); // 'SUSPENDED'
 * statusLabel('expired'); // 'EXPIRED'
 * statusLabel('Active'); // 'SUSPENDED': not a status keyward knows
 * ```
 */
export function statusLabel(status: unknown): StatusLabel {
  const known = normalizeStatus(status);
  return known === undefined ? 'SUSPENDED' : RULES[known].label;
}

/**
 * The 403 message for a status, read as {@link statusLabel} reads it.
 *
 * @param status - a status as stored, or one {@link normalizeStatus} gave.
 * @returns the message; {@link UNKNOWN_STATUS_MESSAGE} for a value keyward does not know.
 */
export function statusMessage(status: unknown): string {
  const known = normalizeStatus(status);
  return known === undefined ? UNKNOWN_STATUS_MESSAGE : RULES[known].message;
}
