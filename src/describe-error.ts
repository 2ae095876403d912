// A module of its own, importing only modules that import nothing: the postgres entry point
// bundles it without pulling in a second copy of the core's classes.
import { ownField } from './own-field.js';
import { withCutUrlPasswordWithheld, withSecretsWithheld } from './secret-like.js';
import { unicodeEscape } from './unicode-escape.js';

/** Longest description a log line carries; an app's error message can be any length. */
const MAX_DESCRIPTION_LENGTH = 300;

// Control characters, line and paragraph separators, bidirectional controls, zero-width
// characters and lone surrogates: what could end a log line early, forge another, colour a
// terminal, reorder or hide what a line shows, or make it text that is not well-formed.
const UNSAFE_IN_A_LOG_LINE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]|\p{Cs}/gu;

/**
 * An error's name, code and message, for operators' logs (never for clients). What was thrown
 * may be an app's or a store's error quoting anything, the request's credential included: keys
 * and random-looking runs are withheld (see `withSecretsWithheld`), characters that could break
 * a log line are escaped as `\uXXXX`, and the whole is cut at 300 characters. Never throws:
 * what is thrown can be anything, including an object without a prototype or an Error whose
 * `message` is a getter that throws, and describing it must not become a second fault.
 */
export function describeError(error: unknown): string {
  try {
    return safeForALogLine(described(error));
  } catch {
    return 'an error that cannot be described';
  }
}

function described(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // The error's own code only: one read through the prototype chain could be planted.
  const code = ownField(error as { code?: unknown }, 'code');
  return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}`;
}

function safeForALogLine(text: string): string {
  // Only the start is worked on (a 200 KB message would otherwise be scanned in full), less a
  // run of base62 cut through at its end, which could be too short a piece to be withheld,
  // and less what follows a URL's user there, which may be a password cut before its `@`.
  const cut = text.length > 2 * MAX_DESCRIPTION_LENGTH;
  const start = cut ? withCutUrlPasswordWithheld(text.slice(0, 2 * MAX_DESCRIPTION_LENGTH)).replace(/[0-9A-Za-z]+$/, '') : text;
  const safe = withSecretsWithheld(start).replace(UNSAFE_IN_A_LOG_LINE, unicodeEscape);
  // The cut never splits a surrogate pair: a lone half would be text that is not well-formed.
  return cut || safe.length > MAX_DESCRIPTION_LENGTH ? `${safe.slice(0, MAX_DESCRIPTION_LENGTH).replace(/[\ud800-\udbff]$/, '')}…` : safe;
}
