import { describe, expect, it } from 'vitest';
import { KEY_STATUSES, MemoryKeyStore, type ApiKeyRow, type ApiKeyRowChange } from 'keyward';
import { runStoreConformance, type StoreConformanceOptions } from 'keyward/store-conformance';

// Stores with the faults a team's own store has been seen to have, each passing the suite as
// it was before these tests. The suite is run on each through a runner that collects its
// tests, and each store must fail the ones named.

/** A conformance test as the suite registered it: its titles joined, and its body. */
interface CollectedTest {
  title: string;
  run: () => Promise<void>;
}

/** Registers the suite for `createStore` without a peer and returns its tests. */
function collectSuite(createStore: () => MemoryKeyStore): CollectedTest[] {
  const tests: CollectedTest[] = [];
  const path: string[] = [];
  const options: StoreConformanceOptions<MemoryKeyStore> = {
    name: 'faulty store',
    createStore,
    readAllRows: (store) => store.allRows(),
    raceRounds: 1,
    // Run without a peer on purpose (the faults are a store's own); no warning wanted.
    singleProcess: true,
  };
  runStoreConformance(
    {
      describe: (name, body) => {
        path.push(name);
        body();
        path.pop();
      },
      it: (name, run) => tests.push({ title: [...path.slice(1), name].join(' > '), run }),
    },
    options,
  );
  return tests;
}

/** The titles of the suite's tests that `createStore`'s stores fail. */
async function failedTests(createStore: () => MemoryKeyStore): Promise<string[]> {
  const failed: string[] = [];
  for (const test of collectSuite(createStore)) {
    try {
      await test.run();
    } catch {
      failed.push(test.title);
    }
  }
  return failed;
}

type Finder = 'findByLookupId' | 'findById' | 'findLive';

/**
 * A store that keeps each row one of its find methods found, per instance, and hands it out
 * again without asking the storage: a revoked, suspended or regenerated key would keep
 * authenticating wherever such a cache lives.
 */
class CachingStore extends MemoryKeyStore {
  readonly #cache = new Map<string, ApiKeyRow>();

  constructor(readonly cached: Finder) {
    super();
  }

  override findByLookupId(lookupId: string) {
    return this.cached === 'findByLookupId' ? this.#cachedRead(lookupId, () => super.findByLookupId(lookupId)) : super.findByLookupId(lookupId);
  }

  override findById(id: string) {
    return this.cached === 'findById' ? this.#cachedRead(id, () => super.findById(id)) : super.findById(id);
  }

  override findLive(accountId: string, environment: ApiKeyRow['environment']) {
    const key = `${accountId}\n${environment}`;
    return this.cached === 'findLive' ? this.#cachedRead(key, () => super.findLive(accountId, environment)) : super.findLive(accountId, environment);
  }

  async #cachedRead(key: string, read: () => ApiKeyRow | null | Promise<ApiKeyRow | null>): Promise<ApiKeyRow | null> {
    if (!this.#cache.has(key)) {
      const found = await read();
      if (!found) return null;
      this.#cache.set(key, found);
    }
    return structuredClone(this.#cache.get(key)!);
  }
}

/**
 * A store whose modify leaves some values alone, as a hand-written UPDATE with a fixed column
 * list does, or a status column that cannot hold every status: `drops` says which.
 */
class DroppingStore extends MemoryKeyStore {
  constructor(readonly drops: (field: keyof ApiKeyRowChange, value: unknown) => boolean) {
    super();
  }

  override modify(id: string, change: (current: ApiKeyRow) => ApiKeyRowChange | null) {
    return super.modify(id, (current) => {
      const patch = change(current);
      if (patch === null) return null;
      const kept = Object.entries(patch).filter(([field, value]) => !this.drops(field as keyof ApiKeyRowChange, value));
      return Object.fromEntries(kept) as ApiKeyRowChange;
    });
  }
}

/** A store that finds a lookup id by its first 8 characters, as a prefix index or LIKE would. */
class PrefixLookupStore extends MemoryKeyStore {
  override findByLookupId(lookupId: string) {
    const row = this.allRows().find((each) => each.lookup_id.slice(0, 8) === lookupId.slice(0, 8) && !each.soft_deleted && each.revoked_at === null);
    return row ?? null;
  }
}

/** A store whose status column is an enum of the seven statuses, as a database's would be. */
class SevenStatusStore extends MemoryKeyStore {
  override insert(row: ApiKeyRow) {
    SevenStatusStore.check(row.status);
    return super.insert(row);
  }

  override modify(id: string, change: (current: ApiKeyRow) => ApiKeyRowChange | null) {
    return super.modify(id, (current) => {
      const patch = change(current);
      if (patch?.status !== undefined) SevenStatusStore.check(patch.status);
      return patch;
    });
  }

  private static check(status: unknown): void {
    if (!(KEY_STATUSES as readonly unknown[]).includes(status)) throw new Error(`invalid input value for enum key_status: "${String(status)}"`);
  }
}

/**
 * A store whose rows vanish once their expires_at has passed, as with a Redis key given a TTL
 * at the key's expiry: a find or a modify no longer sees the row, though it still holds the
 * account's one live key.
 */
class ExpiringStore extends MemoryKeyStore {
  override findByLookupId(lookupId: string) {
    const row = super.findByLookupId(lookupId) as ApiKeyRow | null;
    return row && ExpiringStore.expired(row) ? null : row;
  }

  override async findById(id: string) {
    const row = await super.findById(id);
    return row && ExpiringStore.expired(row) ? null : row;
  }

  override async findLive(accountId: string, environment: ApiKeyRow['environment']) {
    const row = await super.findLive(accountId, environment);
    return row && ExpiringStore.expired(row) ? null : row;
  }

  override modify(id: string, change: (current: ApiKeyRow) => ApiKeyRowChange | null) {
    return super.modify(id, (current) => (ExpiringStore.expired(current) ? null : change(current)));
  }

  private static expired(row: ApiKeyRow): boolean {
    return row.expires_at !== null && row.expires_at.getTime() <= Date.now();
  }
}

/** The tests that read a row before a change as well as after it, so a cache shows. */
const READ_BEFORE_AND_AFTER = [
  'findByLookupId, findById and findLive > never return a soft-deleted row',
  'findByLookupId, findById and findLive > never return a revoked row',
  'findByLookupId, findById and findLive > show a change at once to a handle that read the row before it: the peer, or the store itself without one',
  'findByLookupId, findById and findLive > find a row by its new lookup id only, once modify has changed it',
  'modify > hands change the current row and returns the row as written',
  'modify > holds every status keyward writes, through insert and modify',
  'modify > lets exactly one of two concurrent compare-and-set changes win',
];

describe('the store conformance suite fails a store', () => {
  it('and passes MemoryKeyStore when run this way, so each failure below is the store\'s', async () => {
    expect(await failedTests(() => new MemoryKeyStore())).toEqual([]);
  });

  it.each(['findByLookupId', 'findById', 'findLive'] as const)('whose %s keeps a cache of its own, when no peer is given', async (finder) => {
    expect(await failedTests(() => new CachingStore(finder))).toEqual(expect.arrayContaining(READ_BEFORE_AND_AFTER));
  });

  it('whose findLive keeps a cache, in the test of a new key once the previous one is dead', async () => {
    expect(await failedTests(() => new CachingStore('findLive'))).toContain('insert > accepts a new live key once the previous one is revoked or soft-deleted');
  });

  it.each(['masked_key', 'webhook_url', 'webhook_basic_auth_username', 'webhook_basic_auth_password_sealed'] as const)(
    'whose modify leaves a non-null %s alone',
    async (dropped) => {
      const failed = await failedTests(() => new DroppingStore((field, value) => field === dropped && value !== null));

      expect(failed).toContain('modify > writes every field it may set and returns it through every read');
    },
  );

  it('whose modify cannot hold the statuses revoqued and expired', async () => {
    const failed = await failedTests(() => new DroppingStore((field, value) => field === 'status' && (value === 'revoqued' || value === 'expired')));

    expect(failed).toEqual(['modify > holds every status keyward writes, through insert and modify']);
  });

  it('but passes one whose status column holds the seven statuses only, as keyward never writes the alias revoked', async () => {
    expect(await failedTests(() => new SevenStatusStore())).toEqual([]);
  });

  it('whose rows vanish once their expires_at has passed, as with a TTL at the expiry', async () => {
    const failed = await failedTests(() => new ExpiringStore());

    // Two modify tests that write a past expiry fail too, by the way; this one names the fault.
    expect(failed).toContain('findByLookupId, findById and findLive > keep finding a row whose expires_at has passed, as it is still live, and keep it in insert\'s one-live-key rule');
  });

  it('that finds a lookup id by its first 8 characters', async () => {
    const failed = await failedTests(() => new PrefixLookupStore());

    expect(failed).toEqual(['findByLookupId, findById and findLive > find a lookup id exactly: one that shares all but its last character, or is a prefix or an extension of it, finds nothing']);
  });
});

describe('the store conformance suite without createPeer', () => {
  /** The KEYWARD_CONFORMANCE_NO_PEER warnings `register` leads to. */
  async function peerWarnings(register: () => void): Promise<string[]> {
    const warnings: string[] = [];
    const onWarning = (warning: Error & { code?: string }) => {
      if (warning.code === 'KEYWARD_CONFORMANCE_NO_PEER') warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    try {
      register();
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    return warnings;
  }

  const silentRunner = { describe: (_name: string, body: () => void) => body(), it: () => undefined };

  it('warns once per store name that races run on one store object, and not when a peer is given or the store is single-process', async () => {
    const register = (name: string, createPeer?: (store: MemoryKeyStore) => MemoryKeyStore, singleProcess?: boolean) =>
      runStoreConformance(silentRunner, { name, createStore: () => new MemoryKeyStore(), createPeer, singleProcess });

    expect(await peerWarnings(() => [register('LonelyStore'), register('LonelyStore')])).toEqual([
      expect.stringMatching(/^keyward store conformance \(LonelyStore\): no createPeer given, so both sides of every race run on one store object/),
    ]);
    expect(await peerWarnings(() => register('PairedStore', (store) => store))).toEqual([]);
    expect(await peerWarnings(() => register('InProcessStore', undefined, true))).toEqual([]);
  });
});
