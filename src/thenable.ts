/**
 * Whether a value is a promise or any other thenable. Checked by shape, not with
 * `instanceof Promise`: promises from another realm, a library or a patched global are
 * thenables too, and taking one for a finished value would skip what it carries.
 *
 * @param value - anything.
 * @returns true when `value.then` is a function.
 */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}
