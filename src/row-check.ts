import { ENVIRONMENTS } from './key-format.js';
import type { ApiKeyRow } from './store.js';
import { dateTimeOf } from './valid-date.js';

/** What is wrong with a row a store returned, or `not_live` for one it should have hidden. */
export type RowProblem =
  | 'not_live'
  | 'not_an_object'
  | 'bad_lifecycle_fields'
  | 'bad_id'
  | 'bad_account_id'
  | 'bad_key_type'
  | 'bad_environment'
  | 'lookup_id_mismatch'
  | 'bad_expires_at';

/** The fields of a row the authenticator reads, each read from the store's row exactly once. */
export type RowView = Pick<
  ApiKeyRow,
  'id' | 'account_id' | 'key_type' | 'status' | 'environment' | 'lookup_id' | 'key_hash' | 'expires_at' | 'soft_deleted' | 'revoked_at'
>;

/**
 * Copies the fields the authenticator reads out of a row a store returned, each read once, so
 * every step of a request sees the same values even when a custom store's row computes them
 * (getters, a Proxy, an ORM's lazy fields). Whatever reading them throws, the caller treats as
 * the store's fault.
 *
 * @param row - what the store returned: an object, or anything else for {@link checkRow} to refuse.
 * @returns the copy, or `row` itself when it is not an object.
 */
export function readRow(row: unknown): RowView {
  if (typeof row !== 'object' || row === null) return row as RowView;
  const { id, account_id, key_type, status, environment, lookup_id, key_hash, expires_at, soft_deleted, revoked_at } = row as RowView;
  return { id, account_id, key_type, status, environment, lookup_id, key_hash, expires_at, soft_deleted, revoked_at };
}

/**
 * Checks a row from a store before it is trusted: a custom store may return rows with
 * missing fields or values of the wrong type, and none of that may turn into a pass. The
 * status and the hash are checked later, in their own steps.
 *
 * @param row - what the store returned for `lookupId`, as {@link readRow} copied it.
 */
export function checkRow(row: RowView, lookupId: string): RowProblem | undefined {
  if (typeof row !== 'object' || row === null) return 'not_an_object';
  // Deleted and revoked rows are refused exactly like unknown ones, even if a store forgot
  // to filter them out.
  if (row.soft_deleted === true || (row.revoked_at !== null && row.revoked_at !== undefined)) {
    return 'not_live';
  }
  if (row.soft_deleted !== false || row.revoked_at !== null) return 'bad_lifecycle_fields';
  if (!isNonEmptyString(row.id)) return 'bad_id';
  if (!isNonEmptyString(row.account_id)) return 'bad_account_id';
  if (!isNonEmptyString(row.key_type)) return 'bad_key_type';
  if (!ENVIRONMENTS.includes(row.environment)) return 'bad_environment';
  if (row.lookup_id !== lookupId) return 'lookup_id_mismatch';
  if (row.expires_at !== null && storedTimeOf(row.expires_at) === undefined) {
    return 'bad_expires_at';
  }
  return undefined;
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

// A date, a time and a zone, as ISO 8601 / RFC 3339 write them (`T` or `t`, `Z` or `z`) and as
// PostgreSQL writes a timestamptz as text (a space, an offset of hours alone): a custom store
// or a `pg` type parser may hand either over. Without the zone the moment would depend on the
// server's time zone, so text without one is refused, as is anything looser (`new Date()`
// reads "1" as a year).
const STORED_TIME =
  /^(?<year>\d{4})-(?<month>\d{2})-(?<day>\d{2})[Tt ](?<hour>\d{2}):(?<minute>\d{2})(?::(?<second>\d{2})(?:\.(?<fraction>\d+))?)?(?:[Zz]|(?<sign>[+-])(?<offsetHours>\d{2})(?::?(?<offsetMinutes>\d{2}))?)$/;

/**
 * A stored timestamp's time in milliseconds (`expires_at` and the other time columns): a Date
 * holding a time (from any realm), or text
 * with a date, a time and a zone (see STORED_TIME) naming a real calendar moment; undefined
 * for anything else, which {@link checkRow} refuses. A day the month does not have (February
 * 31st) is refused rather than carried into the next month, a leap second reads as the second
 * before it, 24:00:00 as the next midnight, and digits past the millisecond are cut off.
 *
 * @param value - a row's `expires_at` or other time column, not null.
 */
export function storedTimeOf(value: unknown): number | undefined {
  if (typeof value !== 'string') return dateTimeOf(value);
  const written = STORED_TIME.exec(value)?.groups;
  if (written === undefined) return undefined;
  const number = (name: string) => Number(written[name] ?? 0);
  const [year, month, day, hour, minute, second] = ['year', 'month', 'day', 'hour', 'minute', 'second'].map(number) as [number, number, number, number, number, number];
  const fraction = written.fraction ?? '';
  const offsetMinutes = number('offsetHours') * 60 + number('offsetMinutes');

  const midnightAfter = hour === 24 && minute === 0 && second === 0 && !/[1-9]/.test(fraction);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if ((hour > 23 && !midnightAfter) || minute > 59 || second > 60) return undefined;
  if (number('offsetHours') > 23 || number('offsetMinutes') > 59) return undefined;

  const time = new Date(0);
  time.setUTCFullYear(year, month - 1, day); // unlike Date.UTC, years 0 to 99 stay themselves
  time.setUTCHours(hour, minute, Math.min(second, 59), Number(fraction.slice(0, 3).padEnd(3, '0')));
  return time.getTime() - (written.sign === '-' ? -offsetMinutes : offsetMinutes) * 60_000;
}

function daysInMonth(year: number, month: number): number {
  // Day 0 of the next month is this month's last day.
  const last = new Date(0);
  last.setUTCFullYear(year, month, 0);
  return last.getUTCDate();
}
