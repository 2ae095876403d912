import { changeNotCalled, type CheckedWrite } from './written-row.js';

/**
 * One `change` handed to a store's `modify`, and what came of it: the patch it returned, or
 * what it threw. A row the store gives back is only as good as the patch behind it, so a
 * store that never called `change`, or that caught what it threw and wrote nothing, must not
 * pass for one that wrote.
 */
export class ChangeCall<Row extends object, Patch extends object> {
  /** Whether the store called `change` at all (it hands over the row only then). */
  ran = false;
  /** What the last call of `change` returned; undefined until one returns, and while a later one throws. */
  patch: Patch | undefined;
  /** Every patch a call of `change` returned, first to last: a store that ran its transaction again may have landed any. */
  readonly patches: Patch[] = [];
  /**
   * The first patch a call of `change` returned, with the values its fields held in the row
   * handed over with it: what the write set out to change, read at once, so that a store that
   * changes the object it handed over (an ORM's entity, assigned the patch before its save
   * fails) does not change them here, and a row whose fields are getters is read as any other.
   * The first, since a later call (a retried transaction) may be handed the row as another
   * request left it.
   */
  first: { patch: Patch; before: Partial<Row> } | undefined;
  #thrown: { error: unknown } | undefined;

  /** @param make - makes the patch from the row as the store hands it over; may throw to abort. */
  constructor(private readonly make: (current: Row) => Patch) {}

  /** The function to hand to `modify`. A store may call it again (a retried transaction). */
  readonly change = (current: Row): Patch => {
    this.ran = true;
    this.patch = undefined;
    this.#thrown = undefined;
    try {
      const patch = this.make(current);
      this.first ??= { patch, before: valuesOf(current, Object.keys(patch)) };
      this.patches.push(patch);
      return (this.patch = patch);
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

/** The values the named fields of `row` hold now. */
function valuesOf<Row extends object>(row: Row, names: readonly string[]): Partial<Row> {
  return Object.fromEntries(names.map((name) => [name, (row as Record<string, unknown>)[name]])) as Partial<Row>;
}
