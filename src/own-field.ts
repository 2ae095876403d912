/**
 * A field of an object keyward built itself (error options, a refusal's parts), or undefined
 * when the object does not hold it: a field left out is not read from a polluted
 * `Object.prototype`.
 */
export function ownField<T extends object, K extends keyof T>(object: T, name: K): T[K] | undefined {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}
