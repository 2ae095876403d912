import { describe, expect, it } from 'vitest';
import { VerificationMemo } from '../src/verification-memo.js';

describe('VerificationMemo', () => {
  it('gives a result only for the stored hash it was checked against, so a new hash never meets an old entry', () => {
    const memo = new VerificationMemo();
    memo.set(memo.keyOf('key-1'), 'hash-a', true);
    expect(memo.get(memo.keyOf('key-1'), 'hash-a')).toBe(true);
    expect(memo.get(memo.keyOf('key-1'), 'hash-b')).toBeUndefined();
    expect(memo.get(memo.keyOf('key-2'), 'hash-a')).toBeUndefined();
  });

  it('keeps only the latest result of a key', () => {
    const memo = new VerificationMemo();
    const key = memo.keyOf('key-1');
    memo.set(key, 'hash-a', false);
    memo.set(key, 'hash-b', true);
    expect([memo.get(key, 'hash-a'), memo.get(key, 'hash-b'), memo.size]).toEqual([undefined, true, 1]);
    memo.set(key, 'hash-c', false);
    expect([memo.get(key, 'hash-b'), memo.get(key, 'hash-c'), memo.hasMatched(key)]).toEqual([undefined, false, false]);
  });

  it('tells whether a key has matched before any row is read, and only for matches', () => {
    const memo = new VerificationMemo();
    memo.set(memo.keyOf('genuine'), 'hash', true);
    memo.set(memo.keyOf('forged'), 'hash', false);
    expect(memo.hasMatched(memo.keyOf('genuine'))).toBe(true);
    expect(memo.hasMatched(memo.keyOf('forged'))).toBe(false);
    expect(memo.hasMatched(memo.keyOf('never-seen'))).toBe(false);
  });

  it('gives the stored hash a key last matched, and nothing for a key whose latest result is a mismatch', () => {
    const memo = new VerificationMemo();
    const key = memo.keyOf('genuine');
    memo.set(key, 'hash-a', true);
    expect(memo.matchedHash(key)).toBe('hash-a');
    memo.set(key, 'hash-b', false);
    expect(memo.matchedHash(key)).toBeUndefined();
    expect(memo.matchedHash(memo.keyOf('never-seen'))).toBeUndefined();
  });

  it('never holds the presented key in its memo key', () => {
    const memo = new VerificationMemo();
    expect(memo.keyOf('sk_test_visible')).not.toContain('visible');
  });

  it('uses a per-process secret: two memos give different keys for the same input', () => {
    expect(new VerificationMemo().keyOf('k')).not.toBe(new VerificationMemo().keyOf('k'));
  });

  it('keeps verified keys while a flood of distinct wrong keys fills the memo', () => {
    const memo = new VerificationMemo({ maxEntries: 100 });
    const genuine = memo.keyOf('genuine');
    memo.set(genuine, 'hash', true);
    for (let i = 0; i < 10_000; i++) memo.set(memo.keyOf(`forged-${i}`), 'hash', false);
    expect(memo.get(genuine, 'hash')).toBe(true);
    expect(memo.size).toBeLessThanOrEqual(100);
  });
});
