import { describe, expect, it, vi } from 'vitest';
import { createApiKeyAuth, hashSecret, parseApiKey, type AuthDecision } from 'keyward';
import { CaptureLogger } from './helpers/capture-logger.js';
import { Argon2PoolBusyError } from '../src/argon2-pool.js';
import { computeArgon2id } from '../src/hash.js';
import { costNoArgon2Run, SecretVerifier, type Argon2Runner, type CheckedRow } from '../src/secret-verifier.js';
import { VerificationMemo } from '../src/verification-memo.js';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { bearer, issueKey, wrongSecretOf } from './helpers/perf-keys.js';

// Counts the real in-thread Argon2 runs the authenticator makes (argon2Pool: false).
vi.mock('../src/hash.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/hash.js')>();
  return { ...original, computeArgon2id: vi.fn(original.computeArgon2id) };
});
const argon2Runs = vi.mocked(computeArgon2id);

/** A runner that counts its runs and delegates to the real computation. */
function countingRunner(): { run: Argon2Runner; count: () => number } {
  let count = 0;
  return {
    run: (...args) => {
      count++;
      return computeArgon2id(...args);
    },
    count: () => count,
  };
}

const SECRET = 'S3cretS3cretS3cretS3cretS3cret00';
/** The row a check is made against: fixed ids and this stored hash. */
const rowWith = (key_hash: string): CheckedRow => ({ id: 'key_1', lookup_id: 'lookup000001', account_id: 'acct_1', environment: 'production', key_hash });
const KEY = 'presented-key-stand-in';

describe('SecretVerifier', () => {
  it('runs Argon2 once for identical checks in flight together, all get the same answer, and one counts the run', async () => {
    const stored = await hashSecret(SECRET, TEST_ARGON2);
    const runner = countingRunner();
    const verifier = new SecretVerifier(new VerificationMemo(), runner.run);

    const checks = await Promise.all(
      Array.from({ length: 25 }, () => verifier.check(`${KEY}-wrong`, 'WrongWrongWrongWrongWrongWrong00', rowWith(stored))),
    );

    expect(runner.count()).toBe(1);
    expect(checks.map((check) => check.ok && check.matches)).toEqual(Array(25).fill(false));
    // The attempt throttle counts a failure per Argon2 run, not per request that waited for it.
    expect(checks.filter((check) => !costNoArgon2Run(check))).toHaveLength(1);
  });

  it('shares one Argon2 run among identical checks in flight without a memo too', async () => {
    const stored = await hashSecret(SECRET, TEST_ARGON2);
    const runner = countingRunner();
    const verifier = new SecretVerifier(undefined, runner.run);

    const checks = await Promise.all(
      Array.from({ length: 25 }, () => verifier.check(`${KEY}-wrong`, 'WrongWrongWrongWrongWrongWrong00', rowWith(stored))),
    );

    expect(runner.count()).toBe(1);
    expect(checks.filter((check) => !costNoArgon2Run(check))).toHaveLength(1);
    await verifier.check(`${KEY}-wrong`, 'WrongWrongWrongWrongWrongWrong00', rowWith(stored));
    expect(runner.count()).toBe(2);
  });

  it('remembers a failure, so the same wrong key sent again runs no Argon2', async () => {
    const stored = await hashSecret(SECRET, TEST_ARGON2);
    const runner = countingRunner();
    const verifier = new SecretVerifier(new VerificationMemo(), runner.run);

    await verifier.check(`${KEY}-wrong`, 'WrongWrongWrongWrongWrongWrong00', rowWith(stored));
    const again = await verifier.check(`${KEY}-wrong`, 'WrongWrongWrongWrongWrongWrong00', rowWith(stored));

    expect(again).toMatchObject({ ok: true, matches: false });
    expect(costNoArgon2Run(again)).toBe(true);
    expect(runner.count()).toBe(1);
  });

  it('does not share between different keys or different stored hashes', async () => {
    const [first, second] = await Promise.all([hashSecret(SECRET, TEST_ARGON2), hashSecret(SECRET, TEST_ARGON2)]);
    const runner = countingRunner();
    const verifier = new SecretVerifier(new VerificationMemo(), runner.run);

    const checks = await Promise.all([
      verifier.check(KEY, SECRET, rowWith(first)),
      verifier.check(KEY, SECRET, rowWith(second)),
      verifier.check(`${KEY}-2`, 'WrongWrongWrongWrongWrongWrong00', rowWith(first)),
    ]);

    expect(runner.count()).toBe(3);
    expect(checks.map((check) => check.ok && check.matches)).toEqual([true, true, false]);
  });

  it('reports overloaded to every sharer when the pool refuses, and remembers nothing', async () => {
    const stored = await hashSecret(SECRET, TEST_ARGON2);
    let busy = true;
    const real = countingRunner();
    const run: Argon2Runner = (...args) => (busy ? Promise.reject(new Argon2PoolBusyError('busy')) : real.run(...args));
    const verifier = new SecretVerifier(new VerificationMemo(), run);

    const refused = await Promise.all([1, 2, 3].map(() => verifier.check(KEY, SECRET, rowWith(stored))));
    expect(refused).toEqual(Array(3).fill({ ok: false, fault: 'overloaded' }));

    busy = false;
    expect(await verifier.check(KEY, SECRET, rowWith(stored))).toEqual({ ok: true, matches: true });
    expect(real.count()).toBe(1);
  });

  it('lets any other runner failure through to the caller', async () => {
    const stored = await hashSecret(SECRET, TEST_ARGON2);
    const verifier = new SecretVerifier(new VerificationMemo(), () => Promise.reject(new RangeError('worker died')));

    await expect(verifier.check(KEY, SECRET, rowWith(stored))).rejects.toThrow('worker died');
  });
});

describe('authenticator: identical verifications in flight', () => {
  it('makes 40 concurrent requests with the same wrong key cost one Argon2 run, each answered 401', async () => {
    const { store, key } = await issueKey();
    const auth = createApiKeyAuth({ store, argon2Pool: false });
    const forged = wrongSecretOf(key);
    expect(parseApiKey(forged).ok).toBe(true);
    argon2Runs.mockClear();

    const results = await Promise.all(Array.from({ length: 40 }, () => auth.authenticate(bearer(forged))));

    expect(argon2Runs).toHaveBeenCalledTimes(1);
    expect(new Set(results.map((result) => (result.ok ? 200 : result.response.status)))).toEqual(new Set([401]));
    await auth.close();
  });

  it('answers 500 to a key whose Argon2 run fails, and names the key in the decision and the log line', async () => {
    const { store, key, keyId, lookupId } = await issueKey();
    const decisions: AuthDecision[] = [];
    const logger = new CaptureLogger([key]);
    const auth = createApiKeyAuth({ store, argon2Pool: false, logger, onDecision: (decision) => decisions.push(decision) });
    argon2Runs.mockRejectedValueOnce(new RangeError('could not allocate memory'));

    const result = await auth.authenticate(bearer(key));

    expect(result.ok ? 200 : result.response.status).toBe(500);
    expect(decisions.at(-1)).toMatchObject({ reason: 'internal_error', keyId, lookupId });
    expect(logger.entries.find((entry) => entry.level === 'error')?.message).toBe(`keyward: internal error for key ${keyId} (RangeError: could not allocate memory)`);
    logger.assertNoLeaks();
    await auth.close();
  });

  it('makes 40 concurrent requests with the valid key cost one Argon2 run, each passing', async () => {
    const { store, key } = await issueKey();
    const auth = createApiKeyAuth({ store, argon2Pool: false });
    argon2Runs.mockClear();

    const results = await Promise.all(Array.from({ length: 40 }, () => auth.authenticate(bearer(key))));

    expect(argon2Runs).toHaveBeenCalledTimes(1);
    expect(results.every((result) => result.ok)).toBe(true);
    await auth.close();
  });
});
