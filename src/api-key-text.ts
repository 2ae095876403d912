// Whether a text someone typed or pasted holds an API key: for the arguments and fields where
// a key does not belong, which keyward refuses rather than stores, sends or shows.
import { BODY_LENGTH, isKeyBodyAt } from './key-format.js';
import { KEY_PREFIX } from './secret-like.js';

// A key's prefix at the start of a word, and a few characters of a body: "sk_live_…" or
// "Bearer sk_test_…", pasted whole or in part, but not an id such as "task_test_1".
const API_KEY_TEXT = new RegExp(`(?<![0-9A-Za-z])${KEY_PREFIX}[0-9A-Za-z]{8}`, 'i');
// A run of letters and digits long enough to hold a key's 50-character body, which may sit
// anywhere in it: alone, after the prefix, or run together with text at either end.
const BODY_SIZED_RUN = new RegExp(`[0-9A-Za-z]{${BODY_LENGTH},}`, 'g');

/**
 * Whether the text holds an API key: whole (anywhere, even with letters run on at either end),
 * after `Bearer `, a piece starting with its prefix, or its 50-character body, alone or run
 * together with other letters and digits (a body is told from other text by its checksum), with
 * the prefix's underscores percent-encoded too.
 *
 * @param text - what was given: an id, a webhook URL or username, bounded in length before it
 *   comes here (at most a few thousand characters), as every 50-character stretch of each long
 *   run is checked.
 */
export function holdsApiKey(text: string): boolean {
  if (API_KEY_TEXT.test(text)) return true;
  for (const match of text.matchAll(BODY_SIZED_RUN)) {
    const end = match.index + match[0].length;
    for (let start = match.index; start + BODY_LENGTH <= end; start++) {
      if (isKeyBodyAt(text, start)) return true;
    }
  }
  return false;
}
