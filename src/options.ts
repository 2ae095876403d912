import { types } from 'node:util';
import { invalidOption } from './errors.js';
import { secretStart } from './secret-like.js';
import { unicodeEscape } from './unicode-escape.js';

/**
 * Refuses option names a factory does not know, suggesting the closest known one: a
 * misspelt `apiKeyHeadr` must not silently leave the default in place.
 *
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID`.
 */
function assertKnownOptions(
  options: object,
  known: readonly string[],
  factory: string,
  naming: UnknownNameShown,
  within: string | undefined,
): void {
  const message = unknownOptionMessage(options, known, factory, naming, within);
  if (message !== undefined) invalidOption(message);
}

/**
 * Whether a message repeats an unknown option's name: `shown` (cut at 40 characters or a key
 * prefix), or `withheld` for an object that holds a password, since an object built wrong
 * could have a password as a name, and a misspelt `password` (`passw0rd`) is as likely to be
 * one. A withheld name still gets its did-you-mean, or the list of known names.
 */
export type UnknownNameShown = 'shown' | 'withheld';

/**
 * The message for the first option name of `options` that is not in `known`, with the closest
 * known name as a did-you-mean, or undefined when every name is known. Callers pick the error
 * it is thrown with.
 *
 * @param owner - the factory or method the options were given to; the message starts with it.
 * @param within - for an option that is an object of its own (`memo`, `pepper`), its name.
 */
export function unknownOptionMessage(
  options: object,
  known: readonly string[],
  owner: string,
  naming: UnknownNameShown = 'shown',
  within?: string,
): string | undefined {
  const name = enumerableNames(options).find((each) => !known.includes(each));
  if (name === undefined) return undefined;
  const suggestion = closestName(name, known);
  const listed = ` The options${within === undefined ? '' : ` of "${within}"`} are ${known.join(', ')}.`;
  const hint = suggestion ? ` Did you mean "${suggestion}"?` : known.length <= MAX_LISTED_OPTIONS || naming === 'withheld' ? listed : '';
  const shownName = naming === 'withheld' ? '' : ` ${quotedName(name)}`;
  const place = within === undefined ? '' : ` in "${within}"`;
  const withheld = naming === 'withheld' ? ' (its name is not repeated, as it could be a secret)' : '';
  return `${owner}: unknown option${shownName}${place}${withheld}.${hint}`;
}

/**
 * The known name closest to `name` (a few edits at most, letter case aside), or undefined.
 * The name may come from a client's JSON passed straight through: one far longer than any
 * known name gets no suggestion, since the edit distance would cost time in its length.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  return name.length <= MAX_SHOWN_NAME ? closest(name, known) : undefined;
}

/**
 * A name as a message shows it: cut short, quoted, and with everything but printable ASCII
 * escaped, so it cannot break or reorder a log line (line separators, bidirectional
 * overrides) or fill an answer. A name holding a key (one pasted where a field name goes) is
 * cut right after the key's prefix, and one holding a random-looking run of 16 or more base62
 * characters (a key's body without its prefix) where that run starts, so no message carries a
 * lookup id or any of a secret.
 *
 * @param name - the text to show.
 * @param maxShown - most characters repeated; 40 unless given.
 */
export function quotedName(name: string, maxShown = MAX_SHOWN_NAME): string {
  const secretAt = secretStart(name);
  const shown = secretAt === -1 ? maxShown : Math.min(maxShown, secretAt);
  const quoted = JSON.stringify(name.slice(0, shown)).replace(/[^\x20-\x7e]/g, unicodeEscape);
  return name.length > shown ? `${quoted.slice(0, -1)}…"` : quoted;
}

/** Most option names a message lists when an unknown one is no misspelling of any. */
const MAX_LISTED_OPTIONS = 8;

/** Longest part of an unknown option name a message repeats. */
const MAX_SHOWN_NAME = 40;

/**
 * The named fields of an options object, each read once, on an object without a prototype.
 * A field counts when the object or a prototype of its own holds it (a plain field, a
 * non-enumerable one, a class's getter), never when only `Object.prototype` does: a field the
 * caller left out reads as undefined even when something else in the app has put that name
 * there (prototype pollution), so a polluted `forwardErrors`, `keyType` or `password` cannot
 * switch a setting or slip into stored data.
 *
 * @param options - an object the caller checked is one.
 * @param names - the fields to read.
 */
export function ownOptions<T extends object>(options: T, names: readonly string[]): T {
  const read = Object.create(null) as Record<string, unknown>;
  for (const name of names) {
    if (holdsBelowObjectPrototype(options, name)) read[name] = (options as Record<string, unknown>)[name];
  }
  return read as T;
}

/** How {@link knownOptions} reads one options object. */
export interface KnownOptionsReading {
  /** How a message shows an unknown name (see {@link UnknownNameShown}). @default 'shown' */
  naming?: UnknownNameShown;
  /** For the fields of an option that is an object (`memo`), the option's name. */
  within?: string | undefined;
  /** The names for which `null` means something (Basic auth's "no username"). */
  nullable?: readonly string[];
}

/**
 * {@link assertKnownOptions}, then {@link ownOptions} of the known names.
 *
 * @param owner - the factory the options were given to, for the message.
 * @param reading - how unknown names are shown, the option the fields belong to, and the
 *   names that may be `null` (any other name given as `null` is refused).
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` for an unknown name, a `null` that is not in
 *   `nullable`, or a built-in object (a Date, an array) given as the options.
 *
 * @internal Shared with keyward's other entry points; not public API, and may change in any release.
 */
export function knownOptions<T extends object>(
  options: T,
  known: readonly string[],
  owner: string,
  { naming = 'shown', within, nullable = [] }: KnownOptionsReading = {},
): T {
  const builtIn = builtInKind(options);
  if (builtIn !== undefined) invalidOption(`${owner}: ${within ? `"${within}"` : 'the options'} must be an options object, not ${builtIn}.`);
  assertKnownOptions(options, known, owner, naming, within);
  const read = ownOptions(options, known);
  for (const name of known) {
    // `null` must not quietly mean "the default": `throttle: null` reads as "no throttle".
    if ((read as Record<string, unknown>)[name] === null && !nullable.includes(name)) {
      invalidOption(`${owner}: "${within ? `${within}.` : ''}${name}" is null: leave it out if it is optional, or give it a value (an option that can be turned off takes false, not null).`);
    }
  }
  return read;
}

/**
 * What kind of built-in object `value` is, when it is one no options object is (a Date, a Map,
 * an array, bytes), or undefined. A class instance of the app's own is an options object.
 */
function builtInKind(value: object): string | undefined {
  if (Array.isArray(value)) return 'an array';
  if (types.isDate(value)) return 'a Date';
  if (types.isRegExp(value)) return 'a RegExp';
  if (types.isMap(value) || types.isSet(value)) return 'a Map or a Set';
  if (types.isPromise(value)) return 'a promise';
  if (ArrayBuffer.isView(value) || types.isAnyArrayBuffer(value)) return 'bytes';
  return undefined;
}

/**
 * The names {@link ownOptions} would read when known: the object's own enumerable names, and
 * the enumerable names of its prototypes that are not functions. So a misspelt field on a
 * prototype of the caller's (`Object.create({ expires_at })`) is refused as an own one is,
 * while a class's methods are not names to check: not enumerable on a class, enumerable when
 * assigned to an ES5 constructor's prototype (or compiled to one).
 */
function enumerableNames(value: object): string[] {
  const names = Object.keys(value);
  for (const holder of prototypesOf(value)) {
    for (const name of Object.keys(holder)) {
      if (typeof Object.getOwnPropertyDescriptor(holder, name)?.value !== 'function') names.push(name);
    }
  }
  return names;
}

function holdsBelowObjectPrototype(value: object, name: string): boolean {
  return Object.hasOwn(value, name) || prototypesOf(value).some((holder) => Object.hasOwn(holder, name));
}

/**
 * The prototypes of `value` that are the app's own: every one up to a realm's
 * `Object.prototype` (this one's, or a `vm` context's), which is left out, as a name found
 * there is the app's only if something polluted it. An object without a prototype that the
 * app put in the chain is its own.
 */
function prototypesOf(value: object): object[] {
  const chain: object[] = [];
  for (let holder = Object.getPrototypeOf(value) as object | null; holder !== null; holder = Object.getPrototypeOf(holder) as object | null) {
    if (isObjectPrototype(holder)) break;
    chain.push(holder);
  }
  return chain;
}

/** Whether an object is some realm's `Object.prototype`: the prototype of its own `Object`. */
function isObjectPrototype(holder: object): boolean {
  if (holder === Object.prototype) return true;
  if (Object.getPrototypeOf(holder) !== null) return false;
  const constructor: unknown = Object.getOwnPropertyDescriptor(holder, 'constructor')?.value;
  return typeof constructor === 'function' && constructor.prototype === holder && constructor.name === 'Object';
}

/**
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` unless `value` is a plain object.
 *
 * @internal Shared with keyward's other entry points; not public API, and may change in any release.
 */
export function assertOptionsObject(value: unknown, factory: string): asserts value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalidOption(`${factory} expects an options object.`);
  }
}

/**
 * @param factory - the factory the option was given to; the message starts with it.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` unless `value` is an integer in range.
 *
 * @internal Shared with keyward's other entry points; not public API, and may change in any release.
 */
export function assertInteger(value: number, name: string, min: number, max: number, factory: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    invalidOption(`${factory}: "${name}" must be an integer from ${min} to ${max}.`);
  }
}

/** @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` unless `value` is a function or undefined. */
export function assertOptionalFunction(value: unknown, name: string, factory: string): void {
  if (value !== undefined && typeof value !== 'function') {
    invalidOption(`${factory}: "${name}" must be a function.`);
  }
}

/**
 * For a hook whose answer keyward needs at once (`clock`, `clientAddress`): a function or
 * undefined, but neither a class, which throws whenever it is called, nor an async function,
 * whose promise could be no answer (and whose rejection nobody would see).
 *
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` otherwise.
 */
export function assertOptionalSyncFunction(value: unknown, name: string, factory: string): void {
  assertOptionalFunction(value, name, factory);
  if (value === undefined) return;
  if (isClass(value as () => unknown)) invalidOption(`${factory}: "${name}" must be a function, not a class (a class cannot be called).`);
  const kind = (value as { constructor?: { name?: unknown } }).constructor?.name;
  if (kind === 'AsyncFunction' || kind === 'AsyncGeneratorFunction') {
    invalidOption(`${factory}: "${name}" must answer at once, not through a promise: pass a plain function.`);
  }
}

/** Whether a function is a class, which throws whenever it is called. */
export function isClass(fn: (...args: never[]) => unknown): boolean {
  try {
    return Function.prototype.toString.call(fn).startsWith('class');
  } catch {
    return false;
  }
}

/**
 * Checks a name that goes into a quoted HTTP header parameter (a realm): printable ASCII
 * without quotes or backslashes, so it can never break the header it is written into.
 *
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID`.
 */
export function assertHeaderParameter(value: unknown, name: string, factory: string): asserts value is string {
  const printable = typeof value === 'string' && /^[\x20-\x7e]{1,100}$/.test(value);
  if (!printable || /["\\]/.test(value as string)) {
    invalidOption(`${factory}: "${name}" must be 1 to 100 printable ASCII characters without quotes or backslashes.`);
  }
}

function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length]!;
}
