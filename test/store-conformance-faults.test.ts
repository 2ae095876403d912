import { setImmediate as nextTurn } from 'node:timers/promises';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { KEY_STATUSES, MemoryKeyStore, type ApiKeyRow, type ApiKeyRowChange, type KeyUsage } from 'keyward';
import { runStoreConformance, type StoreConformanceOptions } from 'keyward/store-conformance';

// Stores with the faults a team's own store has been seen to have, each passing the suite as
// it was before these tests. The suite is run on each through a runner that collects its
// tests, and each store must fail the ones named.

/** A conformance test as the suite registered it: its titles joined, and its body. */
interface CollectedTest {
  title: string;
  run: () => Promise<void>;
}

/**
 * Registers the suite for `createStore` and returns its tests: without a peer unless
 * `createPeer` is given (most faults are a store's own).
 */
function collectSuite(createStore: () => MemoryKeyStore, createPeer?: (store: MemoryKeyStore) => MemoryKeyStore): CollectedTest[] {
  const tests: CollectedTest[] = [];
  const path: string[] = [];
  const options: StoreConformanceOptions<MemoryKeyStore> = {
    name: 'faulty store',
    createStore,
    readAllRows: (store) => store.allRows(),
    raceRounds: 1,
    // singleProcess: no warning wanted when the suite runs without a peer on purpose.
    ...(createPeer ? { createPeer } : { singleProcess: true }),
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
async function failedTests(createStore: () => MemoryKeyStore, createPeer?: (store: MemoryKeyStore) => MemoryKeyStore): Promise<string[]> {
  const failed: string[] = [];
  for (const test of collectSuite(createStore, createPeer)) {
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

/**
 * A handle on storage shared with its peers, over one connection that every call through it
 * shares, as a Redis client carrying every WATCH on one connection does: when two inserts
 * for one account overlap on the same handle, the one refused gets the other's success.
 * Inserts through two handles are answered right.
 */
class SharedConnectionStore extends MemoryKeyStore {
  readonly #inserting = new Set<string>();

  constructor(readonly storage = new MemoryKeyStore()) {
    super();
  }

  /** A second handle on the same storage, with a connection of its own. */
  peer(): SharedConnectionStore {
    return new SharedConnectionStore(this.storage);
  }

  override findByLookupId(lookupId: string) {
    return this.storage.findByLookupId(lookupId);
  }

  override findById(id: string) {
    return this.storage.findById(id);
  }

  override findLive(accountId: string, environment: ApiKeyRow['environment']) {
    return this.storage.findLive(accountId, environment);
  }

  override modify(id: string, change: (current: ApiKeyRow) => ApiKeyRowChange | null) {
    return this.storage.modify(id, change);
  }

  override recordUsage(usage: readonly KeyUsage[]) {
    return this.storage.recordUsage(usage);
  }

  override allRows() {
    return this.storage.allRows();
  }

  override async insert(row: ApiKeyRow): Promise<void> {
    const account = `${row.account_id}\n${row.environment}`;
    const overlapping = this.#inserting.has(account);
    this.#inserting.add(account);
    try {
      // The round trip to the database.
      await nextTurn();
      await this.storage.insert(row).catch((error: unknown) => {
        if (!overlapping) throw error;
      });
    } finally {
      if (!overlapping) this.#inserting.delete(account);
    }
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

/**
 * A store that keeps a row found by its lookup id once it counts as hot: read `hotAfter` times
 * in this instance, or, with `productionOnly`, a production row at its first read. Neither is
 * ever refreshed.
 */
class HotRowCacheStore extends MemoryKeyStore {
  readonly #reads = new Map<string, number>();
  readonly #cache = new Map<string, ApiKeyRow>();

  constructor(readonly hotAfter: number, readonly productionOnly = false) {
    super();
  }

  override async findByLookupId(lookupId: string) {
    const cached = this.#cache.get(lookupId);
    if (cached) return structuredClone(cached);
    const row = await super.findByLookupId(lookupId);
    const reads = (this.#reads.get(lookupId) ?? 0) + 1;
    this.#reads.set(lookupId, reads);
    const hot = this.productionOnly ? row?.environment === 'production' : reads >= this.hotAfter;
    if (row && hot) this.#cache.set(lookupId, row);
    return row;
  }
}

/**
 * A store whose production rows are spread over two shards, each with its own one-live-key
 * rule, as when a table is sharded by key id: every second production row goes to the other.
 */
class ShardedProductionStore extends MemoryKeyStore {
  readonly #shard = new MemoryKeyStore();
  #productionInserts = 0;

  override insert(row: ApiKeyRow) {
    const toShard = row.environment === 'production' && this.#productionInserts++ % 2 === 1;
    return toShard ? this.#shard.insert(row) : super.insert(row);
  }

  override async findByLookupId(lookupId: string) {
    return (await super.findByLookupId(lookupId)) ?? this.#shard.findByLookupId(lookupId);
  }

  override async findById(id: string) {
    return (await super.findById(id)) ?? this.#shard.findById(id);
  }

  override async findLive(accountId: string, environment: ApiKeyRow['environment']) {
    return (await super.findLive(accountId, environment)) ?? this.#shard.findLive(accountId, environment);
  }

  override async modify(id: string, change: (current: ApiKeyRow) => ApiKeyRowChange | null) {
    return (await super.modify(id, change)) ?? this.#shard.modify(id, change);
  }

  override async recordUsage(uses: readonly KeyUsage[]) {
    await super.recordUsage(uses);
    await this.#shard.recordUsage(uses);
  }

  override allRows() {
    return [...super.allRows(), ...this.#shard.allRows()];
  }
}

/**
 * A store that writes a large usage batch another way: it loads the rows, waits a round trip,
 * and saves each row back whole with its new time, undoing whatever changed meanwhile.
 */
class WholeRowUsageStore extends MemoryKeyStore {
  override async recordUsage(uses: readonly KeyUsage[]) {
    if (uses.length < 10) return super.recordUsage(uses);
    const loaded = await Promise.all(uses.map((use) => this.findById(use.id)));
    await nextTurn();
    for (const [index, row] of loaded.entries()) {
      if (row === null || row.lookup_id !== uses[index]!.lookup_id) continue;
      const { id: _id, account_id: _account, environment: _environment, created_at: _created, ...fields } = row;
      await super.modify(row.id, () => ({ ...fields, last_used_at: uses[index]!.used_at }));
    }
  }
}

/** A store that writes the first 50 uses of a batch and drops the rest (a fixed parameter list). */
class FirstChunkUsageStore extends MemoryKeyStore {
  override recordUsage(uses: readonly KeyUsage[]) {
    return super.recordUsage(uses.slice(0, 50));
  }
}

/**
 * A store whose modify hands out its own Date objects: the row it returns shares its
 * `expires_at` with what later reads give, so changing one changes the other.
 */
class SharedDateStore extends MemoryKeyStore {
  readonly #handedOut = new Map<string, Date>();

  override async modify(id: string, change: (current: ApiKeyRow) => ApiKeyRowChange | null) {
    const written = await super.modify(id, change);
    if (written?.expires_at) this.#handedOut.set(id, written.expires_at);
    return written;
  }

  override async findById(id: string) {
    const row = await super.findById(id);
    const shared = this.#handedOut.get(id);
    return row && shared ? { ...row, expires_at: shared } : row;
  }
}

/** A store whose status column fills in `allowed` for a row written without one. */
class DefaultStatusStore extends MemoryKeyStore {
  override insert(row: ApiKeyRow) {
    return super.insert({ ...row, status: row.status ?? 'allowed' });
  }
}

/** A store that matches key ids and account ids as prefixes (`LIKE $1 || '%'`). */
class PrefixIdStore extends MemoryKeyStore {
  override async findById(id: string) {
    return super.findById(this.#fullId(id));
  }

  override async findLive(accountId: string, environment: ApiKeyRow['environment']) {
    const match = this.allRows().find((row) => row.account_id.startsWith(accountId) && row.environment === environment);
    return super.findLive(match?.account_id ?? accountId, environment);
  }

  override modify(id: string, change: (current: ApiKeyRow) => ApiKeyRowChange | null) {
    return super.modify(this.#fullId(id), change);
  }

  #fullId(id: string): string {
    return this.allRows().find((row) => row.id.startsWith(id))?.id ?? id;
  }
}


/**
 * A cache-aside store: findByLookupId keeps what it found and modify clears the entries of the
 * row. With `fillsLate`, an entry is written one round trip after the read (as a database
 * answer arrives), so a read under way while a modify lands puts the old row back after the
 * clear.
 */
class CacheAsideStore extends MemoryKeyStore {
  protected readonly cache = new Map<string, ApiKeyRow>();

  constructor(readonly fillsLate = true) {
    super();
  }

  override async findByLookupId(lookupId: string) {
    const cached = this.cache.get(lookupId);
    if (cached) return structuredClone(cached);
    const row = await super.findByLookupId(lookupId);
    if (this.fillsLate) await nextTurn();
    if (row) this.cache.set(lookupId, row);
    return row;
  }

  override async modify(id: string, change: (current: ApiKeyRow) => ApiKeyRowChange | null) {
    const written = await super.modify(id, change);
    for (const [lookupId, row] of this.cache) if (row.id === id) this.cache.delete(lookupId);
    return written;
  }
}

/**
 * A cache-aside store (filled at once) whose recordUsage refreshes the cache: it writes the
 * use, then puts `{ ...cached, last_used_at }` back, from the entry it had before the write.
 */
class UsageRefreshedCacheStore extends CacheAsideStore {
  constructor() {
    super(false);
  }

  override async recordUsage(uses: readonly KeyUsage[]) {
    const cached = uses.map((use) => this.cache.get(use.lookup_id));
    await super.recordUsage(uses);
    await nextTurn();
    for (const [index, row] of cached.entries()) {
      if (row) this.cache.set(row.lookup_id, { ...row, last_used_at: uses[index]!.used_at });
    }
  }
}


/** A store whose expires_at column is a 32-bit TIMESTAMP, which stores NULL past January 2038. */
class Timestamp2038Store extends MemoryKeyStore {
  override insert(row: ApiKeyRow) {
    const past2038 = row.expires_at !== null && row.expires_at.getTime() > Date.UTC(2038, 0, 19, 3, 14, 7);
    return super.insert(past2038 ? { ...row, expires_at: null } : row);
  }
}

/** A correct store over a database that keeps an empty string as NULL (Oracle): keyward writes no ''. */
class EmptyAsNullStore extends MemoryKeyStore {
  override insert(row: ApiKeyRow) {
    return super.insert(EmptyAsNullStore.nullForEmpty(row));
  }

  override modify(id: string, change: (current: ApiKeyRow) => ApiKeyRowChange | null) {
    return super.modify(id, (current) => {
      const patch = change(current);
      return patch && EmptyAsNullStore.nullForEmpty(patch);
    });
  }

  private static nullForEmpty<T extends object>(fields: T): T {
    return Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, value === '' ? null : value])) as T;
  }
}


/**
 * A store that hands every row its find methods return through `served`, and with
 * `throughModify` also the row modify hands `change` and the one it returns: a driver's
 * way of building rows.
 */
class ServingStore extends MemoryKeyStore {
  constructor(readonly served: (row: ApiKeyRow) => ApiKeyRow, readonly throughModify = false) {
    super();
  }

  override async findByLookupId(lookupId: string) {
    return this.#serve(await super.findByLookupId(lookupId));
  }

  override async findById(id: string) {
    return this.#serve(await super.findById(id));
  }

  override async findLive(accountId: string, environment: ApiKeyRow['environment']) {
    return this.#serve(await super.findLive(accountId, environment));
  }

  override async modify(id: string, change: (current: ApiKeyRow) => ApiKeyRowChange | null) {
    if (!this.throughModify) return super.modify(id, change);
    return this.#serve(await super.modify(id, (current) => change(this.served(current))));
  }

  #serve(row: ApiKeyRow | null): ApiKeyRow | null {
    return row === null ? null : this.served(row);
  }
}

/** A row whose Dates were made in another realm (a `vm` context), as some drivers make them. */
function withOtherRealmDates(row: ApiKeyRow): ApiKeyRow {
  const foreign = (date: Date | null) => (date === null ? null : (runInNewContext('new Date(time)', { time: date.getTime() }) as Date));
  return { ...row, created_at: foreign(row.created_at)!, last_used_at: foreign(row.last_used_at), expires_at: foreign(row.expires_at) };
}

/**
 * A row as a store whose time columns hold no zone reads it: it wrote each time as its UTC
 * digits and reads the digits back as local time, moved by the offset of the reading
 * process's zone.
 */
function readAsLocalTime(row: ApiKeyRow): ApiKeyRow {
  // '2031-01-01T00:30:00.000' without its Z parses as local time.
  const local = (date: Date | null) => (date === null ? null : new Date(date.toISOString().slice(0, -1)));
  return { ...row, created_at: local(row.created_at)!, last_used_at: local(row.last_used_at), expires_at: local(row.expires_at) };
}

/** The tests that read a row before a change as well as after it, so a cache shows. */
const READ_BEFORE_AND_AFTER = [
  'findByLookupId, findById and findLive > never return a soft-deleted row',
  'findByLookupId, findById and findLive > never return a revoked row',
  'findByLookupId, findById and findLive > show a change at once to a handle that read the row often before it, in each environment: the peer, or the store itself without one',
  'findByLookupId, findById and findLive > find a row by its new lookup id only, once modify has changed it',
  'modify > hands change the current row and returns the row as written',
  'modify > holds every status keyward writes, through insert and modify',
  'modify > lets exactly one of two concurrent compare-and-set changes win',
];

const FRESHNESS = READ_BEFORE_AND_AFTER[2]!;

describe('the store conformance suite passes a correct store', () => {
  it('whose Dates come from another realm, as keyward reads them alike', async () => {
    expect(await failedTests(() => new ServingStore(withOtherRealmDates, true))).toEqual([]);
  });

  it('that keeps an empty string as NULL, as keyward writes none', async () => {
    expect(await failedTests(() => new EmptyAsNullStore())).toEqual([]);
  });

  it('that hands out frozen rows', async () => {
    expect(await failedTests(() => new ServingStore(Object.freeze, true))).toEqual([]);
  });
});

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

  it.each<[string, () => MemoryKeyStore, string]>([
    ['that keeps a row found by its lookup id once the row was read eight times (a hot-key cache)', () => new HotRowCacheStore(8), FRESHNESS],
    ['that keeps production rows found by their lookup id, sandbox rows being read afresh', () => new HotRowCacheStore(1, true), FRESHNESS],
    ['whose cache-aside reads put a row back when they were under way while a modify cleared it', () => new CacheAsideStore(), 'findByLookupId, findById and findLive > show a change to later reads even when reads were under way while it landed'],
    ['whose time columns hold no zone, read back as local time', () => new ServingStore(readAsLocalTime), 'findByLookupId, findById and findLive > give back the same times whatever time zone the process that wrote them and the one that reads them are in'],
    ['that matches key ids and account ids as prefixes', () => new PrefixIdStore(), 'findByLookupId, findById and findLive > return null for an unknown lookup id, key id or account, a prefix or an extension of a stored one included'],
    ['whose modify returns a Date that later reads share', () => new SharedDateStore(), 'modify > returns a copy and keeps none of the patch: mutating either afterwards, Dates included, changes nothing'],
    ['that saves whole rows back when it writes a large usage batch', () => new WholeRowUsageStore(), 'recordUsage > never undoes a regenerate, a revoke or a status change that lands while a batch as large as the authenticator sends is written'],
    ['that records the first 50 uses of a batch and drops the rest', () => new FirstChunkUsageStore(), 'recordUsage > records every use of a batch as large as the authenticator sends'],
    ['whose recordUsage refreshes a cache of rows with the entry it had before', () => new UsageRefreshedCacheStore(), 'recordUsage > never brings a revoked or suspended row back to reads, when the key was read before and its use is written while the change lands'],
  ])('%s', async (_fault, createStore, failing) => {
    expect(await failedTests(createStore)).toContain(failing);
  });

  it('whose one-live-key rule does not hold across its production shards', async () => {
    const failed = await failedTests(() => new ShardedProductionStore());

    expect(failed).toEqual(expect.arrayContaining([
      'insert > refuses a second live key for an account and environment with ERR_KEY_EXISTS, in each environment',
      'insert > lets exactly one of two racing inserts for one account and environment succeed, in each environment',
    ]));
  });

  it('that fills in the status allowed for a row written with none', async () => {
    expect(await failedTests(() => new DefaultStatusStore())).toEqual(['insert > keeps a null status null, or refuses the row: never a status of its own']);
  });

  it('whose expires_at column stores NULL past January 2038', async () => {
    expect(await failedTests(() => new Timestamp2038Store())).toEqual(['findByLookupId, findById and findLive > give back an expires_at far in the future exactly: after 2038, and up to the year 9999 that keyward accepts']);
  });

  it('that finds a lookup id by its first 8 characters', async () => {
    const failed = await failedTests(() => new PrefixLookupStore());

    expect(failed).toEqual(['findByLookupId, findById and findLive > find a lookup id exactly: one that shares all but its last character, or is a prefix or an extension of it, finds nothing']);
  });
});

describe('the store conformance suite says what shape a store answers in', () => {
  /** The message the suite's first test fails with for `createStore`'s stores. */
  async function firstTestFailure(createStore: () => MemoryKeyStore): Promise<string> {
    const [first] = collectSuite(createStore);
    return first!.run().then(() => 'passed', (error: Error) => error.message);
  }

  /** A store whose find methods answer undefined where they find nothing. */
  class UndefinedStore extends MemoryKeyStore {
    override async findById(id: string) {
      return (await super.findById(id)) ?? (undefined as never);
    }
  }

  it.each([
    ['times as text', (row: ApiKeyRow) => ({ ...row, created_at: row.created_at.toISOString() as never }), 'the store gave created_at as text: give every time as a Date, or null for none (convert what the driver gives)'],
    ['a time left out', ({ last_used_at: _left, ...row }: ApiKeyRow) => row as ApiKeyRow, 'the store gave last_used_at as undefined (left out): give every time as a Date, or null for none (convert what the driver gives)'],
    ['soft_deleted as a number', (row: ApiKeyRow) => ({ ...row, soft_deleted: 0 as never }), "the store gave soft_deleted as a number: give it as true or false (a driver may give 0 and 1, or 't' and 'f')"],
  ])('names a row with %s, rather than the field a comparison happened to show', async (_name, served, message) => {
    expect(await firstTestFailure(() => new ServingStore(served))).toBe(message);
  });

  it('names undefined answered for no row', async () => {
    const test = collectSuite(() => new UndefinedStore()).find((each) => each.title.includes('return null for an unknown lookup id'))!;

    await expect(test.run()).rejects.toThrow('the store answered undefined: a find or a modify that has no row answers null');
  });
});

describe('the store conformance suite with createPeer', () => {
  it('still races both sides on one handle: it fails a store whose calls on one connection answer each other', async () => {
    const failed = await failedTests(() => new SharedConnectionStore(), (store) => (store as SharedConnectionStore).peer());

    expect(failed).toEqual([
      'insert > lets exactly one of two racing inserts for one account and environment succeed, in each environment',
      'insert > lets exactly one of two racing inserts succeed whatever status the keys have',
    ]);
    const [insertRace] = collectSuite(() => new SharedConnectionStore(), (store) => (store as SharedConnectionStore).peer()).filter((test) => test.title.includes('racing inserts'));
    await expect(insertRace!.run()).rejects.toThrow('(both sides on the store: do calls through one handle share a connection or a transaction?)');
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
