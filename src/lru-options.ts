import { LRUCache } from 'lru-cache';

// lru-cache reads every option it is not given through the prototype chain (defaults in a
// destructuring), so a value planted on Object.prototype would reach it: a `ttl` that expires
// every entry at once turns the memo and the attempt throttle off. Its options are therefore
// given on objects without a prototype, at construction and on every call.

/** Options for every `get`, `set` and `has`: none, on an object without a prototype. */
export const NO_LRU_CALL_OPTIONS = Object.freeze(Object.create(null) as Record<string, never>);

/**
 * A bounded LRU whose options are exactly `bounds`: nothing else is read from anywhere.
 *
 * @param bounds - `max`, and `maxSize` with `sizeCalculation` where entries are weighed.
 */
export function boundedLru<V extends {}>(bounds: LRUCache.Options<string, V, unknown>): LRUCache<string, V> {
  return new LRUCache<string, V>(Object.assign(Object.create(null) as LRUCache.Options<string, V, unknown>, bounds));
}
