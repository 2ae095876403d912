/** What the store lookup gave instead of a row: the error, and whether it was the timeout. */
export class StoreFailure {
  readonly #brand = true;

  constructor(
    readonly cause: unknown,
    readonly timedOut = false,
  ) {}

  /**
   * Whether `value` is a StoreFailure. By brand, not `instanceof`, which would run a trap of
   * a Proxy row (and could throw from it).
   */
  static is(value: unknown): value is StoreFailure {
    return typeof value === 'object' && value !== null && #brand in value;
  }
}
