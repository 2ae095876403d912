import type { ApiKeyRowChange } from './store.js';
import { isThenable } from './thenable.js';

// Every field a change may set, and whether it may be set to null, listed as a record so that
// the compiler insists on each field of ApiKeyRowChange: a field added to the row type cannot
// be forgotten here. The required ones are NOT NULL in PostgreSQL.
const CHANGEABLE: Readonly<Record<keyof ApiKeyRowChange, 'nullable' | 'required'>> = {
  key_type: 'required',
  status: 'required',
  last_used_at: 'nullable',
  expires_at: 'nullable',
  soft_deleted: 'required',
  revoked_at: 'nullable',
  lookup_id: 'required',
  key_hash: 'required',
  masked_key: 'required',
  webhook_url: 'nullable',
  webhook_basic_auth_username: 'nullable',
  webhook_basic_auth_password_sealed: 'nullable',
};

/**
 * The fields a `modify` change sets, checked the same way by every built-in store: the
 * change must give a plain object (not a promise: `modify` calls it without waiting) of
 * fields it may set, and null only where the row allows it (every store then refuses the same
 * changes); the key's identity (`id`, `account_id`, `environment`, `created_at`) never
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
    if (value === null && CHANGEABLE[field as keyof ApiKeyRowChange] === 'required') {
      throw new TypeError(`modify: "${field}" cannot be set to null`);
    }
  }
  return fields as [keyof ApiKeyRowChange, unknown][];
}
