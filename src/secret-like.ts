// What text from outside keyward's control (an app's error message, an unknown option name)
// must not carry into a log line or an error message: keys and what looks like a piece of one.
// Imports nothing, so every entry point can bundle it without a second copy of anything else.

/**
 * `sk_live_` or `sk_test_`, with its underscores percent-encoded too, as regular-expression
 * source: compile it with the `i` flag, for any letter case.
 */
export const KEY_PREFIX = 'sk(?:_|%5f)(?:live|test)(?:_|%5f)';
const FIRST_KEY_PREFIX = new RegExp(KEY_PREFIX, 'i');
const EVERY_KEY_PREFIX = new RegExp(KEY_PREFIX, 'gi');
/** A key's prefix and whatever follows it: the prefix is kept, the rest withheld. */
const EVERY_KEY = new RegExp(`(${KEY_PREFIX})[0-9A-Za-z_%]*`, 'gi');

/**
 * A URL's scheme, `//` and user, up to the `:` that starts its password, as regular-expression
 * source. The scheme is matched only where a run of scheme characters starts (one may begin
 * with a digit or a `-` here: more is withheld, never less), so hostile text costs one pass.
 */
const URL_USERINFO_START = '(?<![a-z0-9+.-])([a-z0-9+.-]+:\\/\\/[^\\s:@/]*:)';

/**
 * The password of a URL's userinfo (`postgres://app:<password>@db`), as a connection error of
 * an app's store can quote it: the scheme and user are kept, the password withheld up to the
 * URL's last `@` (a driver reads `pa@ss` in `postgres://app:pa@ss@db`).
 */
const URL_PASSWORD = new RegExp(`${URL_USERINFO_START}[^\\s/]*@`, 'gi');

/** A run of base62 long enough to be a piece of a key's body (50 characters) or of a secret. */
const LONG_BASE62_RUN = /[0-9A-Za-z]{16,}/g;

/**
 * As long as a key's secret part: a run this long, of ten or more different characters, is
 * withheld whatever its letter case (a key body in one case, a hex encoding, a digest), as no
 * operator needs it from a log line.
 */
const SECRET_LENGTH_RUN = 32;

/** Sixteen or more percent-escapes in a row: text (a key, say) encoded byte by byte. */
const PERCENT_ENCODED = '(?:%[0-9A-Fa-f]{2}){16,}';
const FIRST_PERCENT_ENCODED_RUN = new RegExp(PERCENT_ENCODED);
const EVERY_PERCENT_ENCODED_RUN = new RegExp(PERCENT_ENCODED, 'g');

/**
 * Whether a run of base62 looks random rather than written by a person: one as long as a
 * secret (of ten or more different characters), or one with both letter cases and a digit or
 * many capitals. `usageFlushIntervalMs` does not look random; a slice of a key almost always does.
 */
function looksRandom(run: string): boolean {
  // Many different characters: a run of one letter repeated is filler, not a secret.
  if (run.length >= SECRET_LENGTH_RUN && new Set(run).size >= 10) return true;
  const capitals = run.replace(/[^A-Z]/g, '').length;
  const letters = run.replace(/[^A-Za-z]/g, '').length;
  const bothCases = capitals > 0 && capitals < letters;
  return bothCases && (/[0-9]/.test(run) || capitals / letters >= 0.3);
}

/**
 * Where the first secret in `text` starts (right after a key's prefix, or at a random-looking
 * run), or -1 for none.
 *
 * @param text - text that may hold a credential.
 */
export function secretStart(text: string): number {
  const prefix = FIRST_KEY_PREFIX.exec(text);
  const afterPrefix = prefix ? prefix.index + prefix[0].length : Number.POSITIVE_INFINITY;
  // Prefixes blanked out, so that a run cannot begin inside one (`5Fkqz3…` after `sk%5Ftest%`).
  const blanked = text.replace(EVERY_KEY_PREFIX, (match) => ' '.repeat(match.length));
  const run = [...blanked.matchAll(LONG_BASE62_RUN)].find((each) => looksRandom(each[0]));
  const encoded = FIRST_PERCENT_ENCODED_RUN.exec(blanked);
  const start = Math.min(afterPrefix, run?.index ?? Number.POSITIVE_INFINITY, encoded?.index ?? Number.POSITIVE_INFINITY);
  return start === Number.POSITIVE_INFINITY ? -1 : start;
}

/**
 * `text` with the password of every URL withheld, every key cut after its prefix, and every
 * random-looking run of 16 or more base62 characters, every run of 32 or more, and every run of
 * 16 or more percent-escapes replaced by `…`. A heuristic: a key split into short pieces, or
 * encoded another way, still gets through.
 *
 * @param text - text that may quote a credential.
 */
export function withSecretsWithheld(text: string): string {
  return text
    .replace(URL_PASSWORD, '$1…@')
    .replace(EVERY_KEY, '$1…')
    .replace(EVERY_PERCENT_ENCODED_RUN, '…')
    .replace(LONG_BASE62_RUN, (run) => (looksRandom(run) ? '…' : run));
}

/**
 * A URL cut short after its user, at the end of a text cut for length: what follows may be
 * its password, `@`s and all, or its host, which is withheld with it.
 */
const CUT_URL_PASSWORD = new RegExp(`${URL_USERINFO_START}[^\\s/]+$`, 'i');

/**
 * `text`, cut for length, without the start of a URL password its cut left behind: the `@`
 * that {@link withSecretsWithheld} looks for may be past the cut. Only for cut text: at the
 * end of whole text, `https://host:8443` is a port.
 */
export function withCutUrlPasswordWithheld(text: string): string {
  return text.replace(CUT_URL_PASSWORD, '$1…');
}
