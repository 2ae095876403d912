// Whether a text someone typed or pasted holds an API key: for the arguments and fields where
// a key does not belong, which keyward refuses rather than stores, sends or shows.
import { KEY_PREFIXES, parseApiKey } from './key-format.js';
import { KEY_PREFIX } from './secret-like.js';

// A key's prefix at the start of a word, and a few characters of a body: "sk_live_…" or
// "Bearer sk_test_…", pasted whole or in part, but not an id such as "task_test_1".
const API_KEY_TEXT = new RegExp(`(?<![0-9A-Za-z])${KEY_PREFIX}[0-9A-Za-z]{8}`, 'i');
// A key's 50-character body on its own, its prefix left behind when copied.
const KEY_BODY_TEXT = /(?<![0-9A-Za-z])[0-9A-Za-z]{50}(?![0-9A-Za-z])/g;
// A whole key anywhere, even run together with the text around it ("x" + key + "y").
const WHOLE_KEY_TEXT = new RegExp(`${KEY_PREFIX}([0-9A-Za-z]{50})`, 'gi');

/**
 * Whether the text holds an API key: whole (anywhere, even with letters run on at either end),
 * after `Bearer `, a piece starting with its prefix, its 50-character body alone (a whole key
 * and a body alone are told from other text by their checksum), with the prefix's underscores
 * percent-encoded too.
 *
 * @param text - what was given.
 */
export function holdsApiKey(text: string): boolean {
  if (API_KEY_TEXT.test(text)) return true;
  const bodies = [...text.matchAll(KEY_BODY_TEXT), ...text.matchAll(WHOLE_KEY_TEXT)].map((match) => match[1] ?? match[0]);
  return bodies.some((body) => Object.values(KEY_PREFIXES).some((prefix) => parseApiKey(prefix + body).ok));
}
