import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { KEY_STATUSES, USAGE_BATCH_LIMIT, warnOnce, type ApiKeyRow, type ApiKeyRowChange, type KeyStore, type KeyUsage, type RecordUsageResult } from 'keyward';
import { at, lookupIdOf, rowFields, sampleRow } from './conformance-rows.js';

export { sampleRow } from './conformance-rows.js';

/**
 * The two functions of a test framework the suite needs. Vitest, Jest, Mocha and `node:test`
 * all have them. Assertions use `node:assert/strict`, which fails a test in any of them, so
 * the suite does not depend on one framework's `expect`.
 */
export interface ConformanceRunner {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void>): unknown;
}

/** Options of {@link runStoreConformance}. */
export interface StoreConformanceOptions<S extends KeyStore = KeyStore> {
  /** Names the store in the test titles. */
  name: string;
  /** A new, empty store; called once per test. */
  createStore(): S | Promise<S>;
  /** Called after each test with its store: drop its table, end its connections. */
  disposeStore?: ((store: S) => void | Promise<void>) | undefined;
  /**
   * Every row the store holds, live or not, as an array or a promise of one. With it the
   * suite also checks that dead rows are kept and left alone; without it, only what the
   * `KeyStore` methods show is checked.
   */
  readAllRows?: ((store: S) => ApiKeyRow[] | Promise<ApiKeyRow[]>) | undefined;
  /**
   * How often most races repeat; more rounds make a lost race likelier to show. Three run
   * once: the twelve read-modify-writes, the inserts of keys of every live status, and the
   * race of a usage batch as large as the authenticator sends. @default 5
   */
  raceRounds?: number | undefined;
  /**
   * A second handle on the same storage as `store` (another connection pool, another
   * client), as a second gateway or portal instance has. With it, every race between writes
   * runs on the store alone, as two calls of one gateway do, and across the two handles (twice,
   * or in one run that mixes both); and a change made through one must be seen through the
   * other at once: a lock or a cache that lives in one process passes the races on one handle
   * and fails here.
   * Without it, the store is its own peer: a change must still show at once to the store
   * itself, after it has read the row, but a cache the store clears on its own writes passes.
   * The suite then emits a process warning, `KEYWARD_CONFORMANCE_NO_PEER`, unless
   * `singleProcess` is set.
   */
  createPeer?: ((store: S) => S | Promise<S>) | undefined;
  /**
   * The store lives in one process by design (as `MemoryKeyStore` does), so there is no
   * second handle to give: the races run on the store alone, and no warning is emitted.
   * @default false
   */
  singleProcess?: boolean | undefined;
  /** Called after each test with the peer, before `disposeStore`: end its connections. */
  disposePeer?: ((peer: S) => void | Promise<void>) | undefined;
}

/**
 * Registers the store conformance suite: every contract of the `KeyStore` interface, checked
 * the way keyward checks `MemoryKeyStore` and `PostgresKeyStore`. Run it against your own
 * store to prove that it can back keyward: exact lookups, live filtering, insert conflicts,
 * atomic `modify` (a change that throws writes nothing, racing compare-and-set changes let
 * exactly one win, no lost updates) that writes every field it may set and every status value,
 * reads that show a change at once (no read cache), `recordUsage` that batches and never
 * moves backwards, and copies that never alias stored state.
 *
 * @param runner - the framework's `describe` and `it`.
 * @param options - how to make (and dispose of) a fresh empty store.
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { runStoreConformance } from 'keyward/store-conformance';
 *
 * runStoreConformance({ describe, it }, {
 *   name: 'DynamoKeyStore',
 *   createStore: () => new DynamoKeyStore({ table: `keys_${Date.now()}` }),
 * });
 * ```
 */
export function runStoreConformance<S extends KeyStore>(
  runner: ConformanceRunner,
  options: StoreConformanceOptions<S>,
): void {
  const { describe, it } = runner;
  const rounds = options.raceRounds ?? 5;
  if (!options.createPeer && !options.singleProcess) {
    // Once per store name: the message names it.
    warnOnce(
      'KEYWARD_CONFORMANCE_NO_PEER',
      `keyward store conformance (${options.name}): no createPeer given, so both sides of every race run on one store object, and a lock held in one process, or a read cache cleared on the store's own writes, passes them. Give createPeer a second handle on the same storage to check what a second gateway instance sees, or singleProcess: true for a store that lives in one process by design.`,
    );
  }

  /**
   * Runs `test` on a fresh store and disposes of it, pass or fail. `peer` is the second handle
   * on the same storage, or the store itself without `createPeer`.
   */
  const withStore = (test: (store: S, peer: S) => Promise<void>) => async () => {
    const store = await options.createStore();
    let peer = store;
    let failure: { error: unknown } | undefined;
    try {
      if (options.createPeer) peer = await options.createPeer(store);
      await test(store, peer);
    } catch (error) {
      failure = { error };
    }
    // Both are disposed whatever happened; a test's own failure is what gets reported.
    for (const dispose of [() => peer !== store && options.disposePeer?.(peer), () => options.disposeStore?.(store)]) {
      try {
        await dispose();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  };

  /**
   * The two handles each side of a race runs on: both on the store, and with a peer, one on
   * each as well. A store whose calls on one handle share state (one connection carrying
   * every WATCH, say) can pass the races across two handles and still let two calls of one
   * gateway both win.
   */
  const racingHandles = (store: S, peer: S): [S, S][] => (peer === store ? [[store, store]] : [[store, store], [store, peer]]);

  /**
   * For a race's failure message: which handles its two sides ran on. Both on the store, with
   * a peer given, points at state that calls through one handle share.
   */
  const racedOn = (one: S, other: S) =>
    one !== other ? ' (one side on each handle)' : options.createPeer ? ' (both sides on the store: do calls through one handle share a connection or a transaction?)' : '';

  /** Every row, live or not, by id; undefined when the options give no way to read them. */
  const allRows = async (store: S) => {
    if (!options.readAllRows) return undefined;
    const rows = await options.readAllRows(store);
    return new Map(rows.map((row) => [row.id, rowFields(row)!]));
  };

  const inserted = async (store: S, overrides: Partial<ApiKeyRow> = {}) => {
    const row = sampleRow(overrides);
    await store.insert(row);
    return row;
  };

  /**
   * `count` rows of their own accounts, inserted {@link CONCURRENT_CALLS} at a time: all at
   * once would wait on a pool of ten connections longer than a usual connection timeout.
   */
  const insertedMany = (store: S, count: number) => inGroups(Array.from({ length: count }), () => inserted(store));

  /**
   * Races `modify` with `change` against a usage batch of four keys, once for each place the
   * row can take in the batch and each of the two calls starting first: which interleaving
   * exposes a store depends on how many round trips its writes take. Uses the store deferred
   * are sent again once both are done, as the authenticator's next flush would. Returns each
   * row as the change wrote it, and the time of the row's use in the batch.
   */
  const racedInBatch = async (store: S, peer: S, change: () => ApiKeyRowChange) => {
    const raced: { row: ApiKeyRow; use: Date }[] = [];
    for (const [, usageHandle] of racingHandles(store, peer)) {
      for (let place = 0; place < 4; place++) {
        for (const usageFirst of [true, false]) {
          const others = await Promise.all([inserted(store), inserted(store), inserted(store)]);
          const row = await inserted(store);
          const batch = [...others];
          batch.splice(place, 0, row);
          const patch = change();
          const uses = batch.map((each, index) => usedAt(each, 700 + index));
          const [written] = await usageRacing(usageHandle, uses, () => [store.modify(row.id, () => patch)], usageFirst);
          assert.ok(written, 'modify must find the live row');
          raced.push({ row: { ...row, ...patch } as ApiKeyRow, use: at(700 + place) });
        }
      }
    }
    return raced;
  };

  describe(`${options.name} conforms to KeyStore`, () => {
    describe('findByLookupId, findById and findLive', () => {
      it('return an inserted row with every field as it was given', withStore(async (store) => {
        const row = await inserted(store, { last_used_at: at(5), webhook_url: null });
        assert.deepEqual(rowFields(await store.findByLookupId(row.lookup_id)), row);
        assert.deepEqual(rowFields(await store.findById(row.id)), row);
        assert.deepEqual(rowFields(await store.findLive(row.account_id, row.environment)), row);
      }));

      it('return text exactly as it was given: no trimming, case folding, normalization or cutting', withStore(async (store) => {
        // A webhook password is sealed for its URL, so a URL stored in another spelling no longer
        // opens it; a username that changes no longer matches the receiver's.
        const rows = await Promise.all(TEXT_ROUND_TRIPS.map((fields) => inserted(store, fields)));
        for (const row of rows) assert.deepEqual(rowFields(await store.findById(row.id)), row);
      }));

      it('return a row whose optional fields are all null with each of them null', withStore(async (store) => {
        // `new Date(null)` is 1970: a key without an expiry would read as long expired.
        const row = await inserted(store, { expires_at: null, last_used_at: null, webhook_url: null, webhook_basic_auth_username: null, webhook_basic_auth_password_sealed: null });
        assert.deepEqual(rowFields(await store.findByLookupId(row.lookup_id)), row);
        assert.deepEqual(rowFields(await store.findById(row.id)), row);
        assert.deepEqual(rowFields(await store.findLive(row.account_id, row.environment)), row);
      }));

      it('find a lookup id exactly: one that differs in letter case only finds nothing', withStore(async (store) => {
        // A case-insensitive collation (or citext) would find it: anyone can then send a key
        // whose lookup id is a known one in other letter case, with its checksum made anew.
        const row = await inserted(store, { lookup_id: 'abcdefABCDEF' });
        assert.equal(rowFields(await store.findByLookupId('ABCDEFabcdef')), null);
        assert.equal(rowFields(await store.findByLookupId('abcdefabcdef')), null);
        assert.deepEqual(rowFields(await store.findByLookupId(row.lookup_id)), row);
      }));

      it('find a lookup id exactly: one that shares all but its last character, or is a prefix or an extension of it, finds nothing', withStore(async (store) => {
        // A store matching on a prefix (an index on the first characters, a LIKE) would hand a
        // forged key another key's row: keyward refuses it as corrupt (500), not as unknown (401).
        const row = await inserted(store, { lookup_id: 'abcdefghijkl' });
        for (const other of ['abcdefghijkm', 'abcdefghijk', 'abcdefgh', 'abcdefghijklm']) {
          assert.equal(rowFields(await store.findByLookupId(other)), null, `findByLookupId found ${row.lookup_id} for ${other}`);
        }
        assert.deepEqual(rowFields(await store.findByLookupId(row.lookup_id)), row);
      }));

      it('find a key id and an account id exactly: one that differs in letter case only finds nothing', withStore(async (store) => {
        // With a case-insensitive collation, describeAccount('acct_aB') would show, and a
        // portal could regenerate, the key of account acct_Ab.
        const row = await inserted(store, { id: 'key_caseCASEcase', account_id: 'acct_caseCASE' });
        assert.equal(rowFields(await store.findById('key_CASEcaseCASE')), null);
        assert.equal(rowFields(await store.findLive('acct_CASEcase', row.environment)), null);
        assert.equal(rowFields(await store.modify('key_CASEcaseCASE', () => ({ status: 'suspended' }))), null);
        assert.equal((await store.findById(row.id))?.status, 'allowed');
        // Another account, not a second live key of this one.
        await store.insert(sampleRow({ account_id: 'acct_CASEcase', environment: row.environment }));
      }));

      it('hand out rows of their own: changing one, its Dates included, changes nothing stored', withStore(async (store) => {
        const row = await inserted(store, { last_used_at: at(5) });
        const reads = [() => store.findByLookupId(row.lookup_id), () => store.findLive(row.account_id, row.environment), () => store.findById(row.id)];
        for (const read of reads) {
          const served = await read();
          assert.ok(served, 'a read found nothing for the live row just inserted');
          tryToSet(served, { status: 'suspended', revoked_at: at(0) });
          served.created_at.setTime(0);
          served.last_used_at!.setTime(0);
          served.expires_at!.setTime(0);
          // Read again through every method: a store may cache what one of them hands out.
          for (const again of reads) assert.deepEqual(rowFields(await again()), row);
        }
      }));

      it('return null for an unknown lookup id, key id or account, a prefix or an extension of a stored one included', withStore(async (store) => {
        // A store matching `id LIKE $1 || '%'` would let describe('key_') show someone's key.
        const row = await inserted(store);
        assert.equal(rowFields(await store.findByLookupId(lookupIdOf())), null);
        for (const id of [`${row.id}x`, row.id.slice(0, -1), 'key_']) {
          assert.equal(rowFields(await store.findById(id)), null, `findById found ${row.id} for ${id}`);
          assert.equal(rowFields(await store.modify(id, () => ({ status: 'locked' }))), null, `modify changed ${row.id} for ${id}`);
        }
        for (const accountId of [`${row.account_id}x`, row.account_id.slice(0, -1), 'acct_']) {
          assert.equal(rowFields(await store.findLive(accountId, row.environment)), null, `findLive found ${row.account_id} for ${accountId}`);
        }
        assert.deepEqual(rowFields(await store.findById(row.id)), row);
      }));

      it('never return a soft-deleted row', withStore(async (store) => {
        const stored = await inserted(store, { soft_deleted: true });
        const deleted = await inserted(store);
        // Read first: a read cache would keep handing out the row it found before the delete.
        await assertFound(store, deleted);
        await store.modify(deleted.id, () => ({ soft_deleted: true }));
        for (const row of [stored, deleted]) await assertHidden(store, row);
        const rows = await allRows(store);
        if (rows) assert.deepEqual(rows.get(deleted.id), { ...deleted, soft_deleted: true });
      }));

      it('never return a revoked row', withStore(async (store) => {
        const stored = await inserted(store, { revoked_at: at(0) });
        const revoked = await inserted(store);
        await assertFound(store, revoked);
        await store.modify(revoked.id, () => ({ revoked_at: at(1) }));
        for (const row of [stored, revoked]) await assertHidden(store, row);
        const rows = await allRows(store);
        if (rows) assert.deepEqual(rows.get(revoked.id), { ...revoked, revoked_at: at(1) });
      }));

      it('find the live row of the asked account and environment only', withStore(async (store) => {
        const sandbox = await inserted(store, { environment: 'sandbox' });
        const production = await inserted(store, { account_id: sandbox.account_id, environment: 'production' });
        const other = await inserted(store, { environment: 'sandbox' });
        assert.equal((await store.findLive(sandbox.account_id, 'sandbox'))?.id, sandbox.id);
        assert.equal((await store.findLive(sandbox.account_id, 'production'))?.id, production.id);
        assert.equal((await store.findLive(other.account_id, 'sandbox'))?.id, other.id);
        assert.equal(rowFields(await store.findLive(other.account_id, 'production')), null);
      }));

      it('keep finding a row whose expires_at has passed, as it is still live, and keep it in insert\'s one-live-key rule', withStore(async (store) => {
        // A store that lets its database drop a row at expires_at (a Redis TTL, a clean-up job)
        // turns the key's 403 "expired" into 401 "unknown", makes regenerate, which lifts an
        // expiry, fail with ERR_KEY_NOT_FOUND, and still refuses the account a new key.
        const expired = await inserted(store, { expires_at: new Date(Date.now() - 60_000) });
        const expiring = await inserted(store, { expires_at: new Date(Date.now() + 200) });
        await new Promise((resolve) => setTimeout(resolve, 400));
        for (const row of [expired, expiring]) {
          await assertFound(store, row);
          await assertKeyExists(store.insert(sampleRow({ account_id: row.account_id, environment: row.environment })));
          assert.deepEqual(rowFields(await store.modify(row.id, () => ({ expires_at: null }))), { ...row, expires_at: null });
        }
      }));

      it('show a change at once to a handle that read the row often before it, in each environment: the peer, or the store itself without one', withStore(async (store, peer) => {
        // A read cache that lives in one process (or in one store object) would keep a
        // regenerated, suspended or revoked key working there. One that keeps only a hot key
        // (read often) or only production rows is the same fault where it matters most.
        for (const environment of ENVIRONMENTS) {
          const row = await inserted(store, { environment });
          await assertFoundOften(peer, row);
          const next = lookupIdOf();
          await store.modify(row.id, () => ({ lookup_id: next }));
          assert.equal(rowFields(await peer.findByLookupId(row.lookup_id)), null, `findByLookupId still finds the old lookup id after a regenerate (${environment})`);
          await assertFoundOften(peer, { ...row, lookup_id: next });
          await store.modify(row.id, () => ({ status: 'suspended' }));
          await assertFoundOften(peer, { ...row, lookup_id: next, status: 'suspended' });
          await store.modify(row.id, () => ({ revoked_at: at(1) }));
          await assertHidden(peer, { ...row, lookup_id: next });
        }
      }));

      it('show a change to later reads even when reads were under way while it landed', withStore(async (store, peer) => {
        // A cache filled by reads and cleared by writes (cache-aside) must not let a read that
        // began before the write put the old row back after the write cleared it: a revoked
        // or regenerated key would then pass for as long as the entry lives.
        // Each change on a row not read before: the reads begun just before it miss any cache.
        for (let round = 0; round < rounds; round++) {
          const regenerated = await inserted(store);
          const next = lookupIdOf();
          await readingWhile(peer, regenerated, () => store.modify(regenerated.id, () => ({ lookup_id: next })));
          assert.equal(rowFields(await peer.findByLookupId(regenerated.lookup_id)), null, 'a read under way during a regenerate brought the old lookup id back');
          await assertFound(peer, { ...regenerated, lookup_id: next });
          const suspended = await inserted(store);
          await readingWhile(peer, suspended, () => store.modify(suspended.id, () => ({ status: 'suspended' })));
          await assertFound(peer, { ...suspended, status: 'suspended' });
          const revoked = await inserted(store);
          await readingWhile(peer, revoked, () => store.modify(revoked.id, () => ({ revoked_at: at(1) })));
          await assertHidden(peer, revoked);
        }
      }));

      it('give back the same times whatever time zone the process that wrote them and the one that reads them are in', withStore(async (store) => {
        // A time column without a zone that is written in UTC and read as local time (or the
        // other way round) moves every expiry by the zone's offset: a gateway in
        // America/Los_Angeles would accept a key for hours after it expired.
        if (!(await timeZoneSwitches())) {
          warnOnce(
            'KEYWARD_CONFORMANCE_NO_TZ',
            `keyward store conformance (${options.name}): setting process.env.TZ does not change the time zone here (a worker thread, or a runner that copies process.env), so the time zone test checked nothing. Run the suite in a process of its own (Vitest's default pool, forks) to check it.`,
          );
          return;
        }
        const row = sampleRow({ last_used_at: at(7), expires_at: new Date(Date.UTC(2031, 0, 1, 0, 30)) });
        await inTimeZone('America/Los_Angeles', () => store.insert(row));
        for (const zone of ['Asia/Tokyo', 'UTC', 'America/Los_Angeles']) {
          await inTimeZone(zone, () => assertFound(store, row));
        }
        const changed = { expires_at: new Date(Date.UTC(2032, 6, 1, 23, 45)) };
        await inTimeZone('Asia/Tokyo', () => store.modify(row.id, () => changed));
        await inTimeZone('America/Los_Angeles', () => assertFound(store, { ...row, ...changed }));
      }));

      it('give back an expires_at far in the future exactly: after 2038, and up to the year 9999 that keyward accepts', withStore(async (store) => {
        // A 32-bit TIMESTAMP column (MySQL's) cannot hold a time after January 2038, and may
        // store NULL instead, which reads as "never expires".
        for (const expiresAt of [new Date(Date.UTC(2040, 0, 1)), new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999))]) {
          await assertFound(store, await inserted(store, { expires_at: expiresAt }));
        }
      }));

      it('find a row by its new lookup id only, once modify has changed it', withStore(async (store) => {
        const row = await inserted(store);
        await assertFound(store, row);
        const next = lookupIdOf();
        await store.modify(row.id, () => ({ lookup_id: next }));
        assert.equal(rowFields(await store.findByLookupId(row.lookup_id)), null);
        await assertFound(store, { ...row, lookup_id: next });
      }));
    });

    describe('insert', () => {
      it('refuses a second live key for an account and environment with ERR_KEY_EXISTS, in each environment', withStore(async (store) => {
        for (const environment of ENVIRONMENTS) {
          const first = await inserted(store, { environment });
          const second = sampleRow({ account_id: first.account_id, environment });
          await assertKeyExists(store.insert(second));
          assert.equal(rowFields(await store.findById(second.id)), null);
          assert.deepEqual(rowFields(await store.findLive(first.account_id, environment)), first);
        }
      }));

      it('accepts a new live key once the previous one is revoked or soft-deleted', withStore(async (store) => {
        const revoked = await inserted(store);
        // Read first: a cache of findLive would keep answering with the revoked row.
        await assertFound(store, revoked);
        await store.modify(revoked.id, () => ({ revoked_at: at(0) }));
        const next = await inserted(store, { account_id: revoked.account_id, environment: revoked.environment });
        await assertFound(store, next);
        await store.modify(next.id, () => ({ soft_deleted: true }));
        const last = await inserted(store, { account_id: revoked.account_id, environment: revoked.environment });
        assert.equal((await store.findLive(revoked.account_id, revoked.environment))?.id, last.id);

        const rows = await allRows(store);
        if (rows) assert.deepEqual([...rows.keys()].sort(), [revoked.id, next.id, last.id].sort());
      }));

      it('accepts dead rows beside the live key of their account', withStore(async (store) => {
        const live = await inserted(store);
        const dead = await inserted(store, { account_id: live.account_id, revoked_at: at(0) });
        assert.equal((await store.findLive(live.account_id, live.environment))?.id, live.id);
        const rows = await allRows(store);
        if (rows) assert.deepEqual(rows.get(dead.id), dead);
      }));

      it('refuses a lookup id that any row holds, live or not, with ERR_KEY_EXISTS', withStore(async (store) => {
        const live = await inserted(store);
        const dead = await inserted(store, { soft_deleted: true });
        await assertKeyExists(store.insert(sampleRow({ lookup_id: live.lookup_id })));
        await assertKeyExists(store.insert(sampleRow({ lookup_id: dead.lookup_id })));
        assert.equal((await store.findByLookupId(live.lookup_id))?.id, live.id);
      }));

      it('refuses a key id that already exists with ERR_KEY_EXISTS', withStore(async (store) => {
        const row = await inserted(store);
        await assertKeyExists(store.insert(sampleRow({ id: row.id })));
        assert.deepEqual(rowFields(await store.findById(row.id)), row);
      }));

      it('lets exactly one of two racing inserts for one account and environment succeed, in each environment', withStore(async (store, peer) => {
        for (let round = 0; round < rounds; round++) {
          for (const [one, other] of racingHandles(store, peer)) {
            for (const environment of ENVIRONMENTS) {
              const a = sampleRow({ environment });
              const b = sampleRow({ account_id: a.account_id, environment });
              const results = await Promise.allSettled([one.insert(a), other.insert(b)]);
              const failures = results.filter((result) => result.status === 'rejected');
              assert.equal(failures.length, 1, `exactly one ${environment} insert must fail${racedOn(one, other)}`);
              assertKeyExistsError(failures[0]!.reason);
              const winner = results[0]!.status === 'fulfilled' ? a : b;
              assert.equal((await store.findLive(a.account_id, environment))?.id, winner.id);
            }
          }
        }
      }));

      it('lets exactly one of two racing inserts succeed whatever status the keys have', withStore(async (store, peer) => {
        // The one-live-key rule counts every live row, not only those that authenticate: a
        // suspended or pending key is the account's key too.
        for (const [one, other] of racingHandles(store, peer)) {
          for (const status of ['pending_validation', 'suspended']) {
            const a = sampleRow({ status });
            const b = sampleRow({ account_id: a.account_id, environment: a.environment, status });
            const results = await Promise.allSettled([one.insert(a), other.insert(b)]);
            assert.equal(results.filter((result) => result.status === 'rejected').length, 1, `exactly one ${status} insert must fail${racedOn(one, other)}`);
          }
        }
      }));

      it('keeps a null status null, or refuses the row: never a status of its own', withStore(async (store) => {
        // keyward never writes one, but another issuer may; keyward refuses such a key (403). A
        // store that fills in a default (a NOT NULL DEFAULT 'allowed' column it leaves out of the
        // INSERT) would let it through.
        const row = sampleRow({ status: null });
        try {
          await store.insert(row);
        } catch {
          assert.equal(rowFields(await store.findById(row.id)), null, 'insert refused the row but stored it');
          return;
        }
        await assertFound(store, row);
      }));

      it('stores a copy: changing the given object afterwards changes nothing', withStore(async (store) => {
        const row = sampleRow();
        const original = structuredClone(row);
        await store.insert(row);
        row.status = 'suspended';
        row.created_at.setTime(0);
        assert.deepEqual(rowFields(await store.findById(row.id)), original);
      }));
    });

    describe('modify', () => {
      it('hands change the current row and returns the row as written', withStore(async (store) => {
        const row = await inserted(store);
        await assertFound(store, row);
        let seen: ApiKeyRow | undefined;
        const written = await store.modify(row.id, (current) => {
          seen = rowFields(current)!;
          return { status: 'suspended', last_used_at: null };
        });
        assert.deepEqual(seen, row);
        const expected = { ...row, status: 'suspended', last_used_at: null };
        assert.deepEqual(rowFields(written), expected);
        await assertFound(store, expected);
      }));

      it('returns null without calling change for an unknown id or a dead row', withStore(async (store) => {
        const deleted = await inserted(store, { soft_deleted: true });
        const revoked = await inserted(store, { revoked_at: at(0) });
        let calls = 0;
        const change = () => {
          calls++;
          return { soft_deleted: false, revoked_at: null };
        };
        for (const id of ['key_unknown', deleted.id, revoked.id]) {
          assert.equal(rowFields(await store.modify(id, change)), null);
        }
        assert.equal(calls, 0);
        await assertHidden(store, deleted);
        await assertHidden(store, revoked);
      }));

      it('sets a field to null when the patch says null', withStore(async (store) => {
        // clearWebhook and regenerate rely on it: a store that skips null would keep sending
        // credentials after webhooks were turned off, and keep a passed expiry on a new key.
        const row = await inserted(store, { last_used_at: at(5) });
        const cleared = { last_used_at: null, expires_at: null, webhook_url: null, webhook_basic_auth_username: null, webhook_basic_auth_password_sealed: null };
        assert.deepEqual(rowFields(await store.modify(row.id, () => cleared)), { ...row, ...cleared });
        assert.deepEqual(rowFields(await store.findById(row.id)), { ...row, ...cleared });
      }));

      it('writes every field it may set and returns it through every read', withStore(async (store) => {
        // A hand-written UPDATE with a fixed column list leaves the others as they were without
        // a word: regenerate would hand out a card with the old masked key, and setWebhook a
        // card with a URL that was never stored. Each field goes from null to a value, then to
        // another value.
        const row = await inserted(store, { last_used_at: null, expires_at: null, webhook_url: null, webhook_basic_auth_username: null, webhook_basic_auth_password_sealed: null });
        await assertFound(store, row);
        let expected = row;
        for (const [index, patch] of everyFieldPatches().entries()) {
          expected = { ...expected, ...patch };
          assert.deepEqual(rowFields(await store.modify(row.id, () => patch)), expected, `modify returned another row than it wrote (patch ${index + 1})`);
          await assertFound(store, expected);
        }
        // Text the suite checks through insert, written through modify.
        for (const fields of TEXT_ROUND_TRIPS) {
          const changed = Object.fromEntries(Object.entries(fields).filter(([field]) => field !== 'account_id')) as ApiKeyRowChange;
          const target = await inserted(store);
          await store.modify(target.id, () => changed);
          await assertFound(store, { ...target, ...changed });
        }
      }));

      it('holds every status keyward writes, through insert and modify', withStore(async (store) => {
        // A status column that cannot hold one (an enum without it) and leaves it alone would
        // keep a key working that setStatus was told to stop. The alias `revoked` is not
        // needed: keyward stores it as `revoqued`, so an enum of the seven is enough.
        for (const status of KEY_STATUSES) await assertFound(store, await inserted(store, { status }));
        const row = await inserted(store);
        await assertFound(store, row);
        // Each value differs from the one before it, `allowed` last.
        for (const status of [...KEY_STATUSES.slice(1), KEY_STATUSES[0]!]) {
          assert.equal((await store.modify(row.id, () => ({ status })))?.status, status);
          await assertFound(store, { ...row, status });
        }
      }));

      it('writes nothing when change returns null', withStore(async (store) => {
        const row = await inserted(store);
        assert.equal(rowFields(await store.modify(row.id, () => null)), null);
        assert.deepEqual(rowFields(await store.findById(row.id)), row);
      }));

      it('writes nothing and rethrows the very error when change throws', withStore(async (store) => {
        const row = await inserted(store);
        const thrown = new Error('change refused');
        await assert.rejects(
          store.modify(row.id, (current) => {
            tryToSet(current, { status: 'locked' });
            throw thrown;
          }),
          (error) => error === thrown,
        );
        assert.deepEqual(rowFields(await store.findById(row.id)), row);
        // The store is still usable after the aborted change.
        assert.equal((await store.modify(row.id, () => ({ status: 'locked' })))?.status, 'locked');
      }));

      it('writes only the returned patch, not changes made to the row it was handed', withStore(async (store) => {
        const row = await inserted(store);
        const expiry = row.expires_at!.getTime();
        await store.modify(row.id, (current) => {
          tryToSet(current, { status: 'rejected', key_hash: 'tampered' });
          current.expires_at!.setTime(expiry + 86_400_000);
          current.created_at.setTime(0);
          return { key_type: 'sms_bulk' };
        });
        assert.deepEqual(rowFields(await store.findById(row.id)), { ...row, key_type: 'sms_bulk' });
      }));

      it('leaves a field given as undefined unchanged', withStore(async (store) => {
        const row = await inserted(store, { last_used_at: at(3) });
        const patch = { status: undefined, last_used_at: undefined, key_type: 'sms_bulk' };
        await store.modify(row.id, () => patch);
        assert.deepEqual(rowFields(await store.findById(row.id)), { ...row, key_type: 'sms_bulk' });
      }));

      it('returns a copy and keeps none of the patch: mutating either afterwards, Dates included, changes nothing', withStore(async (store) => {
        // Cards are built from the row modify returns: an app that formats a card's expiresAt
        // in place would otherwise move the stored expiry.
        const row = await inserted(store, { last_used_at: at(5) });
        const expiry = at(10_000);
        const patch: ApiKeyRowChange = { expires_at: expiry };
        const written = (await store.modify(row.id, () => patch))!;
        expiry.setTime(0);
        patch.status = 'locked';
        tryToSet(written, { status: 'locked', masked_key: 'changed' });
        written.expires_at!.setTime(1);
        written.created_at.setTime(1);
        written.last_used_at!.setTime(1);
        const found = (await store.findById(row.id))!;
        assert.deepEqual(rowFields(found), { ...row, expires_at: at(10_000) });
        tryToSet(found, { status: 'locked' });
        assert.equal((await store.findById(row.id))?.status, 'allowed');
      }));

      it('refuses a lookup id another row holds with ERR_KEY_EXISTS and writes nothing', withStore(async (store) => {
        const a = await inserted(store);
        const b = await inserted(store);
        await assertKeyExists(store.modify(b.id, () => ({ lookup_id: a.lookup_id, status: 'locked' })));
        assert.deepEqual(rowFields(await store.findByLookupId(a.lookup_id)), a);
        assert.deepEqual(rowFields(await store.findByLookupId(b.lookup_id)), b);
      }));

      it('refuses a lookup id a dead row holds, as insert does: a retired key never points at another row', withStore(async (store) => {
        const dead = await inserted(store, { revoked_at: at(0) });
        const row = await inserted(store);
        await assertKeyExists(store.modify(row.id, () => ({ lookup_id: dead.lookup_id })));
        assert.deepEqual(rowFields(await store.findById(row.id)), row);
      }));

      it('lets exactly one of two concurrent compare-and-set changes win', withStore(async (store, peer) => {
        for (let round = 0; round < rounds; round++) {
          for (const [one, other] of racingHandles(store, peer)) {
            const row = await inserted(store);
            // Read first through both handles: a read cache must not keep the key that lost.
            await assertFound(store, row);
            await assertFound(peer, row);
            const conflict = new Error('lookup id changed meanwhile');
            const regenerate = (next: string, index: number) =>
              (index === 0 ? one : other).modify(row.id, (current) => {
                if (current.lookup_id !== row.lookup_id) throw conflict;
                return { lookup_id: next, last_used_at: null };
              });
            const candidates = [lookupIdOf(), lookupIdOf()];
            const results = await Promise.allSettled(candidates.map((next, index) => regenerate(next, index)));
            const won = results.flatMap((result, index) => (result.status === 'fulfilled' ? [candidates[index]!] : []));
            const lost = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
            assert.equal(won.length, 1, `exactly one change must win${racedOn(one, other)}`);
            assert.deepEqual(lost, [conflict]);
            for (const handle of new Set([store, peer])) {
              await assertFound(handle, { ...row, lookup_id: won[0]!, last_used_at: null });
              assert.equal(rowFields(await handle.findByLookupId(row.lookup_id)), null);
            }
          }
        }
      }));

      it('loses no update when many read-modify-writes of one row run at once', withStore(async (store, peer) => {
        // Not from '': keyward never writes an empty username, and a database that stores ''
        // as NULL (Oracle) is no fault.
        const row = await inserted(store, { webhook_basic_auth_username: 'u' });
        const writers = 12;
        await Promise.all(
          Array.from({ length: writers }, (_, index) =>
            (index % 2 === 0 ? store : peer).modify(row.id, (current) => ({
              webhook_basic_auth_username: `${current.webhook_basic_auth_username}x`,
            })),
          ),
        );
        assert.equal((await store.findById(row.id))?.webhook_basic_auth_username, `u${'x'.repeat(writers)}`);
      }));
    });

    describe('recordUsage', () => {
      it('sets last_used_at of a key never used', withStore(async (store) => {
        const row = await inserted(store);
        await store.recordUsage([usedAt(row, 1_000)]);
        assert.deepEqual(rowFields(await store.findById(row.id)), { ...row, last_used_at: at(1_000) });
      }));

      it('never moves last_used_at backwards', withStore(async (store) => {
        const row = await inserted(store, { last_used_at: at(5_000) });
        await store.recordUsage([usedAt(row, 4_000)]);
        assert.deepEqual(rowFields(await store.findById(row.id))?.last_used_at, at(5_000));
        await store.recordUsage([usedAt(row, 6_000)]);
        assert.deepEqual(rowFields(await store.findById(row.id))?.last_used_at, at(6_000));
      }));

      it('records a whole batch in one call, the latest time of each key winning', withStore(async (store) => {
        const a = await inserted(store);
        const b = await inserted(store, { last_used_at: at(100) });
        const c = await inserted(store, { last_used_at: at(9_000) });
        await store.recordUsage([
          usedAt(a, 300),
          usedAt(b, 700),
          usedAt(a, 900),
          usedAt(c, 8_000),
          usedAt(a, 200),
        ]);
        assert.deepEqual(rowFields(await store.findById(a.id))?.last_used_at, at(900));
        assert.deepEqual(rowFields(await store.findById(b.id))?.last_used_at, at(700));
        assert.deepEqual(rowFields(await store.findById(c.id))?.last_used_at, at(9_000));
      }));

      it('ignores unknown ids and empty batches', withStore(async (store) => {
        const row = await inserted(store);
        await store.recordUsage([]);
        await store.recordUsage([{ id: 'key_unknown', lookup_id: 'unknownLook1', used_at: at(1) }, usedAt(row, 2)]);
        assert.deepEqual(rowFields(await store.findById(row.id))?.last_used_at, at(2));
      }));

      it('skips a use of a lookup id the row no longer has (a regenerate came first)', withStore(async (store) => {
        const row = await inserted(store);
        await assertFound(store, row);
        const replaced = await store.modify(row.id, () => ({ lookup_id: 'ReplacedId01', last_used_at: null }));
        assert.ok(replaced);
        await store.recordUsage([usedAt(row, 500)]);
        assert.equal(rowFields(await store.findById(row.id))?.last_used_at, null);
        await store.recordUsage([usedAt(replaced, 600)]);
        assert.deepEqual(rowFields(await store.findById(row.id))?.last_used_at, at(600));
      }));

      it('never undoes a change made while it writes: a regenerate racing a usage batch keeps its lookup id and hash, unstamped', withStore(async (store, peer) => {
        // A load-set-save write of the whole row (an ORM's) that read the row before the
        // regenerate landed would put the old key back, and the new one would stop working.
        for (let round = 0; round < rounds; round++) {
          for (const { row } of await racedInBatch(store, peer, () => ({ lookup_id: lookupIdOf(), key_hash: `$argon2id$v=19$m=256,t=1,p=1$${'R'.repeat(22)}$${'S'.repeat(43)}`, last_used_at: null }))) {
            const now = rowFields(await store.findById(row.id));
            assert.deepEqual([now?.lookup_id, now?.key_hash], [row.lookup_id, row.key_hash], 'the usage write undid the regenerate: the old key is back');
            assert.equal(now?.last_used_at, null, 'last_used_at must be null after the regenerate: a use of the old key stamped the new one, or a null was not written');
          }
        }
      }));

      it('never undoes a revoke or a status change made while it writes, and the status change keeps the use', withStore(async (store, peer) => {
        // Nor may a modify that saves the whole row it read drop a use written meanwhile.
        for (let round = 0; round < rounds; round++) {
          for (const { row } of await racedInBatch(store, peer, () => ({ revoked_at: at(1) }))) await assertHidden(store, row);
          for (const { row, use } of await racedInBatch(store, peer, () => ({ status: 'suspended' }))) {
            const now = rowFields(await store.findById(row.id));
            assert.equal(now?.status, 'suspended', 'the usage write undid the status change');
            assert.deepEqual(now?.last_used_at, use, 'the use recorded while modify ran was lost (did modify save the whole row it read?)');
          }
        }
      }));

      it('never moves last_used_at backwards when two batches write one key at once', withStore(async (store, peer) => {
        // Two gateway instances flushing together: a read-then-write of the time could let the
        // earlier one land last. A use deferred by one (the other held the row) is sent again.
        for (let round = 0; round < rounds; round++) {
          for (const [one, other] of racingHandles(store, peer)) {
            for (const laterFirst of [true, false]) {
              const row = await inserted(store);
              const [first, second] = (laterFirst ? [9_000, 5_000] : [5_000, 9_000]).map((offset) => [usedAt(row, offset)]) as [KeyUsage[], KeyUsage[]];
              const [firstRecorded, secondRecorded] = await Promise.all([one.recordUsage(first), other.recordUsage(second)]);
              await sendDeferredAgain(one, first, firstRecorded);
              await sendDeferredAgain(other, second, secondRecorded);
              assert.deepEqual(rowFields(await store.findById(row.id))?.last_used_at, at(9_000), `last_used_at must be the later of the two uses${racedOn(one, other)}`);
            }
          }
        }
      }));

      it('skips rows that are not live and leaves them hidden', withStore(async (store) => {
        const deleted = await inserted(store, { soft_deleted: true, last_used_at: at(10) });
        const revoked = await inserted(store, { revoked_at: at(0), last_used_at: null });
        await store.recordUsage([
          usedAt(deleted, 50),
          usedAt(revoked, 50),
        ]);
        await assertHidden(store, deleted);
        await assertHidden(store, revoked);
        const rows = await allRows(store);
        if (rows) {
          assert.deepEqual(rows.get(deleted.id), deleted);
          assert.deepEqual(rows.get(revoked.id), revoked);
        }
      }));

      it('records every use of a batch as large as the authenticator sends', withStore(async (store) => {
        // A store that writes a first chunk of a batch (a fixed-size parameter list) and drops
        // the rest would leave most keys showing "never used".
        const rows = await insertedMany(store, USAGE_BATCH_LIMIT);
        const uses = rows.map((row, index) => usedAt(row, 1_000 + index));
        await sendDeferredAgain(store, uses, await store.recordUsage(uses));
        const found = await inGroups(rows, (row) => store.findById(row.id));
        const unrecorded = found.filter((row, index) => rowFields(row)?.last_used_at?.getTime() !== at(1_000 + index).getTime());
        assert.equal(unrecorded.length, 0, `${unrecorded.length} of ${rows.length} uses were not recorded`);
      }));

      it('never undoes a regenerate, a revoke or a status change that lands while a batch as large as the authenticator sends is written', withStore(async (store, peer) => {
        // A store that writes large batches another way (load the rows, save them back whole)
        // passes the races of small batches and fails here.
        for (const [, usageHandle] of racingHandles(store, peer)) {
          for (const usageFirst of [true, false]) {
            const rows = await insertedMany(store, USAGE_BATCH_LIMIT);
            const [regenerated, revoked, suspended] = [rows[0]!, rows[Math.floor(rows.length / 2)]!, rows.at(-1)!];
            const uses = rows.map((row, index) => usedAt(row, 2_000 + index));
            const nextLookupId = lookupIdOf();
            const changes = () => [
              store.modify(regenerated.id, () => ({ lookup_id: nextLookupId, last_used_at: null })),
              store.modify(revoked.id, () => ({ revoked_at: at(1) })),
              store.modify(suspended.id, () => ({ status: 'suspended' })),
            ];
            await usageRacing(usageHandle, uses, changes, usageFirst);
            const now = rowFields(await store.findById(regenerated.id));
            assert.equal(now?.lookup_id, nextLookupId, 'the usage write undid the regenerate: the old key is back');
            assert.equal(now?.last_used_at, null, 'a use of the old key stamped the regenerated row');
            await assertHidden(store, revoked);
            const kept = rowFields(await store.findById(suspended.id));
            assert.equal(kept?.status, 'suspended', 'the usage write undid the status change');
            assert.deepEqual(kept?.last_used_at, at(2_000 + rows.length - 1), 'the use recorded while modify ran was lost');
          }
        }
      }));

      it('never brings a revoked or suspended row back to reads, when the key was read before and its use is written while the change lands', withStore(async (store, peer) => {
        // A cache of hot rows that recordUsage refreshes with the time ({ ...cached, last_used_at })
        // would put back a row revoked or suspended while the usage write was under way.
        for (let round = 0; round < rounds; round++) {
          for (const [, reader] of racingHandles(store, peer)) {
            for (const usageFirst of [true, false]) {
              const revoked = await inserted(store);
              const suspended = await inserted(store);
              await assertFoundOften(reader, revoked);
              await assertFoundOften(reader, suspended);
              const uses = [usedAt(revoked, 100), usedAt(suspended, 200)];
              const changes = () => [store.modify(revoked.id, () => ({ revoked_at: at(1) })), store.modify(suspended.id, () => ({ status: 'suspended' }))];
              await readingWhile(reader, suspended, () => usageRacing(reader, uses, changes, usageFirst));
              await assertHidden(reader, revoked);
              assert.equal((await reader.findByLookupId(suspended.lookup_id))?.status, 'suspended', 'a usage write brought back the status a racing change replaced');
            }
          }
        }
      }));

      it('keeps no reference to the batch it was given', withStore(async (store) => {
        const row = await inserted(store);
        const usedAt = at(70);
        await store.recordUsage([{ id: row.id, lookup_id: row.lookup_id, used_at: usedAt }]);
        usedAt.setTime(0);
        assert.deepEqual(rowFields(await store.findById(row.id))?.last_used_at, at(70));
      }));
    });
  });
}

/** Both environments: a store may be right for the rows of one and wrong for the other's. */
const ENVIRONMENTS: readonly ApiKeyRow['environment'][] = ['sandbox', 'production'];

/**
 * Text a store must give back as it was given: webhook URLs with capitals, escapes, a query and
 * trailing slashes (keyward stores them normalized, which keeps all of these), a username with
 * capitals, non-ASCII and spaces at its ends, and a sealed password as long as a 2 KiB one seals to.
 */
const TEXT_ROUND_TRIPS: readonly Partial<ApiKeyRow>[] = [
  { webhook_url: 'https://hooks.example.test/In/Receipts/AbC%2F123/?token=XyZ&Next=%C3%A9', webhook_basic_auth_username: ' Hook-Relay Ünïcode ' },
  { webhook_url: 'https://hooks.example.test/', webhook_basic_auth_username: 'MiXeD', webhook_basic_auth_password_sealed: `v1.k1.${'I'.repeat(16)}.${'c'.repeat(2_731)}.${'T'.repeat(22)}` },
  { account_id: 'acct_Ünï code', key_type: 'SMS_Bulk', masked_key: 'sk_test_AbCd…WxYz' },
];


/**
 * Two patches that together set every field a change may set to a value other than null
 * (but `soft_deleted` and `revoked_at`, which end the key: the tests of dead rows write them):
 * each value differs from the last and from what {@link sampleRow} gives.
 */
function everyFieldPatches(): ApiKeyRowChange[] {
  return [1, 2].map((round) => {
    const lookupId = lookupIdOf();
    return {
      key_type: `sms_type_${round}`,
      status: round === 1 ? 'suspended' : 'locked',
      last_used_at: at(40 * round),
      expires_at: at(90_000 * round),
      lookup_id: lookupId,
      key_hash: `$argon2id$v=19$m=256,t=1,p=1$${String(round).repeat(22)}$${'H'.repeat(43)}`,
      masked_key: `sk_test_${lookupId.slice(0, 4)}…Zz0${round}`,
      webhook_url: `https://hooks.example.test/round/${round}`,
      webhook_basic_auth_username: `relay-${round}`,
      webhook_basic_auth_password_sealed: `v1.k${round}.${'P'.repeat(40)}`,
    };
  });
}

/** A usage record of a row's current key, `offsetMs` after the fixed base time. */
function usedAt(row: ApiKeyRow, offsetMs: number): KeyUsage {
  return { id: row.id, lookup_id: row.lookup_id, used_at: at(offsetMs) };
}

/**
 * Writes `uses` through `handle` while `changes` run, the usage write started first or last as
 * `usageFirst` says (which interleaving exposes a store depends on its round trips), then sends
 * the uses it deferred once more, as the authenticator's next flush would.
 *
 * @returns what each change resolved to, in order.
 */
async function usageRacing<T>(handle: KeyStore, uses: readonly KeyUsage[], changes: () => Promise<T>[], usageFirst: boolean): Promise<T[]> {
  let recorded: unknown;
  let written: T[] = [];
  const usage = async () => {
    recorded = await handle.recordUsage(uses);
  };
  const change = async () => {
    written = await Promise.all(changes());
  };
  await Promise.all(usageFirst ? [usage(), change()] : [change(), usage()]);
  await sendDeferredAgain(handle, uses, recorded);
  return written;
}

/**
 * Sends the uses a `recordUsage` call deferred (a row locked by the other side of a race) once
 * more, as the authenticator's next flush does, and checks that each was a use of `batch` and
 * that, with no write under way elsewhere, the store writes it this time.
 */
async function sendDeferredAgain(store: KeyStore, batch: readonly KeyUsage[], recorded: unknown): Promise<void> {
  const deferred = deferredIn(recorded);
  if (deferred.length === 0) return;
  for (const use of deferred) {
    assert.ok(batch.some((given) => given.id === use.id && given.lookup_id === use.lookup_id), 'recordUsage deferred a use it was not given');
  }
  const again = deferredIn(await store.recordUsage(deferred));
  assert.equal(again.length, 0, 'recordUsage deferred a use again while no other write held its row');
}

/** The uses a `recordUsage` result defers: none for a store that resolves to nothing. */
function deferredIn(recorded: unknown): readonly KeyUsage[] {
  const deferred = typeof recorded === 'object' && recorded !== null ? (recorded as RecordUsageResult).deferred : undefined;
  return Array.isArray(deferred) ? deferred : [];
}

/** Asserts that every find method returns the row, every field as given. */
async function assertFound(store: KeyStore, row: ApiKeyRow): Promise<void> {
  assert.deepEqual(rowFields(await store.findByLookupId(row.lookup_id)), row);
  assert.deepEqual(rowFields(await store.findById(row.id)), row);
  assert.deepEqual(rowFields(await store.findLive(row.account_id, row.environment)), row);
}

/**
 * How often a row is read by its lookup id before a change the suite then expects to see:
 * more than a store would read a row before it counts it as hot, and about what one busy key
 * gets in a second.
 */
const READS_OF_A_HOT_ROW = 50;

/**
 * How many calls the suite has under way at once where it makes many: about a pool's worth
 * of connections, so that a store over a remote database is not made to queue for long.
 */
const CONCURRENT_CALLS = 10;

/** `work` done for every item, {@link CONCURRENT_CALLS} at a time; the results in order. */
async function inGroups<T, R>(items: readonly T[], work: (item: T) => R | Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += CONCURRENT_CALLS) {
    results.push(...(await Promise.all(items.slice(start, start + CONCURRENT_CALLS).map(work))));
  }
  return results;
}

/**
 * Reads the row {@link READS_OF_A_HOT_ROW} times by its lookup id, as the authenticator does,
 * {@link CONCURRENT_CALLS} at a time, and asserts that every find method then returns it.
 */
async function assertFoundOften(store: KeyStore, row: ApiKeyRow): Promise<void> {
  for (let read = 0; read < READS_OF_A_HOT_ROW; read += CONCURRENT_CALLS) {
    const found = await Promise.all(Array.from({ length: CONCURRENT_CALLS }, () => store.findByLookupId(row.lookup_id)));
    for (const each of found) assert.deepEqual(rowFields(each), row);
  }
  await assertFound(store, row);
}

/**
 * Sets fields of a row a store handed out, as a careless caller would: a store may hand out
 * frozen rows, which keep their fields (`Reflect.set` then answers false instead of throwing).
 */
function tryToSet(row: ApiKeyRow, fields: Partial<ApiKeyRow>): void {
  for (const [field, value] of Object.entries(fields)) Reflect.set(row, field, value);
}

/**
 * Runs `write` while reading `row` through every find method of `handle`: reads begun just
 * before it, then one read of each method after another (each waiting for the one before)
 * until it is done, at most {@link MAX_READ_ROUNDS_WHILE_WRITING} rounds. Then waits for all
 * of them: some were under way when the write landed. What they found is not checked (either
 * row is right then).
 */
async function readingWhile(handle: KeyStore, row: ApiKeyRow, write: () => Promise<unknown>): Promise<void> {
  // findByLookupId may answer at once, without a promise.
  const readAll = () => Promise.allSettled([handle.findByLookupId(row.lookup_id), handle.findById(row.id), handle.findLive(row.account_id, row.environment)]);
  let landed = false;
  // Reads begun just before the write are the ones a cache-aside store gets wrong.
  const before = readAll();
  const written = write().finally(() => (landed = true));
  for (let round = 0; !landed && round < MAX_READ_ROUNDS_WHILE_WRITING; round++) {
    await readAll();
    await nextTurn();
  }
  await Promise.all([before, written]);
}

/** Most rounds of reads {@link readingWhile} makes, however long the write takes. */
const MAX_READ_ROUNDS_WHILE_WRITING = 20;

/**
 * Runs `work` with the process in the time zone `zone` (`process.env.TZ`, which Node applies at
 * once on its main thread), and puts the zone back after it.
 */
async function inTimeZone<T>(zone: string, work: () => Promise<T>): Promise<T> {
  const before = process.env.TZ;
  process.env.TZ = zone;
  try {
    return await work();
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
}

/** Whether setting `process.env.TZ` changes the time zone here: not in a worker thread. */
async function timeZoneSwitches(): Promise<boolean> {
  const offsetIn = (zone: string) => inTimeZone(zone, async () => new Date(Date.UTC(2031, 0, 1)).getTimezoneOffset());
  return (await offsetIn('Asia/Tokyo')) === -540 && (await offsetIn('America/Los_Angeles')) === 480;
}

/** Asserts that no find method returns the row. */
async function assertHidden(store: KeyStore, row: ApiKeyRow): Promise<void> {
  assert.equal(rowFields(await store.findByLookupId(row.lookup_id)), null, 'findByLookupId returned a dead row');
  assert.equal(rowFields(await store.findById(row.id)), null, 'findById returned a dead row');
  const live = await store.findLive(row.account_id, row.environment);
  assert.notEqual(live?.id, row.id, 'findLive returned a dead row');
}

async function assertKeyExists(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error) => {
    assertKeyExistsError(error);
    return true;
  });
}

function assertKeyExistsError(error: unknown): void {
  const { code, status } = (error ?? {}) as { code?: unknown; status?: unknown };
  assert.equal(code, 'ERR_KEY_EXISTS');
  assert.equal(status, 409, 'ERR_KEY_EXISTS must carry status 409: new ApiKeyAuthError(\'ERR_KEY_EXISTS\', message, { status: 409 })');
}
