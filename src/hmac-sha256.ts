import { randomBytes } from 'node:crypto';
import { compressBlock, SHA256_BLOCK_BYTES, SHA256_INITIAL_STATE } from './sha256-block.js';

const DIGEST_BYTES = 32;
// A keyward key's 58 characters pack into 51 bytes: the inner hash's text fits one block.
const INITIAL_TEXT_WORDS = 16;

/**
 * HMAC-SHA256 of a text under a random key of its own (one per verification memo, so one per
 * authenticator), which never leaves this process. It is worked out in JavaScript
 * (`sha256-block.ts`) rather than by two calls into Node's native `crypto.hash`, which inside
 * an HTTP server cost more than the whole hash (see BENCHMARKS.md).
 *
 * The message is not the text's UTF-8 but its UTF-16 code units packed by {@link packText}:
 * seven bits each for ASCII text, which fits a 58-character key into one SHA-256 block where
 * its UTF-8 takes two. The packing is one-to-one, so distinct texts still get distinct
 * messages. With the state after each padded key's block worked out once, here, a key costs
 * two blocks (one inner, one outer), not three.
 *
 * The pipeline hashes only key-length text that `extract.ts` found to be visible ASCII; text
 * beyond ASCII or of any length is hashed as correctly (the tests check it against Node's HMAC),
 * so that the class holds no assumption a caller could break.
 */
export class ProcessHmacSha256 {
  readonly #innerState = new Int32Array(8);
  readonly #outerState = new Int32Array(8);
  // Scratch space reused by every call, which is safe because a call runs start to end
  // without yielding and calls nothing but built-ins.
  readonly #state = new Int32Array(8);
  readonly #schedule = new Int32Array(64);
  #words = new Int32Array(INITIAL_TEXT_WORDS);

  /**
   * @param key - for tests only: 64 bytes. Random by default.
   */
  constructor(key: Uint8Array = randomBytes(SHA256_BLOCK_BYTES)) {
    if (key.length !== SHA256_BLOCK_BYTES) throw new RangeError('the HMAC key must be 64 bytes');
    absorbKeyBlock(this.#innerState, this.#schedule, key.map((byte) => byte ^ 0x36));
    absorbKeyBlock(this.#outerState, this.#schedule, key.map((byte) => byte ^ 0x5c));
  }

  /**
   * The HMAC of {@link packText}(`text`): its 32 bytes, in order, as 16 UTF-16 code units.
   * Meant for a Map's key, never for display: it is cheaper to build and to look up than
   * base64url's 43 characters, and any code unit, a lone surrogate too, is a valid one.
   */
  digest(text: string): string {
    const state = this.#state;
    const schedule = this.#schedule;

    // Inner hash: the padded key's block is already in the state; then the packed text, a
    // 1 bit (SHA-256's 0x80 byte), zeros, and the length in bits of all that was hashed as
    // the last 64 bits of a block.
    this.#ensureRoom(text.length, 7);
    let length = packWords(text, 7, this.#words);
    if (length < 0) {
      this.#ensureRoom(text.length, 16);
      length = packWords(text, 16, this.#words);
    }
    const words = this.#words;
    copyState(this.#innerState, state);
    const blocks = (length + 9 + SHA256_BLOCK_BYTES - 1) >>> 6;
    for (let block = 0, start = 0; block < blocks; block++, start += 16) {
      for (let word = 0; word < 16; word++) schedule[word] = words[start + word]!;
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
    return digestText(state);
  }

  /**
   * Makes the scratch words hold a text this long packed `width` bits a code unit, with its
   * padding. The seven-bit pass needs no more room when it meets a wider code unit: it still
   * writes seven bits' worth of words for each before it gives up.
   */
  #ensureRoom(characters: number, width: 7 | 16): void {
    // Plain arithmetic, not `>>>`: 16 bits for each of 2^28 characters would wrap at 32 bits.
    const bytes = Math.ceil((2 + width * characters) / 8);
    const words = Math.ceil((bytes + 9) / SHA256_BLOCK_BYTES) * 16;
    if (this.#words.length < words) this.#words = new Int32Array(words);
  }
}

/**
 * The message a text's HMAC is taken of, as bits: a flag, 0 if every code unit is ASCII and
 * 1 if not; each UTF-16 code unit in 7 bits (ASCII) or 16; a 1; zeros to a whole byte. The
 * flag keeps the two widths apart and the last 1 marks where the text ends, so no two texts
 * pack alike. Unlike UTF-8, a lone surrogate keeps its own code. This is the reference the
 * tests check `packWords`, the packing {@link ProcessHmacSha256} uses, against.
 *
 * @example
 * ```ts
 * packText('A'); // 0 1000001 1 → [0b01000001, 0b10000000]
 * ```
 */
export function packText(text: string): Uint8Array {
  const ascii = isAscii(text);
  let bits = ascii ? '0' : '1';
  for (let i = 0; i < text.length; i++) bits += text.charCodeAt(i).toString(2).padStart(ascii ? 7 : 16, '0');
  bits += '1';
  bits = bits.padEnd(Math.ceil(bits.length / 8) * 8, '0');
  return Uint8Array.from({ length: bits.length / 8 }, (_, at) => parseInt(bits.slice(at * 8, at * 8 + 8), 2));
}

/**
 * Packs the text as {@link packText} does, straight into big-endian words, followed by
 * SHA-256's 1 bit and zeros to the end of the block that holds them (the length is the
 * caller's). Returns the packed text's length in bytes, or -1 when `width` is 7 and a code
 * unit needs more. `words` must have room (see `#ensureRoom`).
 */
function packWords(text: string, width: 7 | 16, words: Int32Array): number {
  // Bits not yet written, in the low end of `pending`: the flag bit first.
  let pending = width === 7 ? 0 : 1;
  let pendingBits = 1;
  let at = 0;
  let allBits = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    allBits |= code;
    if (pendingBits <= 32 - width) {
      pending = (pending << width) | code;
      pendingBits += width;
      if (pendingBits === 32) {
        words[at++] = pending;
        pending = 0;
        pendingBits = 0;
      }
    } else {
      // The code unit straddles two words: its high bits end this one.
      const spill = pendingBits + width - 32;
      words[at++] = (pending << (32 - pendingBits)) | (code >>> spill);
      pending = code & ((1 << spill) - 1);
      pendingBits = spill;
    }
  }
  if (width === 7 && allBits > 0x7f) return -1;
  // The end bit, zeros to the byte's end, then SHA-256's 1 bit (a 0x80 byte) in the next byte,
  // which may start the next word.
  const endBits = pendingBits + 1;
  const messageBits = (endBits + 7) & ~7;
  const last = ((pending << 1) | 1) << (32 - endBits);
  let length: number;
  if (messageBits === 32) {
    words[at++] = last;
    length = at * 4;
    words[at] = 0x80000000 | 0;
  } else {
    length = at * 4 + messageBits / 8;
    words[at] = last | (0x80 << (24 - messageBits));
  }
  const end = ((length + 9 + SHA256_BLOCK_BYTES - 1) >>> 6) * 16;
  words.fill(0, at + 1, end);
  return length;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function absorbKeyBlock(state: Int32Array, schedule: Int32Array, paddedKey: Uint8Array): void {
  const bytes = new DataView(paddedKey.buffer, paddedKey.byteOffset, paddedKey.byteLength);
  for (let word = 0; word < 16; word++) schedule[word] = bytes.getInt32(word * 4);
  state.set(SHA256_INITIAL_STATE);
  compressBlock(state, schedule);
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

/** The state's eight big-endian words as sixteen 16-bit code units, high half first. */
function digestText(state: Int32Array): string {
  return String.fromCharCode(
    state[0]! >>> 16, state[0]! & 0xffff, state[1]! >>> 16, state[1]! & 0xffff,
    state[2]! >>> 16, state[2]! & 0xffff, state[3]! >>> 16, state[3]! & 0xffff,
    state[4]! >>> 16, state[4]! & 0xffff, state[5]! >>> 16, state[5]! & 0xffff,
    state[6]! >>> 16, state[6]! & 0xffff, state[7]! >>> 16, state[7]! & 0xffff,
  );
}
