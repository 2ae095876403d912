import type { ApiKeyRowChange } from './store.js';
import { isThenable } from './thenable.js';

// Every field a change may set, listed as a record so that the compiler insists on each
// field of ApiKeyRowChange: a field added to the row type cannot be forgotten here.
const CHANGEABLE: Readonly<Record<keyof ApiKeyRowChange, true>> = {
  key_type: true,
  status: true,
  last_used_at: true,
  expires_at: true,
  soft_deleted: true,
  revoked_at: true,
  lookup_id: true,
  key_hash: true,
  masked_key: true,
  webhook_url: true,
  webhook_basic_auth_username: true,
  webhook_basic_auth_password_sealed: true,
};

/**
 * The fields a `modify` change sets, checked the same way by every built-in store: the
 * change must give a plain object (not a promise: `modify` calls it without waiting) of
 * fields it may set; the key's identity (`id`, `account_id`, `environment`, `created_at`)
 * never changes. Fields given as undefined are left as they are.
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
  for (const [field] of fields) {
    if (!Object.hasOwn(CHANGEABLE, field)) throw new TypeError(`modify: "${field}" is not a field a change may set`);
  }
  return fields as [keyof ApiKeyRowChange, unknown][];
}
