import { ApiKeyAuthError } from './errors.js';
import { UNSAFE_IDENTIFIER_TEXT } from './identifier-text.js';
import { holdsApiKey } from './api-key-text.js';
import { ENVIRONMENTS, type Environment } from './key-format.js';
import { isIssuableKeyType } from './key-type.js';
import { ownOptions, unknownOptionMessage } from './options.js';
import { KEY_STATUSES, normalizeStatus, type KeyStatus, type KeyStatusInput } from './statuses.js';
import { validTimeOf } from './valid-date.js';

/** Input of {@link KeyManager.issue}. */
export interface IssueKeyInput {
  accountId: string;
  environment: Environment;
  /** @default the manager's `defaultKeyType` */
  keyType?: string | undefined;
  /** Initial status (`revoked` is stored as `revoqued`). @default 'allowed' */
  status?: KeyStatusInput | undefined;
  /** Hard expiry, if any. */
  expiresAt?: Date | null | undefined;
}

/** The property names {@link KeyManager.issue} reads; any other is a misspelling. */
const ISSUE_INPUT_NAMES: readonly (keyof IssueKeyInput)[] = [
  'accountId',
  'environment',
  'keyType',
  'status',
  'expiresAt',
];

/**
 * The `issue` input, each property read exactly once (a getter cannot pass the checks with
 * one value and be stored with another) and checked, with `expiresAt` as a new plain Date.
 */
export function checkedIssueInput(given: IssueKeyInput): IssueKeyInput & { status: KeyStatus | undefined; expiresAt: Date | null } {
  if (typeof given === 'object' && given !== null) {
    const unknown = unknownOptionMessage(given, ISSUE_INPUT_NAMES, 'issue');
    if (unknown !== undefined) throw invalidArgument(unknown);
  }
  const { accountId, environment, keyType, status, expiresAt } = ownOptions(given ?? ({} as Partial<IssueKeyInput>), ISSUE_INPUT_NAMES);
  assertAccountId(accountId);
  assertEnvironment(environment);
  if (keyType !== undefined) assertKeyType(keyType, 'keyType');
  return {
    accountId,
    environment,
    keyType,
    status: status === undefined ? undefined : checkedStatus(status),
    expiresAt: expiresAt == null ? null : checkedExpiry(expiresAt),
  };
}

/**
 * A status the manager may write, spelled as stored: `revoked` becomes `revoqued`, as the
 * authenticator and the card read it; any other value outside the seven (another letter case,
 * `null`) is refused.
 */
export function checkedStatus(value: unknown): KeyStatus {
  const status = normalizeStatus(value);
  if (status === undefined) {
    throw invalidArgument(`status must be one of ${KEY_STATUSES.join(', ')} (or revoked, stored as revoqued)`);
  }
  return status;
}

export function assertEnvironment(value: unknown): asserts value is Environment {
  if (!ENVIRONMENTS.includes(value as Environment)) {
    throw invalidArgument('environment must be "production" or "sandbox"');
  }
}

/** Longest key id or account id keyward sends to a store. */
const MAX_ID_LENGTH = 200;

/**
 * An account id is what the store indexes one live key per environment on, so two different
 * ids must stay different once stored, and look different: none of {@link UNSAFE_IDENTIFIER_TEXT},
 * no whitespace at either end (so none made only of it).
 */
export function assertAccountId(value: unknown): asserts value is string {
  // Only text of an id's length is searched for a key (the search costs time in the length);
  // longer text is refused below, before any store sees it.
  if (typeof value === 'string' && value.length <= MAX_ID_LENGTH) assertNotAnApiKey(value, 'accountId');
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_ID_LENGTH ||
    value.trim() !== value ||
    UNSAFE_IDENTIFIER_TEXT.test(value) ||
    // One spelling per id: `é` may also be `e` and a combining accent, which looks the same.
    value.normalize('NFC') !== value
  ) {
    throw invalidArgument(
      'accountId must be a string of 1 to 200 characters without whitespace at either end, of well-formed Unicode in normalization form C without control, invisible or line-separator characters',
    );
  }
}

/**
 * The expiry as a new plain Date. The time is read from the Date's own slot, not through a
 * `getTime` a subclass may override, and anything that is not a real Date is refused.
 */
function checkedExpiry(value: unknown): Date {
  const time = validTimeOf(value);
  if (time === undefined) {
    throw invalidArgument(
      'expiresAt must be null or a valid Date from 1970-01-01T00:00:00.000Z through 9999-12-31T23:59:59.999Z',
    );
  }
  return time;
}

/**
 * Whether a value could be the id of a stored key. Deliberately loose (rows written by other
 * tools need not look like `key_` + base62): it only keeps out what no store can look up
 * safely, which then reads as an unknown id.
 */
export function isPossibleKeyId(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_ID_LENGTH &&
    !UNSAFE_IDENTIFIER_TEXT.test(value)
  );
}

/**
 * Refuses an API key given where an id goes (whole, after `Bearer `, a piece starting with its
 * prefix, or its body alone, which its checksum tells apart), before any store sees it: the
 * cleartext would otherwise go to the store as a query parameter (and into a database's
 * statement log), only to be answered "no such key". Pasting the key is what someone about to
 * revoke a leaked key is likely to do.
 *
 * @param value - the argument as given.
 * @param name - the argument's name, for the message (which never holds the value) and its advice.
 * @throws {ApiKeyAuthError} `ERR_INVALID_ARGUMENT` when the value holds an API key.
 */
export function assertNotAnApiKey(value: unknown, name: 'keyId' | 'accountId'): void {
  if (typeof value === 'string' && holdsApiKey(value)) {
    throw invalidArgument(`${name} holds an API key, not an id; it was not sent to the store. ${WHAT_GOES_THERE[name]}`);
  }
}

// The advice of assertNotAnApiKey's message, for each argument it guards.
const WHAT_GOES_THERE = {
  keyId: `Pass the key's id (a card's keyId); README: "A key's id, from the key itself"`,
  accountId: "Pass the account's id: the accountId given to issue, or an authenticated request's apiKey.accountId",
};

function assertKeyType(value: unknown, name: string): void {
  if (!isIssuableKeyType(value)) {
    throw invalidArgument(`${name} must be 1 to 64 lower-case letters, digits or "_"`);
  }
}

/** A manager method's argument value it cannot use; the message names the argument, never its value. */
export function invalidArgument(message: string): ApiKeyAuthError {
  return new ApiKeyAuthError('ERR_INVALID_ARGUMENT', message, { status: 400, expose: true });
}
