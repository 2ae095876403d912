/**
 * The time a clock's answer holds, as a plain Date of this realm, or undefined when it is not
 * a Date holding a real time. An invalid Date compares false with everything, so an expiry, a
 * throttle window or a stored timestamp built on one would silently stop meaning anything;
 * callers fail closed instead.
 *
 * The time is read from the Date itself (`Date.prototype.getTime`, which reads the internal
 * time slot), never through the value's own methods, which a subclass or an own property
 * could make lie: `new (class extends Date { getTime() { return Date.now(); } })(NaN)` holds
 * no time at all. A Date from another realm (a `vm` context) is a Date like any other. The
 * copy returned is what callers compare and store, so a `valueOf` override cannot reach them
 * either.
 *
 * @param value - what a `clock()` returned.
 * @returns a new Date with the same time, or undefined.
 */
export function validTimeOf(value: unknown): Date | undefined {
  let time: number;
  try {
    // Throws a TypeError for anything without a Date's internal time slot.
    time = Date.prototype.getTime.call(value);
  } catch {
    return undefined;
  }
  return Number.isNaN(time) ? undefined : new Date(time);
}
