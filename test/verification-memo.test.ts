import { describe, expect, it } from 'vitest';
import { VerificationMemo } from '../src/verification-memo.js';

describe('VerificationMemo', () => {
  it('keys entries by key and stored hash together, so a new hash never meets an old entry', () => {
    const memo = new VerificationMemo();
    memo.set(memo.keyOf('key-1', 'hash-a'), true);
    expect(memo.get(memo.keyOf('key-1', 'hash-a'))).toBe(true);
    expect(memo.get(memo.keyOf('key-1', 'hash-b'))).toBeUndefined();
    expect(memo.get(memo.keyOf('key-2', 'hash-a'))).toBeUndefined();
  });

  it('never holds the presented key in its memo key', () => {
    const memo = new VerificationMemo();
    expect(memo.keyOf('sk_test_visible', 'hash')).not.toContain('visible');
  });

  it('uses a per-process secret: two memos give different keys for the same input', () => {
    expect(new VerificationMemo().keyOf('k', 'h')).not.toBe(new VerificationMemo().keyOf('k', 'h'));
  });

  it('keeps verified keys while a flood of distinct wrong keys fills the memo', () => {
    const memo = new VerificationMemo({ maxEntries: 100 });
    const genuine = memo.keyOf('genuine', 'hash');
    memo.set(genuine, true);
    for (let i = 0; i < 10_000; i++) memo.set(memo.keyOf(`forged-${i}`, 'hash'), false);
    expect(memo.get(genuine)).toBe(true);
    expect(memo.size).toBeLessThanOrEqual(100);
  });
});
