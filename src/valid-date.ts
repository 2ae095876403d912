/**
 * Whether a clock's answer is a Date holding a real time. An invalid Date compares false with
 * everything, so an expiry, a throttle window or a stored timestamp built on one would
 * silently stop meaning anything; callers fail closed instead.
 *
 * @param value - what a `clock()` returned.
 */
export function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}
