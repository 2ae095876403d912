import type { ApiKeyRowChange } from './store.js';
import { isThenable } from './thenable.js';

/** What a field holds: text, a boolean, or a point in time (a valid Date). */
type FieldKind = 'text' | 'boolean' | 'time';

// Every field a change may set, what it holds, and whether it may be set to null, listed as a
// record so that the compiler insists on each field of ApiKeyRowChange: a field added to the
// row type cannot be forgotten here. The required ones are NOT NULL in PostgreSQL.
const CHANGEABLE: Readonly<Record<keyof ApiKeyRowChange, { kind: FieldKind; nullable: boolean }>> = {
  key_type: { kind: 'text', nullable: false },
  status: { kind: 'text', nullable: false },
  last_used_at: { kind: 'time', nullable: true },
  expires_at: { kind: 'time', nullable: true },
  soft_deleted: { kind: 'boolean', nullable: false },
  revoked_at: { kind: 'time', nullable: true },
  lookup_id: { kind: 'text', nullable: false },
  key_hash: { kind: 'text', nullable: false },
  masked_key: { kind: 'text', nullable: false },
  webhook_url: { kind: 'text', nullable: true },
  webhook_basic_auth_username: { kind: 'text', nullable: true },
  webhook_basic_auth_password_sealed: { kind: 'text', nullable: true },
};

/**
 * The fields a `modify` change sets, checked the same way by every built-in store: the
 * change must give a plain object (not a promise: `modify` calls it without waiting) of
 * fields it may set, each of its own type (text, a boolean, a valid Date), and null only where
 * the row allows it. Every store then refuses the same changes: the memory store would
 * otherwise keep `soft_deleted: 'false'` (truthy, so the key dies) or a time given as text,
 * where PostgreSQL reads both as meant. The key's identity (`id`, `account_id`, `environment`, `created_at`) never
 * changes. Fields given as undefined are left as they are.
 *
 * @param patch - what the change function returned, not null.
 * @returns the fields to write, as name and value pairs.
 * @throws {TypeError} for anything else; a programming error in the change, never input.
 */
export function changedFields(patch: unknown): [keyof ApiKeyRowChange, unknown][] {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch) || isThenable(patch)) {
    throw new TypeError('modify: change must return an object of row fields or null');
  }
  const fields = Object.entries(patch).filter(([, value]) => value !== undefined);
  for (const [field, value] of fields) {
    if (!Object.hasOwn(CHANGEABLE, field)) throw new TypeError(`modify: "${field}" is not a field a change may set`);
    const { kind, nullable } = CHANGEABLE[field as keyof ApiKeyRowChange];
    if (value === null) {
      if (!nullable) throw new TypeError(`modify: "${field}" cannot be set to null`);
    } else if (!holds(kind, value)) {
      throw new TypeError(`modify: "${field}" must be ${KIND_NAMES[kind]}${nullable ? ' or null' : ''}`);
    }
  }
  return fields as [keyof ApiKeyRowChange, unknown][];
}

const KIND_NAMES: Readonly<Record<FieldKind, string>> = { text: 'a string', boolean: 'a boolean', time: 'a valid Date' };

function holds(kind: FieldKind, value: unknown): boolean {
  if (kind === 'text') return typeof value === 'string';
  if (kind === 'boolean') return typeof value === 'boolean';
  return value instanceof Date && !Number.isNaN(value.getTime());
}
