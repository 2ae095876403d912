/**
 * Whether a text is a key type `issue` gives a key: 1 to 64 lower-case letters, digits or
 * `_`. Rows written by another issuer may carry other types, which routes still match.
 *
 * @param value - anything.
 * @example
 * ```ts
 * isIssuableKeyType('sms_api'); // true
 * isIssuableKeyType('SMS-API'); // false
 * ```
 */
export function isIssuableKeyType(value: unknown): value is string {
  return typeof value === 'string' && /^[a-z0-9_]{1,64}$/.test(value);
}
