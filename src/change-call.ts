import { changeNotCalled, type CheckedWrite } from './written-row.js';

/**
 * One `change` handed to a store's `modify`, and what came of it: the patch it returned, or
 * what it threw. A row the store gives back is only as good as the patch behind it, so a
 * store that never called `change`, or that caught what it threw and wrote nothing, must not
 * pass for one that wrote.
 */
export class ChangeCall<Row extends object, Patch> {
  /** Whether the store called `change` at all (it hands over the row only then). */
  ran = false;
  /** What the last call of `change` returned; undefined until one returns. */
  patch: Patch | undefined;
  /**
   * A copy of the row the store handed to the first call of `change`: the row the write set
   * out to change. A copy, so that a store that changes the object it handed over (an ORM's
   * entity, assigned the patch before its save fails) does not change it here; the first,
   * since a later call (a retried transaction) may be handed the row as another request left it.
   */
  firstHandedOver: Row | undefined;
  #thrown: { error: unknown } | undefined;

  /** @param make - makes the patch from the row as the store hands it over; may throw to abort. */
  constructor(private readonly make: (current: Row) => Patch) {}

  /** The function to hand to `modify`. A store may call it again (a retried transaction). */
  readonly change = (current: Row): Patch => {
    if (!this.ran) this.firstHandedOver = { ...current };
    this.ran = true;
    this.patch = undefined;
    this.#thrown = undefined;
    try {
      return (this.patch = this.make(current));
    } catch (error) {
      this.#thrown = { error };
      throw error;
    }
  };

  /**
   * The patch behind a row the store gave back as written.
   *
   * @throws what `change` threw, when the store swallowed it (the call's own refusal, such
   *   as a conflict, stands); `ERR_STORED_ROW_INVALID` when `change` was never called.
   */
  patchOf(verb: CheckedWrite): Patch {
    this.rethrow();
    if (this.patch === undefined) throw changeNotCalled(verb);
    return this.patch;
  }

  /**
   * Throws what the last call of `change` threw, if it threw: for a store that swallowed it
   * and answered, with a row or with null, as if nothing had been refused.
   */
  rethrow(): void {
    if (this.#thrown !== undefined) throw this.#thrown.error;
  }
}
