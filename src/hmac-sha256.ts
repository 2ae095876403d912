// A namespace import, not `import { hash }`: on a Node.js without `crypto.hash` (before 20.12)
// the named import would fail the whole ES module at link time with a bare SyntaxError, before
// the constructor could say what is missing.
import * as crypto from 'node:crypto';
import { compressBlock, SHA256_BLOCK_BYTES, SHA256_INITIAL_STATE } from './sha256-block.js';

const DIGEST_BYTES = 32;
const BASE64URL_CODES = Uint8Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', (character) => character.charCodeAt(0));
// 32 bytes in base64url without padding.
const DIGEST_CHARACTERS = 43;

/**
 * HMAC-SHA256 under a random key of its own (one per verification memo, so one per
 * authenticator), which never leaves this process. The result is exactly
 * `createHmac('sha256', key).update(text).digest('base64url')` (the tests compare the two).
 *
 * HMAC(K, m) = H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)). The state after each padded key's block is
 * worked out once, here; a digest then costs three blocks for a key-length text (two inner,
 * one outer) in JavaScript (`sha256-block.ts`), rather than two calls into native code, which
 * inside an HTTP server cost more than the whole hash (see BENCHMARKS.md). Text with a
 * character beyond ASCII, whose UTF-8 bytes differ from its character codes, is hashed by
 * `crypto.hash` instead. The pipeline never sends it any: `extract.ts` refuses a credential
 * that is not visible ASCII before its memo key is worked out.
 *
 * Every key byte is below 0x80, so for `crypto.hash` both padded keys are ASCII and can lead
 * the hashed text as strings, whose UTF-8 bytes are the key bytes themselves; 64 such bytes
 * still carry 448 random bits.
 */
export class ProcessHmacSha256 {
  readonly #innerState = new Int32Array(8);
  readonly #outerState = new Int32Array(8);
  // Scratch space reused by every call, which is safe because a call runs start to end
  // without yielding and calls nothing but built-ins.
  readonly #state = new Int32Array(8);
  readonly #schedule = new Int32Array(64);
  readonly #characterCodes = new Array<number>(DIGEST_CHARACTERS).fill(0);
  // For text beyond ASCII: the inner padded key as a string, and the outer block with room
  // for the inner digest.
  readonly #innerPrefix: string;
  readonly #outerBlock = Buffer.alloc(SHA256_BLOCK_BYTES + DIGEST_BYTES);

  /**
   * @param key - for tests only: 64 bytes, each below 0x80. Random by default.
   * @throws {Error} on a Node.js without `crypto.hash` (before 20.12), at setup.
   */
  constructor(key: Uint8Array = randomAsciiKey()) {
    // Checked here, at setup: without it every request would fail.
    if (typeof crypto.hash !== 'function') throw new Error('keyward needs Node.js 20.12 or later: crypto.hash is missing');
    if (key.length !== SHA256_BLOCK_BYTES || key.some((byte) => byte >= 0x80)) {
      throw new RangeError('the HMAC key must be 64 bytes below 0x80');
    }
    const innerKey = key.map((byte) => byte ^ 0x36);
    const outerKey = key.map((byte) => byte ^ 0x5c);
    this.#absorbKeyBlock(this.#innerState, innerKey);
    this.#absorbKeyBlock(this.#outerState, outerKey);
    this.#innerPrefix = String.fromCharCode(...innerKey);
    this.#outerBlock.set(outerKey);
  }

  /** The HMAC of the UTF-8 bytes of `text`, in base64url (43 characters). */
  digest(text: string): string {
    return isAscii(text) ? this.#digestAscii(text) : this.#digestByNode(text);
  }

  #absorbKeyBlock(state: Int32Array, paddedKey: Uint8Array): void {
    const bytes = new DataView(paddedKey.buffer, paddedKey.byteOffset, paddedKey.byteLength);
    for (let word = 0; word < 16; word++) this.#schedule[word] = bytes.getInt32(word * 4);
    state.set(SHA256_INITIAL_STATE);
    compressBlock(state, this.#schedule);
  }

  #digestAscii(text: string): string {
    const state = this.#state;
    const schedule = this.#schedule;

    // Inner hash: the padded key's block is already in the state; then the text, a 0x80 byte,
    // zeros, and the length in bits of all that was hashed as the last 64 bits of a block.
    copyState(this.#innerState, state);
    const length = text.length;
    const blocks = (length + 9 + SHA256_BLOCK_BYTES - 1) >>> 6;
    for (let block = 0, start = 0; block < blocks; block++, start += SHA256_BLOCK_BYTES) {
      for (let word = 0; word < 16; word++) schedule[word] = paddedTextWord(text, start + word * 4);
      if (block === blocks - 1) writeBitLength(schedule, SHA256_BLOCK_BYTES + length);
      compressBlock(state, schedule);
    }

    // Outer hash: the inner digest is one block with its padding. Its eight words become the
    // block's first eight.
    copyState(state, schedule);
    schedule[8] = 0x80000000 | 0;
    for (let word = 9; word < 14; word++) schedule[word] = 0;
    writeBitLength(schedule, SHA256_BLOCK_BYTES + DIGEST_BYTES);
    copyState(this.#outerState, state);
    compressBlock(state, schedule);
    return this.#base64url(state);
  }

  #digestByNode(text: string): string {
    const inner = crypto.hash('sha256', this.#innerPrefix + text, 'binary');
    this.#outerBlock.write(inner, SHA256_BLOCK_BYTES, DIGEST_BYTES, 'latin1');
    return crypto.hash('sha256', this.#outerBlock, 'base64url');
  }

  /** The state's 32 bytes (big-endian words) in base64url, without padding. */
  #base64url(state: Int32Array): string {
    const codes = this.#characterCodes;
    // Ten groups of three bytes, four characters each; then two bytes (16 bits, with two zero
    // bits added) as three characters.
    for (let group = 0; group < 10; group++) {
      const at = group * 3;
      const bits = (byteOf(state, at) << 16) | (byteOf(state, at + 1) << 8) | byteOf(state, at + 2);
      codes[group * 4] = BASE64URL_CODES[bits >>> 18]!;
      codes[group * 4 + 1] = BASE64URL_CODES[(bits >>> 12) & 63]!;
      codes[group * 4 + 2] = BASE64URL_CODES[(bits >>> 6) & 63]!;
      codes[group * 4 + 3] = BASE64URL_CODES[bits & 63]!;
    }
    const last = ((byteOf(state, 30) << 8) | byteOf(state, 31)) << 2;
    codes[40] = BASE64URL_CODES[last >>> 12]!;
    codes[41] = BASE64URL_CODES[(last >>> 6) & 63]!;
    codes[42] = BASE64URL_CODES[last & 63]!;
    return String.fromCharCode.apply(null, codes);
  }
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The big-endian word at byte `at` of the text followed by 0x80 and zeros. */
function paddedTextWord(text: string, at: number): number {
  if (at + 3 < text.length) {
    return (text.charCodeAt(at) << 24) | (text.charCodeAt(at + 1) << 16) | (text.charCodeAt(at + 2) << 8) | text.charCodeAt(at + 3);
  }
  // Past the 0x80 byte: zeros, as most of a key's second block is.
  if (at > text.length) return 0;
  return (paddedByte(text, at) << 24) | (paddedByte(text, at + 1) << 16) | (paddedByte(text, at + 2) << 8) | paddedByte(text, at + 3);
}

function paddedByte(text: string, at: number): number {
  if (at < text.length) return text.charCodeAt(at);
  return at === text.length ? 0x80 : 0;
}

/** A message's length in bits, as the last two words of its last block. */
function writeBitLength(schedule: Int32Array, bytes: number): void {
  const bits = bytes * 8;
  schedule[14] = Math.floor(bits / 2 ** 32) | 0;
  schedule[15] = bits | 0;
}

function copyState(from: Int32Array, to: Int32Array): void {
  for (let word = 0; word < 8; word++) to[word] = from[word]!;
}

function byteOf(state: Int32Array, at: number): number {
  return (state[at >>> 2]! >>> (24 - 8 * (at & 3))) & 0xff;
}

/** 64 random bytes, each below 0x80: the default key. Exported for its test. */
export function randomAsciiKey(): Uint8Array {
  return crypto.randomBytes(SHA256_BLOCK_BYTES).map((byte) => byte & 0x7f);
}
