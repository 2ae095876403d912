// Whether a text someone typed or pasted holds an API key: for the arguments and fields where
// a key does not belong, which keyward refuses rather than stores, sends or shows.
import { KEY_PREFIXES, parseApiKey } from './key-format.js';

// A key's prefix at the start of a word, and a few characters of a body: "sk_live_…" or
// "Bearer sk_test_…", pasted whole or in part, but not an id such as "task_test_1".
const API_KEY_TEXT = new RegExp(`(?<![0-9A-Za-z])(?:${Object.values(KEY_PREFIXES).join('|')})[0-9A-Za-z]{8}`, 'i');
// A key's 50-character body on its own, its prefix left behind when copied.
const KEY_BODY_TEXT = /(?<![0-9A-Za-z])[0-9A-Za-z]{50}(?![0-9A-Za-z])/g;

/**
 * Whether the text holds an API key: whole, after `Bearer `, a piece starting with its prefix,
 * or its 50-character body alone, which its checksum tells from other text.
 *
 * @param text - what was given.
 */
export function holdsApiKey(text: string): boolean {
  return API_KEY_TEXT.test(text) || holdsKeyBody(text);
}

/** Whether the text holds a key's body whose checksum holds under either prefix. */
function holdsKeyBody(text: string): boolean {
  for (const [body] of text.matchAll(KEY_BODY_TEXT)) {
    if (Object.values(KEY_PREFIXES).some((prefix) => parseApiKey(prefix + body).ok)) return true;
  }
  return false;
}
