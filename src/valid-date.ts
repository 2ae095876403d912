/** The earliest time keyward takes from a clock or stores: 1970-01-01T00:00:00.000Z. */
export const MIN_STORABLE_TIME = Date.UTC(1970, 0, 1);
/**
 * The latest: 9999-12-31T23:59:59.999Z. Together with {@link MIN_STORABLE_TIME}, what
 * PostgreSQL's timestamptz and every store can hold.
 */
export const MAX_STORABLE_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

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
  return time !== undefined && time >= MIN_STORABLE_TIME && time <= MAX_STORABLE_TIME ? new Date(time) : undefined;
}

/**
 * The time a Date holds, in milliseconds, read from its internal time slot (so from any
 * realm, and whatever its own methods say), or undefined for anything that is not a Date
 * holding a time.
 *
 * @param value - any value.
 */
export function dateTimeOf(value: unknown): number | undefined {
  let time: number;
  try {
    // Throws a TypeError for anything without a Date's internal time slot.
    time = Date.prototype.getTime.call(value);
  } catch {
    return undefined;
  }
  return Number.isNaN(time) ? undefined : time;
}
