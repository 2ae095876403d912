import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compressBlock, startBlake2s256 } from '../src/blake2s-block.js';

/** BLAKE2s-256 of a message of up to three blocks, through compressBlock alone. */
function digestOf(message: Buffer): string {
  const state = new Int32Array(8);
  startBlake2s256(state);
  const blocks = Math.max(1, Math.ceil(message.length / 64));
  const padded = Buffer.alloc(blocks * 64);
  message.copy(padded);
  for (let block = 0; block < blocks; block++) {
    const words = Int32Array.from({ length: 16 }, (_, word) => padded.readInt32LE(block * 64 + word * 4));
    const last = block === blocks - 1;
    compressBlock(state, words, last ? message.length : (block + 1) * 64, last);
  }
  return Buffer.from(state.buffer).toString('hex');
}

describe('compressBlock', () => {
  it('gives the RFC 7693 digest of "abc"', () => {
    expect(digestOf(Buffer.from('abc'))).toBe('508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982');
  });

  it('gives the digest Node gives for every message length up to three blocks', () => {
    for (let length = 0; length <= 192; length++) {
      const message = Buffer.from(Array.from({ length }, (_, i) => (i * 89 + length * 7) & 0xff));
      expect(digestOf(message)).toBe(createHash('blake2s256').update(message).digest('hex'));
    }
  });
});
