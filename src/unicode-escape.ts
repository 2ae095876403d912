/**
 * A code unit as a JSON-style `\uXXXX` escape: how messages and log lines show a character
 * that could break or reorder them (a control, a line separator, a bidirectional override, a
 * lone surrogate).
 *
 * @param char - one UTF-16 code unit, as a regular expression's match gives it.
 * @example
 * ```ts
 * unicodeEscape('\u2028'); // '\\u2028'
 * ```
 */
export function unicodeEscape(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}
