import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compressBlock, SHA256_INITIAL_STATE } from '../src/sha256-block.js';

/** SHA-256 of a message that fits in one block with its padding, through compressBlock alone. */
function oneBlockDigest(message: Buffer): string {
  const block = Buffer.alloc(64);
  message.copy(block);
  block[message.length] = 0x80;
  block.writeUInt32BE(message.length * 8, 60);
  const schedule = new Int32Array(64);
  for (let word = 0; word < 16; word++) schedule[word] = block.readInt32BE(word * 4);
  const state = Int32Array.from(SHA256_INITIAL_STATE);
  compressBlock(state, schedule);
  return Buffer.from(Uint32Array.from(state, (word) => word >>> 0).buffer).swap32().toString('hex');
}

describe('compressBlock', () => {
  it('gives the FIPS 180-4 digest of "abc"', () => {
    expect(oneBlockDigest(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('gives the digest Node gives for every message length that fits in one block', () => {
    for (let length = 0; length <= 55; length++) {
      const message = Buffer.from(Array.from({ length }, (_, i) => (i * 89 + length * 7) & 0xff));
      expect(oneBlockDigest(message)).toBe(createHash('sha256').update(message).digest('hex'));
    }
  });
});
