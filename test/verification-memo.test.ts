import { describe, expect, it } from 'vitest';
import { holdsFor, VerificationMemo, type MemoSubject } from '../src/verification-memo.js';

const ROW = { id: 'key_1', lookup_id: 'lookup000001', account_id: 'acct_1', environment: 'production' } as const;
/** A row with this stored hash, and any ids changed. */
const row = (key_hash: string, ids: Partial<MemoSubject> = {}): MemoSubject => ({ ...ROW, ...ids, key_hash });

describe('VerificationMemo', () => {
  it('gives a result only for the stored hash it was checked against, so a new hash never meets an old entry', () => {
    const memo = new VerificationMemo();
    memo.set(memo.keyOf('key-1'), row('hash-a'), true);
    expect(memo.get(memo.keyOf('key-1'), row('hash-a'))).toBe(true);
    expect(memo.get(memo.keyOf('key-1'), row('hash-b'))).toBeUndefined();
    expect(memo.get(memo.keyOf('key-2'), row('hash-a'))).toBeUndefined();
  });

  it('keeps only the latest result of a key', () => {
    const memo = new VerificationMemo();
    const key = memo.keyOf('key-1');
    memo.set(key, row('hash-a'), false);
    memo.set(key, row('hash-b'), true);
    expect([memo.get(key, row('hash-a')), memo.get(key, row('hash-b')), memo.size]).toEqual([undefined, true, 1]);
    memo.set(key, row('hash-c'), false);
    expect([memo.get(key, row('hash-b')), memo.get(key, row('hash-c')), memo.hasMatched(key)]).toEqual([undefined, false, false]);
  });

  it('tells whether a key has matched before any row is read, and only for matches', () => {
    const memo = new VerificationMemo();
    memo.set(memo.keyOf('genuine'), row('hash'), true);
    memo.set(memo.keyOf('forged'), row('hash'), false);
    expect(memo.hasMatched(memo.keyOf('genuine'))).toBe(true);
    expect(memo.hasMatched(memo.keyOf('forged'))).toBe(false);
    expect(memo.hasMatched(memo.keyOf('never-seen'))).toBe(false);
  });

  it('gives the row and stored hash a key last matched, and nothing for a key whose latest result is a mismatch', () => {
    const memo = new VerificationMemo();
    const key = memo.keyOf('genuine');
    memo.set(key, row('hash-a'), true);
    expect(memo.matched(key)).toEqual(row('hash-a'));
    memo.set(key, row('hash-b'), false);
    expect(memo.matched(key)).toBeUndefined();
    expect(memo.matched(memo.keyOf('never-seen'))).toBeUndefined();
  });

  it.each([
    ['key id', { id: 'key_2' }],
    ['lookup id', { lookup_id: 'lookup000002' }],
    ['account', { account_id: 'acct_2' }],
    ['environment', { environment: 'sandbox' }],
  ] as const)('gives no result for a row with the same hash but another %s, as a peppered hash is bound to its row', (_field, ids) => {
    const memo = new VerificationMemo();
    const key = memo.keyOf('genuine');
    memo.set(key, row('hash'), true);
    memo.set(memo.keyOf('forged'), row('hash'), false);
    expect(memo.get(key, row('hash', ids))).toBeUndefined();
    expect(memo.get(memo.keyOf('forged'), row('hash', ids))).toBeUndefined();
    expect(holdsFor(memo.matched(key), row('hash', ids))).toBe(false);
    expect(holdsFor(memo.matched(key), row('hash'))).toBe(true);
  });

  it('keeps its own copy of the fields it compares, not the row it was given', () => {
    const memo = new VerificationMemo();
    const key = memo.keyOf('genuine');
    const given = { ...row('hash'), status: 'allowed' };
    memo.set(key, given, true);
    given.account_id = 'acct_2';
    expect(memo.matched(key)).toEqual(row('hash'));
  });

  it('never holds the presented key in its memo key', () => {
    const memo = new VerificationMemo();
    expect(memo.keyOf('sk_test_visible')).not.toContain('visible');
  });

  it('uses a per-process secret: two memos give different keys for the same input', () => {
    expect(new VerificationMemo().keyOf('k')).not.toBe(new VerificationMemo().keyOf('k'));
  });

  it('holds 5,000 verified keys of typical rows by default, as documented (10,000 entries, 5 MiB, split evenly)', () => {
    const memo = new VerificationMemo();
    const hash = `$argon2id$v=19$m=19456,t=2,p=1$${'s'.repeat(22)}$${'h'.repeat(43)}`;
    for (let i = 0; i < 10_000; i++) memo.set(memo.keyOf(`key-${i}`), row(hash, { id: `key_${String(i).padStart(20, '0')}` }), true);
    expect(memo.size).toBe(5_000);
  });

  it('weighs an entry by its strings, two bytes a character beyond Latin-1, so long ids fill the byte bound sooner', () => {
    const filled = (accountId: string) => {
      const memo = new VerificationMemo({ maxBytes: 100_000 });
      for (let i = 0; i < 1_000; i++) memo.set(memo.keyOf(`key-${i}`), row('hash', { account_id: accountId }), true);
      return memo.size;
    };
    // Half of 100,000 bytes, at 300 bytes of overhead and the strings' characters per entry.
    const overhead = 300 + 'hash'.length + ROW.id.length + ROW.lookup_id.length + ROW.environment.length;
    expect(filled('acct_1')).toBe(Math.floor(50_000 / (overhead + 6)));
    expect(filled('a'.repeat(200))).toBe(Math.floor(50_000 / (overhead + 200)));
    expect(filled('日'.repeat(200))).toBe(Math.floor(50_000 / (2 * (overhead - 300) + 300 + 400)));
  });

  it('keeps no entry heavier than half its byte bound, so one long account id cannot overrun it', () => {
    const memo = new VerificationMemo({ maxBytes: 2_048 });
    memo.set(memo.keyOf('typical'), row('hash'), true);
    memo.set(memo.keyOf('heavy'), row('hash', { account_id: 'a'.repeat(1_000) }), true);
    expect(memo.get(memo.keyOf('typical'), row('hash'))).toBe(true);
    expect(memo.get(memo.keyOf('heavy'), row('hash', { account_id: 'a'.repeat(1_000) }))).toBeUndefined();
  });

  it('keeps verified keys while a flood of distinct wrong keys fills the memo', () => {
    const memo = new VerificationMemo({ maxEntries: 100 });
    const genuine = memo.keyOf('genuine');
    memo.set(genuine, row('hash'), true);
    for (let i = 0; i < 10_000; i++) memo.set(memo.keyOf(`forged-${i}`), row('hash'), false);
    expect(memo.get(genuine, row('hash'))).toBe(true);
    expect(memo.size).toBeLessThanOrEqual(100);
  });
});
