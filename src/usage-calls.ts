// How a usage flush cuts its uses into `recordUsage` calls, and reads a store's answer to one.
import { ownField } from './own-field.js';
import type { KeyUsage, RecordUsageResult } from './store.js';

/**
 * The most uses one `recordUsage` call carries; a flush of more makes several calls, one after
 * another. A store must write every use of a call this large (the conformance suite sends one). Without a bound, the time of the one call grew with the keys in use: on PostgreSQL
 * a call is one transaction bounded by `statementTimeoutMs` (2 s by default), and a flush of
 * 200,000 keys (about 5 s) failed every time. 1,000 uses take tens of milliseconds there: a
 * median of 13 to 41 ms in repeated runs, the slowest 209 ms, on a 2-core machine with a load
 * average of 3 to 8.
 */
export const USAGE_BATCH_LIMIT = 1_000;

/** One key's latest use, waiting for the next flush. */
export interface NotedUse {
  keyId: string;
  lookupId: string;
  usedAtMs: number;
}

/**
 * The calls that write `uses`: first the uses of keys whose last call did not fail, in calls
 * of {@link USAGE_BATCH_LIMIT}, then those of keys in `suspects`, each call half the size of
 * the one its first use failed in. So two calls the store keeps refusing cannot end every
 * flush before the rest is written, and each failure narrows down the use it refuses.
 *
 * @param uses - the uses to write, in the order they were noted.
 * @param suspects - key ids whose last call failed, with that call's size.
 * @returns the calls, in the order to make them.
 */
export function callsFor(uses: readonly NotedUse[], suspects: ReadonlyMap<string, number>): NotedUse[][] {
  const calls: NotedUse[][] = [];
  const suspect: NotedUse[] = [];
  let fresh: NotedUse[] = [];
  for (const use of uses) {
    if (suspects.has(use.keyId)) suspect.push(use);
    else if (fresh.push(use) === USAGE_BATCH_LIMIT) {
      calls.push(fresh);
      fresh = [];
    }
  }
  if (fresh.length > 0) calls.push(fresh);
  for (let start = 0; start < suspect.length; ) {
    const size = Math.ceil(suspects.get(suspect[start]!.keyId)! / 2);
    calls.push(suspect.slice(start, start + size));
    start += size;
  }
  return calls;
}

/**
 * The uses of `batch` that a store's result names as deferred. A custom store may resolve to
 * anything (nothing, its driver's result): only an own `deferred` array counts, and only its
 * entries that match a use of the batch, so a store cannot make up uses to be sent again.
 */
export function deferredOf(batch: readonly NotedUse[], result: unknown): NotedUse[] {
  const named = new Set<string>();
  try {
    if (typeof result !== 'object' || result === null) return [];
    const entries = ownField(result as RecordUsageResult, 'deferred');
    if (!Array.isArray(entries)) return [];
    for (const entry of entries as unknown[]) {
      if (typeof entry !== 'object' || entry === null) continue;
      const { id, lookup_id: lookupId } = entry as Partial<KeyUsage>;
      if (typeof id === 'string' && typeof lookupId === 'string') named.add(usePair(id, lookupId));
    }
  } catch {
    // A result whose fields throw when read (a Proxy, a getter) defers nothing.
    return [];
  }
  return named.size === 0 ? [] : batch.filter((use) => named.has(usePair(use.keyId, use.lookupId)));
}

/**
 * A use's key id and lookup id as one Set entry, the identity a store's `deferred` answer is
 * matched by; JSON keeps any two pairs apart.
 */
export function usePair(keyId: string, lookupId: string): string {
  return JSON.stringify([keyId, lookupId]);
}

