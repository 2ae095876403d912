import { isDate } from 'node:util/types';
import { ApiKeyAuthError } from './errors.js';
import type { Environment } from './key-format.js';
import { changedFields } from './row-change.js';
import type { ApiKeyRow, ApiKeyRowChange, KeyStore, KeyUsage } from './store.js';

/**
 * A {@link KeyStore} held in the process's memory: for the demo, tests and single-process
 * tools. Rows are copied in and out, so a caller cannot change a stored row by mutating what
 * it was given. Nothing survives a restart.
 *
 * @example
 * ```ts
 * const store = new MemoryKeyStore();
 * const auth = createApiKeyAuth({ store });
 * const manager = createKeyManager({ store });
 * ```
 */
export class MemoryKeyStore implements KeyStore {
  readonly #rows = new Map<string, ApiKeyRow>();
  readonly #idByLookupId = new Map<string, string>();
  /** Whether a row was ever stored with a Date outside its time columns (a field of its own). */
  #otherDatesStored = false;

  /**
   * Answers synchronously (see {@link KeyStore.findByLookupId}); the declared promise is for
   * subclasses that wait.
   */
  findByLookupId(lookupId: string): ApiKeyRow | null | Promise<ApiKeyRow | null> {
    const id = this.#idByLookupId.get(lookupId);
    // Read directly rather than through findById: this runs on every authentication.
    const row = id === undefined ? undefined : this.#rows.get(id);
    return row && isLive(row) ? this.#served(row) : null;
  }

  async findLive(accountId: string, environment: Environment): Promise<ApiKeyRow | null> {
    const row = this.#liveOf(accountId, environment);
    return row ? this.#served(row) : null;
  }

  async findById(id: string): Promise<ApiKeyRow | null> {
    const row = this.#rows.get(id);
    return row && isLive(row) ? this.#served(row) : null;
  }

  async insert(row: ApiKeyRow): Promise<void> {
    if (this.#rows.has(row.id)) {
      throw new ApiKeyAuthError('ERR_KEY_EXISTS', 'A key with this id already exists.', { status: 409 });
    }
    if (isLive(row) && this.#liveOf(row.account_id, row.environment)) {
      throw new ApiKeyAuthError(
        'ERR_KEY_EXISTS',
        'This account already has a live key in this environment; regenerate it instead.',
        { status: 409 },
      );
    }
    if (this.#idByLookupId.has(row.lookup_id)) {
      throw new ApiKeyAuthError('ERR_KEY_EXISTS', 'A key with this lookup id already exists.', { status: 409 });
    }
    this.#store(row.id, copy(row));
    this.#idByLookupId.set(row.lookup_id, row.id);
  }

  async modify(
    id: string,
    change: (current: ApiKeyRow) => ApiKeyRowChange | null,
  ): Promise<ApiKeyRow | null> {
    const row = this.#rows.get(id);
    if (!row || !isLive(row)) return null;

    // No await between the read and the write: the change is atomic on this event loop.
    const patch = change(this.#served(row));
    if (patch === null) return null;

    const next: ApiKeyRow = { ...row, ...copy(Object.fromEntries(changedFields(patch))) };
    const holder = this.#idByLookupId.get(next.lookup_id);
    if (holder !== undefined && holder !== id) {
      throw new ApiKeyAuthError('ERR_KEY_EXISTS', 'A key with this lookup id already exists.', { status: 409 });
    }
    this.#store(id, next);
    if (next.lookup_id !== row.lookup_id) {
      this.#idByLookupId.delete(row.lookup_id);
      this.#idByLookupId.set(next.lookup_id, id);
    }
    return this.#served(next);
  }

  async recordUsage(usage: readonly KeyUsage[]): Promise<void> {
    for (const { id, lookup_id, used_at } of usage) {
      const row = this.#rows.get(id);
      if (!row || !isLive(row) || row.lookup_id !== lookup_id) continue;
      if (row.last_used_at === null || row.last_used_at < used_at) {
        row.last_used_at = new Date(used_at);
      }
    }
  }

  /** Every row, live or not, copied: for tests and tools that inspect what was stored. */
  allRows(): ApiKeyRow[] {
    return [...this.#rows.values()].map((row) => this.#served(row));
  }

  #store(id: string, row: ApiKeyRow): void {
    if (hasDateOutsideTimeColumns(row)) this.#otherDatesStored = true;
    this.#rows.set(id, row);
  }

  /** A stored row as a caller gets it: an object of its own, with Dates of its own. */
  #served(row: ApiKeyRow): ApiKeyRow {
    return this.#otherDatesStored ? copy(row) : copyRow(row);
  }

  #liveOf(accountId: string, environment: Environment): ApiKeyRow | undefined {
    for (const row of this.#rows.values()) {
      if (row.account_id === accountId && row.environment === environment && isLive(row)) {
        return row;
      }
    }
    return undefined;
  }
}

function isLive(row: ApiKeyRow): boolean {
  return !row.soft_deleted && row.revoked_at === null;
}

// Rows are flat: strings, numbers, booleans, null and Dates. A spread (which V8 clones fast)
// with fresh Dates put in afterwards is several times faster than structuredClone or a
// field-by-field copy. Every own Date is copied, under a symbol key too.
function copy<T extends object>(value: T): T {
  const out = { ...value } as Record<string | symbol, unknown>;
  for (const name in out) {
    const field = out[name];
    // `for…in` also visits what a polluted Object.prototype holds: only own Dates are copied,
    // so a planted one never becomes a field. (Object.keys would allocate an array, and a
    // hasOwn on every field costs more than one on the Dates alone.)
    if (isAnyDate(field) && Object.hasOwn(out, name)) out[name] = copiedDate(field);
  }
  // The spread copied symbol keys too, which `for…in` never visits.
  for (const symbol of Object.getOwnPropertySymbols(out)) {
    const field = out[symbol];
    if (isAnyDate(field)) out[symbol] = copiedDate(field);
  }
  return out as T;
}

/** The columns of a row that hold a time. */
const TIME_COLUMNS: ReadonlySet<string> = new Set(['created_at', 'last_used_at', 'expires_at', 'revoked_at']);

function hasDateOutsideTimeColumns(row: ApiKeyRow): boolean {
  const fields = row as unknown as Record<string | symbol, unknown>;
  for (const name in fields) {
    if (!TIME_COLUMNS.has(name) && isAnyDate(fields[name]) && Object.hasOwn(fields, name)) return true;
  }
  return Object.getOwnPropertySymbols(fields).some((symbol) => isAnyDate(fields[symbol]));
}

/**
 * {@link copy} for a row whose only Dates are in its time columns: those four are copied by
 * name rather than by visiting every field, which saves about a tenth of a memo hit's
 * authentication. A Date is copied only where the row has it as its own field, so one planted
 * on a polluted Object.prototype never becomes a field.
 */
function copyRow(row: ApiKeyRow): ApiKeyRow {
  const out = { ...row };
  const { created_at, last_used_at, expires_at, revoked_at } = row;
  if (isAnyDate(created_at) && Object.hasOwn(row, 'created_at')) out.created_at = copiedDate(created_at);
  if (isAnyDate(last_used_at) && Object.hasOwn(row, 'last_used_at')) out.last_used_at = copiedDate(last_used_at);
  if (isAnyDate(expires_at) && Object.hasOwn(row, 'expires_at')) out.expires_at = copiedDate(expires_at);
  if (isAnyDate(revoked_at) && Object.hasOwn(row, 'revoked_at')) out.revoked_at = copiedDate(revoked_at);
  return out;
}

/**
 * Whether a field holds a Date: of this realm (the cheap test, first) or of another, such as a
 * `vm` context's, which `instanceof` does not see and which must be copied all the same.
 */
function isAnyDate(value: unknown): value is Date {
  return value instanceof Date || (typeof value === 'object' && value !== null && isDate(value));
}

/** A Date of this realm holding the same time, read from the Date itself, not its methods. */
function copiedDate(value: Date): Date {
  return new Date(Date.prototype.getTime.call(value));
}
