/** The earliest time keyward takes from a clock or stores: 1970-01-01T00:00:00.000Z. */
const MIN_STORABLE_TIME = Date.UTC(1970, 0, 1);
/**
 * The latest: 9999-12-31T23:59:59.999Z. Together with {@link MIN_STORABLE_TIME}, what
 * PostgreSQL's timestamptz and every store can hold.
 */
const MAX_STORABLE_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * The time a Date holds, as a plain Date of this realm, or undefined when it is not a Date
 * holding a time from {@link MIN_STORABLE_TIME} to {@link MAX_STORABLE_TIME}. An invalid Date
 * compares false with everything, so an expiry, a throttle window or a stored timestamp built
 * on one would silently stop meaning anything, and a time outside the range cannot be stored
 * (PostgreSQL refuses it, so every usage write would fail); callers fail closed instead.
 *
 * The time is read from the Date itself (`Date.prototype.getTime`, which reads the internal
 * time slot), never through the value's own methods, which a subclass or an own property
 * could make lie: `new (class extends Date { getTime() { return Date.now(); } })(NaN)` holds
 * no time at all. A Date from another realm (a `vm` context) is a Date like any other. The
 * copy returned is what callers compare and store, so a `valueOf` override cannot reach them
 * either.
 *
 * @param value - what a `clock()` returned, or a Date given as input.
 * @returns a new Date with the same time, or undefined.
 */
export function validTimeOf(value: unknown): Date | undefined {
  const time = dateTimeOf(value);
  return time !== undefined && isStorable(time) ? new Date(time) : undefined;
}

/** The clock keyward uses when the app gives none. */
export function systemClock(): Date {
  return new Date();
}

/**
 * The time `clock()` gives, in milliseconds, read as {@link validTimeOf} reads it, or
 * undefined. The system clock needs no such distrust (its Date is of this realm, made just
 * now, with no methods of its own), so only its range is checked and no Date is made: this
 * runs on every successful authentication and every attempt the throttle counts.
 *
 * @param clock - the app's clock, or {@link systemClock}.
 */
function millisFromClock(clock: () => Date): number | undefined {
  if (clock !== systemClock) return validTimeOf(clock())?.getTime();
  const now = Date.now();
  return isStorable(now) ? now : undefined;
}

function isStorable(time: number): boolean {
  return time >= MIN_STORABLE_TIME && time <= MAX_STORABLE_TIME;
}

/**
 * The time a Date holds, in milliseconds, read from its internal time slot (so from any
 * realm, and whatever its own methods say), or undefined for anything that is not a Date
 * holding a time.
 *
 * @param value - any value.
 */
function dateTimeOf(value: unknown): number | undefined {
  let time: number;
  try {
    // Throws a TypeError for anything without a Date's internal time slot.
    time = Date.prototype.getTime.call(value);
  } catch {
    return undefined;
  }
  return Number.isNaN(time) ? undefined : time;
}

// A date, a time and a zone, as ISO 8601 / RFC 3339 write them (`T` or `t`, `Z` or `z`) and as
// PostgreSQL writes a timestamptz as text (a space, an offset of hours alone): a custom store
// or a `pg` type parser may hand either over. Without the zone the moment would depend on the
// server's time zone, so text without one is refused, as is anything looser (`new Date()`
// reads "1" as a year).
const STORED_TIME =
  /^(?<year>\d{4})-(?<month>\d{2})-(?<day>\d{2})[Tt ](?<hour>\d{2}):(?<minute>\d{2})(?::(?<second>\d{2})(?:\.(?<fraction>\d+))?)?(?:[Zz]|(?<sign>[+-])(?<offsetHours>\d{2})(?::?(?<offsetMinutes>\d{2}))?)$/;

/**
 * A stored `expires_at`'s time in milliseconds (the one time column keyward reads this way):
 * a Date holding a time (from any realm), or text with a date, a time and a zone (see
 * STORED_TIME) naming a real calendar moment; undefined for anything else (a row check
 * refuses it). A day the month does not have (February 31st) is refused rather than carried
 * into the next month, a leap second reads as the second before it, 24:00:00 as the next
 * midnight, and digits past the millisecond are cut off.
 *
 * @param value - a row's `expires_at`, not null.
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

/**
 * Where a row's expiry stands at `now`, for the authenticator and the key manager alike.
 * `unreadable` is a custom store's value keyward cannot read as a moment. No request passes
 * with it: the authenticator's row check refuses such a row with 500 `ERR_STORED_ROW_INVALID`
 * before the expiry is compared, so the authenticator never gets `unreadable` from this
 * function (it would refuse the key as expired, 403, if it did). Nothing may treat it as
 * passed and lift it: regenerate keeps it. The portal card shows an `allowed` key with it as
 * EXPIRED.
 *
 * @param when - a row's `expires_at`.
 * @param nowMs - the clock's time, in milliseconds.
 */
export function expiryState(when: unknown, nowMs: number): 'none' | 'ahead' | 'passed' | 'unreadable' {
  if (when === null) return 'none';
  const time = storedTimeOf(when);
  if (time === undefined) return 'unreadable';
  return time > nowMs ? 'ahead' : 'passed';
}

/**
 * The clock's time in milliseconds, or a throw (a 500 for the request) when it gives no valid
 * Date: every expiry comparison and every throttle window would silently come out false,
 * letting expired keys and unlimited forgeries through.
 */
export function validMillis(clock: () => Date): number {
  const now = millisFromClock(clock);
  if (now === undefined) throw new TypeError('clock() returned no valid Date');
  return now;
}
