import { LRUCache } from 'lru-cache';

// lru-cache reads every option it is not given through the prototype chain (defaults in a
// destructuring), so a value planted on Object.prototype would reach it: a `ttl` that expires
// every entry at once turns the memo and the attempt throttle off. Its options are therefore
// given on an object without a prototype at construction, and on every call on an object
// that holds each option a call reads (lru-cache 11) as its own, left undefined so that
// lru-cache's own defaults apply. (An object without a prototype would do as well, but V8
// keeps it in its slower dictionary mode, and these calls run on every authentication.)

/** Options for every `get`, `set` and `has`: each one they read, none set. */
export const NO_LRU_CALL_OPTIONS = Object.freeze({
  status: undefined,
  allowStale: undefined,
  updateAgeOnGet: undefined,
  noDeleteOnStaleGet: undefined,
  updateAgeOnHas: undefined,
  ttl: undefined,
  start: undefined,
  noDisposeOnSet: undefined,
  sizeCalculation: undefined,
  noUpdateTTL: undefined,
  size: undefined,
});

/**
 * A bounded LRU whose options are exactly `bounds`: nothing else is read from anywhere.
 *
 * @param bounds - `max`, and `maxSize` with `sizeCalculation` where entries are weighed.
 */
export function boundedLru<V extends {}>(bounds: LRUCache.Options<string, V, unknown>): LRUCache<string, V> {
  return new LRUCache<string, V>(Object.assign(Object.create(null) as LRUCache.Options<string, V, unknown>, bounds));
}
