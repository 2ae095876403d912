/**
 * close() lets the decisions under way finish before the last usage flush, and a key whose
 * hash rehashOnSuccess rewrote keeps passing from the memo, even while the Argon2 pool is full.
 */
import { describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore, type ApiKeyAuthOptions, type AuthResult } from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { CaptureLogger } from './helpers/capture-logger.js';
import { bearer, forgeSecret } from './helpers/keys.js';

// Dearer than TEST_ARGON2 (m=256), so a key issued with TEST_ARGON2 asks for a rehash.
const POLICY = { memoryKiB: 2048, iterations: 2, parallelism: 1 };

async function issueKeys(store: MemoryKeyStore, count: number): Promise<{ key: string; keyId: string }[]> {
  const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
  const keys = [];
  for (let i = 0; i < count; i++) {
    const { key, card } = await manager.issue({ accountId: `acct_${i}`, environment: 'sandbox' });
    keys.push({ key, keyId: card.keyId });
  }
  return keys;
}

const statusOf = (result: AuthResult) => (result.ok ? 200 : result.response.status);

/** An authenticator that rehashes onto POLICY, on a pool of one thread and `maxQueue` places. */
function rehashingAuth(store: MemoryKeyStore, maxQueue: number, options: Partial<ApiKeyAuthOptions> = {}) {
  return createApiKeyAuth({ store, environments: ['sandbox'], argon2: POLICY, argon2Pool: { threads: 1, maxQueue }, rehashOnSuccess: true, ...options });
}

function storedHashOf(store: MemoryKeyStore, keyId: string): string {
  return store.allRows().find((row) => row.id === keyId)!.key_hash;
}

async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; waited < 5_000 && !condition(); waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(condition()).toBe(true);
}

describe('close() with decisions under way', () => {
  it('answers the running check, refuses the waiting ones with 503, records the running key\'s use, and starts no rehash', async () => {
    const store = new MemoryKeyStore();
    const [a, b, c] = await issueKeys(store, 3);
    const logger = new CaptureLogger();
    const auth = rehashingAuth(store, 1, { logger });

    const running = auth.authenticate({ headers: bearer(a!.key) });
    const waiting = auth.authenticate({ headers: bearer(b!.key) });
    const refused = auth.authenticate({ headers: bearer(c!.key) });
    await auth.close();

    expect((await Promise.all([running, waiting, refused])).map(statusOf)).toEqual([200, 503, 503]);
    const used = store.allRows().find((row) => row.id === a!.keyId)!;
    expect(used.last_used_at).toBeInstanceOf(Date);
    expect(logger.entries.filter((entry) => String(entry.fields.event).startsWith('keyward.rehash'))).toEqual([]);
  });
});

describe('close() while a rehash runs', () => {
  it('refuses with 503 a first-seen key waiting behind the rehash, rather than letting it run once the rehash is done', async () => {
    const store = new MemoryKeyStore();
    const [a, b] = await issueKeys(store, 2);
    const oldHash = storedHashOf(store, a!.keyId);
    // Dear enough that the rehash is still running when close() is called.
    const auth = rehashingAuth(store, 1, { argon2: { memoryKiB: 32768, iterations: 3, parallelism: 1 }, throttle: false });
    expect(statusOf(await auth.authenticate({ headers: bearer(a!.key) }))).toBe(200);

    // The rehash of a's hash holds the only thread; b waits for it.
    const waiting = auth.authenticate({ headers: bearer(b!.key) });
    await auth.close();

    expect(statusOf(await waiting)).toBe(503);
    // The running rehash was let finish, and close() waited for its write.
    expect(storedHashOf(store, a!.keyId)).not.toBe(oldHash);
  });
});

describe('rehashOnSuccess and the memo', () => {
  it('lets a key whose hash was just rewritten pass from the memo while the pool is full', async () => {
    const store = new MemoryKeyStore();
    const [a, b] = await issueKeys(store, 2);
    const oldHash = storedHashOf(store, a!.keyId);
    const auth = rehashingAuth(store, 0, { throttle: false });

    expect(statusOf(await auth.authenticate({ headers: bearer(a!.key) }))).toBe(200);
    await until(() => storedHashOf(store, a!.keyId) !== oldHash);

    // A forgery of the other key takes the pool's one thread; the rehashed key needs none.
    const forgery = auth.authenticate({ headers: bearer(forgeSecret(b!.key)) });
    const decided = auth.decide({ headers: bearer(a!.key) });
    expect(decided).not.toBeInstanceOf(Promise);
    expect(statusOf(decided as AuthResult)).toBe(200);
    expect(statusOf(await forgery)).toBe(401);
    await auth.close();
  });
});

describe('rehashOnSuccess and the pool bound', () => {
  it('gives a rehash a place of its own: a first-seen key that arrives while one runs on the only thread waits for it, not 503', async () => {
    const store = new MemoryKeyStore();
    const [a, b, c] = await issueKeys(store, 3);
    const oldHash = storedHashOf(store, a!.keyId);
    // Dear enough that the rehash is still running when the next keys arrive.
    const auth = rehashingAuth(store, 0, { argon2: { memoryKiB: 32768, iterations: 3, parallelism: 1 }, throttle: false });

    expect(statusOf(await auth.authenticate({ headers: bearer(a!.key) }))).toBe(200);
    // The rehash of a's hash now holds the only thread; b takes the one verification place.
    const first = auth.authenticate({ headers: bearer(b!.key) });
    const second = auth.authenticate({ headers: bearer(c!.key) });
    expect((await Promise.all([first, second])).map(statusOf)).toEqual([200, 503]);
    await until(() => storedHashOf(store, a!.keyId) !== oldHash);
    await auth.close();
  });
});
