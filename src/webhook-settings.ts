import { holdsApiKey } from './api-key-text.js';
import { ApiKeyAuthError } from './errors.js';
import { UNSAFE_IDENTIFIER_TEXT } from './identifier-text.js';
import { isInternalHost } from './internal-host.js';

/**
 * Input of `KeyManager.setWebhook`: what the portal's webhook form submits.
 *
 * - `url` is required and replaces the stored one.
 * - `username`: a string sets it; `null` or `''` clears it; leaving it out keeps the stored
 *   one, as for the password.
 * - `password`: a string sets it (sealed before it is stored); `null` clears it; leaving it
 *   out keeps the stored one, because the form never shows the password and an untouched
 *   field must not wipe it.
 */
export interface WebhookSettingsInput {
  url: string;
  username?: string | null | undefined;
  password?: string | null | undefined;
}

/** Webhook settings as every read returns them: never the password. */
export interface WebhookSettings {
  /** HTTPS URL delivery receipts are posted to, or null when webhooks are off. */
  url: string | null;
  username: string | null;
  /** Whether a Basic-auth password is stored (`webhook_basic_auth_configured`). */
  basicAuthConfigured: boolean;
}

/** Longest accepted webhook URL, in characters. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;
/** Longest accepted Basic-auth username, in UTF-8 bytes. */
export const MAX_WEBHOOK_USERNAME_BYTES = 256;
/** Longest accepted Basic-auth password, in UTF-8 bytes. */
export const MAX_WEBHOOK_PASSWORD_BYTES = 1024;
/**
 * Shortest password `setWebhook` stores, in characters (code points of normalization form C,
 * the form it is sent in). People choose these, and a receiver answers every guess at once: a
 * tester found a two-character one from a single client in five seconds. Receivers and the
 * sender side still take shorter ones: a receiver's own password is its operator's choice, and
 * a password stored before must still be sent.
 */
export const MIN_WEBHOOK_PASSWORD_CHARACTERS = 8;

/**
 * Checks a webhook URL and returns its normalized form, which is what gets stored: the URL as
 * the WHATWG URL parser writes it back (`url.href`), so it can differ from the text typed in
 * more than case (see the README's webhook section for examples).
 *
 * Refused: anything but a string, more than {@link MAX_WEBHOOK_URL_LENGTH} characters, text
 * that is not well-formed Unicode (a lone surrogate, which the parser would turn into U+FFFD),
 * whitespace or control characters anywhere (the URL parser would silently drop some of them),
 * text that does not parse as an absolute URL, any scheme but `https`, a user name or password
 * in the URL (credentials belong in the Basic-auth fields, never in a string that gets logged),
 * even an empty one as in `https://@host/`, and a `#fragment` (never sent to the server, so it
 * is always a mistake).
 *
 * The host is not resolved: whether it points inside your network is for the delivery side to
 * check when it connects, since DNS can change after the URL is saved.
 *
 * @param value - the submitted URL.
 * @returns the normalized URL.
 * @throws {ApiKeyAuthError} `ERR_WEBHOOK_INVALID` (status 400) saying what is wrong.
 * @example
 * ```ts
 * normalizeWebhookUrl('https://Hooks.Example.com/in'); // 'https://hooks.example.com/in'
 * normalizeWebhookUrl('http://hooks.example.com/in'); // throws ERR_WEBHOOK_INVALID
 * ```
 */
export function normalizeWebhookUrl(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid('"url" is required to enable webhooks and must be a non-empty string.');
  }
  if (value.length > MAX_WEBHOOK_URL_LENGTH) {
    throw invalid(`"url" must be at most ${MAX_WEBHOOK_URL_LENGTH} characters.`);
  }
  // The URL parser would store a lone surrogate as %EF%BF%BD (U+FFFD), not what was typed. As
  // in credentialTextProblem, with the u flag \p{Cs} matches only unpaired surrogates (the same
  // test as String.prototype.isWellFormed, which the ES2023 lib this project compiles against lacks).
  if (/\p{Cs}/u.test(value)) throw invalid('"url" must be well-formed Unicode text.');
  if (/[\s\p{Cc}]/u.test(value)) {
    throw invalid('"url" must not contain spaces, line breaks or control characters.');
  }

  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('"url" is not a valid absolute URL, such as https://hooks.example.com/keyward.');
  }

  if (url.protocol !== 'https:') {
    throw invalid('"url" must use https://; plain http and other schemes are refused.');
  }
  if (isInternalHost(url.hostname)) {
    throw invalid('"url" must name a public host: localhost, loopback, private, link-local and other internal addresses are refused, as a delivery there would reach the gateway\'s own network.');
  }
  if (url.username !== '' || url.password !== '' || hasUserinfo(value)) {
    throw invalid('"url" must not contain credentials; use the Basic-auth username and password fields.');
  }
  if (value.includes('#')) {
    throw invalid('"url" must not contain a #fragment: it is never sent to the server.');
  }
  // A URL is no secret either: every key card shows it. Checked as typed, as it is stored, and
  // with its %XX escapes undone, as the receiver reads it.
  if (holdsApiKey(value) || holdsApiKey(url.href) || holdsApiKey(percentDecoded(url.href))) {
    throw invalid('"url" holds an API key, and the URL is shown in clear on every key card: a receiver authenticates deliveries by the Basic-auth username and password.');
  }
  if (url.href.length > MAX_WEBHOOK_URL_LENGTH) {
    // Shorter as typed: non-ASCII characters grow into %XX escapes (`é` into six characters).
    throw invalid(`"url" must be at most ${MAX_WEBHOOK_URL_LENGTH} characters once normalized (non-ASCII characters are percent-encoded, up to 12 characters each).`);
  }
  return url.href;
}

/** The text with every `%XX` escape replaced by its byte, read as Latin-1: enough to find an ASCII key. */
function percentDecoded(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/**
 * Checks an optional Basic-auth username. RFC 7617 forbids a colon in it (the colon separates
 * it from the password), control characters would not survive every receiver, invisible format
 * characters and line or paragraph separators would disguise it, and text that is not
 * well-formed Unicode has no UTF-8 form; nor may it be over {@link MAX_WEBHOOK_USERNAME_BYTES}
 * bytes in UTF-8, as given or in Unicode normalization form C.
 *
 * @param value - the submitted username; `null` and `''` mean none, `undefined` (left out)
 *   keeps the stored one, as `setWebhook` reads it.
 * @returns the username, null for none, or undefined to keep the stored one: pass it on to
 *   `setWebhook` as it is.
 * @throws {ApiKeyAuthError} `ERR_WEBHOOK_INVALID` (status 400).
 * @example
 * ```ts
 * normalizeWebhookUsername('hook-relay'); // 'hook-relay'
 * normalizeWebhookUsername(''); // null
 * normalizeWebhookUsername(undefined); // undefined
 * normalizeWebhookUsername('a:b'); // throws ERR_WEBHOOK_INVALID
 * ```
 */
export function normalizeWebhookUsername(value: unknown): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === '') return null;
  if (typeof value !== 'string') throw invalid('"username" must be a string or null, or be left out to keep the stored one.');
  const problem = webhookUsernameProblem(value);
  if (problem !== undefined) throw invalid(problem);
  return value;
}

/**
 * Checks a Basic-auth password before it is sealed: well-formed Unicode, at most
 * {@link MAX_WEBHOOK_PASSWORD_BYTES} bytes in UTF-8 (as given and in normalization form C),
 * and at least {@link MIN_WEBHOOK_PASSWORD_CHARACTERS} characters. Colons are allowed (only the
 * username may not hold one). The message never repeats the value.
 *
 * @param value - the submitted password: a non-empty string.
 * @returns the password.
 * @throws {ApiKeyAuthError} `ERR_WEBHOOK_INVALID` (status 400).
 * @example
 * ```ts
 * assertWebhookPassword('p4ss:w0rd:x'); // fine
 * assertWebhookPassword('pw1'); // throws: "password" must be at least 8 characters long.
 * ```
 */
export function assertWebhookPassword(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid('"password" must be a non-empty string; pass null to clear it, or leave it out to keep it.');
  }
  const problem = webhookPasswordProblem(value);
  if (problem !== undefined) throw invalid(problem);
  // Counted once the length is known to be bounded; an accent typed after its letter is one
  // character once composed, as it is sent.
  if ([...value.normalize('NFC')].length < MIN_WEBHOOK_PASSWORD_CHARACTERS) {
    throw invalid(`"password" must be at least ${MIN_WEBHOOK_PASSWORD_CHARACTERS} characters long.`);
  }
  return value;
}


/**
 * What is wrong with a Basic-auth username, or undefined when nothing is (`''` passes: it
 * means none). The one check behind both `setWebhook` and the receivers
 * (`createBasicAuthChecker` and the adapters), so a receiver accepts exactly the usernames a
 * keyward sender can be configured with. The message names the field, never the value.
 *
 * @param value - the username.
 * @returns the problem, as a sentence starting with `"username"`, or undefined.
 */
export function webhookUsernameProblem(value: string): string | undefined {
  const problem = credentialTextProblem(value, 'username', MAX_WEBHOOK_USERNAME_BYTES);
  if (problem !== undefined) return problem;
  if (UNSAFE_IDENTIFIER_TEXT.test(value)) {
    return '"username" must not contain control characters, invisible or blank-looking characters, noncharacters, or line or paragraph separators.';
  }
  if (value.includes(':')) return '"username" must not contain ":" (RFC 7617 reserves it as the separator).';
  // Spaces at the ends are kept as sent, but a username of spaces alone looks like none in
  // every form that shows it.
  if (/^\s+$/u.test(value)) return '"username" must not be only whitespace: send null or "" to remove it.';
  // A username is no secret: every key card shows it as it is.
  if (holdsApiKey(value)) return '"username" holds an API key, and a username is shown in clear on every key card: give the receiver\'s username.';
  return undefined;
}

/**
 * What is wrong with a non-empty Basic-auth password, or undefined when nothing is. Shared by
 * `setWebhook` and the receivers, like {@link webhookUsernameProblem}. Colons are fine. The
 * message names the field, never the value.
 *
 * @param value - the password.
 * @returns the problem, as a sentence starting with `"password"`, or undefined.
 */
export function webhookPasswordProblem(value: string): string | undefined {
  return credentialTextProblem(value, 'password', MAX_WEBHOOK_PASSWORD_BYTES);
}

function credentialTextProblem(value: string, name: string, maxBytes: number): string | undefined {
  // Checked on the character count first, so a huge value costs no encoding work; then as
  // given and in normalization form C, the form Basic auth sends and compares, in which some
  // characters take more than twice the bytes (U+0958, 3 bytes, becomes 6).
  if (
    value.length > maxBytes ||
    Buffer.byteLength(value, 'utf8') > maxBytes ||
    Buffer.byteLength(value.normalize('NFC'), 'utf8') > maxBytes
  ) {
    return `"${name}" must be at most ${maxBytes} bytes in UTF-8, also in Unicode normalization form C.`;
  }
  // A lone surrogate has no UTF-8 form; with the u flag \p{Cs} matches only unpaired ones.
  if (/\p{Cs}/u.test(value)) return `"${name}" must be well-formed Unicode text.`;
  if (/\p{Cc}/u.test(value)) return `"${name}" must not contain control characters.`;
  return undefined;
}

/**
 * Whether the authority of an `https:` URL text holds an `@`, even with nothing before it:
 * `https://@host/` and `https://:@host/` parse with an empty username and password, so only
 * the text shows them. As the URL parser does for a special scheme, any run of `/` and `\`
 * after the scheme is skipped, and the authority ends at the next `/`, `\`, `?` or `#`.
 * `value` has passed the checks above: no whitespace or control characters, scheme https.
 */
function hasUserinfo(value: string): boolean {
  const authority = /^https:[/\\]*([^/\\?#]*)/i.exec(value)?.[1] ?? '';
  return authority.includes('@');
}

function invalid(message: string): ApiKeyAuthError {
  return new ApiKeyAuthError('ERR_WEBHOOK_INVALID', message, { status: 400 });
}
