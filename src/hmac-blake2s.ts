import { randomBytes } from 'node:crypto';
import { BLAKE2S_BLOCK_BYTES, compressBlock, startBlake2s256 } from './blake2s-block.js';

// A keyward key is 58 characters: its bytes fit one block.
const INITIAL_TEXT_WORDS = 16;
// Leads the message of a text beyond ASCII; no ASCII text's message holds a byte this high.
const WIDE_TEXT_MARK = 0xff;
const UTF8 = new TextEncoder();
/** Whether this machine stores a word's low byte first, as BLAKE2s reads a block's bytes. */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * HMAC-BLAKE2s (RFC 2104 over RFC 7693's BLAKE2s-256, as WireGuard also uses it) of a text
 * under a random key of its own (one per verification memo, so one per authenticator), which
 * never leaves this process. It is worked out in JavaScript (`blake2s-block.ts`) rather than
 * by calls into Node's native hashing, which inside an HTTP server cost more than the whole
 * hash (see BENCHMARKS.md).
 *
 * The message is {@link messageOf} the text: for a key, its 58 bytes as they are, which fit
 * one block (BLAKE2 counts bytes rather than padding the message with its length as SHA-256
 * does). With the state after each padded key's block worked out once, here, a key costs two
 * blocks: one inner, one outer.
 *
 * The pipeline hashes only key-length text that `extract.ts` found to be visible ASCII; text
 * beyond ASCII or of any length is hashed as correctly (the tests check it against Node's HMAC),
 * so that the class holds no assumption a caller could break.
 */
export class ProcessHmacBlake2s {
  readonly #innerState = new Int32Array(8);
  readonly #outerState = new Int32Array(8);
  /** The inner hash of the empty text, whose message the padded key's block ends. */
  readonly #emptyTextInnerState = new Int32Array(8);
  // Scratch space reused by every call, which is safe because a call runs start to end
  // without yielding and calls nothing but built-ins.
  readonly #state = new Int32Array(8);
  readonly #block = new Int32Array(16);
  readonly #blockBytes = new Uint8Array(this.#block.buffer);
  #words = new Int32Array(INITIAL_TEXT_WORDS);

  /**
   * @param key - for tests only: 64 bytes. Random by default.
   */
  constructor(key: Uint8Array = randomBytes(BLAKE2S_BLOCK_BYTES)) {
    if (key.length !== BLAKE2S_BLOCK_BYTES) throw new RangeError('the HMAC key must be 64 bytes');
    const innerKeyBlock = readWords(key.map((byte) => byte ^ 0x36), this.#block);
    absorbKeyBlock(this.#innerState, innerKeyBlock, false);
    absorbKeyBlock(this.#emptyTextInnerState, innerKeyBlock, true);
    absorbKeyBlock(this.#outerState, readWords(key.map((byte) => byte ^ 0x5c), this.#block), false);
    this.#block.fill(0);
  }

  /**
   * The HMAC of {@link messageOf}(`text`): its 32 bytes read as UTF-16LE, 16 code units.
   * Meant for a Map's key, never for display: it is cheaper to build and to look up than
   * base64url's 43 characters, and any code unit, a lone surrogate too, is a valid one.
   */
  digest(text: string): string {
    const state = this.#state;
    const block = this.#block;

    // Inner hash: the padded key's block is already in the state; then the message, its last
    // block padded with zeros. ASCII text of one block, as every key is, is written straight
    // into the block; any other goes through the scratch words.
    if (text.length > 0 && text.length <= BLAKE2S_BLOCK_BYTES && this.#writeAsciiBlock(text)) {
      copyWords(this.#innerState, state, 8, 0);
      compressBlock(state, block, BLAKE2S_BLOCK_BYTES + text.length, true);
    } else {
      this.#innerHashOfScratch(text);
    }

    // Outer hash: the inner digest's 32 bytes are the state's eight words as they stand. This
    // overwrites the whole block, so the message (the presented key's bytes, which no live
    // buffer may keep: the README promises as much) is gone from it.
    copyWords(state, block, 8, 0);
    for (let word = 8; word < 16; word++) block[word] = 0;
    copyWords(this.#outerState, state, 8, 0);
    compressBlock(state, block, BLAKE2S_BLOCK_BYTES + 32, true);
    return digestText(state);
  }

  /**
   * Writes ASCII text of at most one block into the block, zeros after it, as
   * {@link writeAsciiMessage} does; false for text beyond ASCII. TextEncoder's `encodeInto`
   * writes the bytes natively, twice as fast as reading the characters one by one from a
   * header's slice, which is what a presented key is (BENCHMARKS.md, nineteenth session); its
   * bytes are the block's little-endian words only on a little-endian machine.
   */
  #writeAsciiBlock(text: string): boolean {
    if (!LITTLE_ENDIAN) return writeAsciiMessage(text, this.#block) >= 0;
    this.#block.fill(0);
    const { read, written } = UTF8.encodeInto(text, this.#blockBytes);
    // UTF-8 writes ASCII as it is, a byte a character, and anything else in two or more.
    return read === text.length && written === text.length;
  }

  /** The inner hash of an empty, longer or wider text, into the state, through the scratch words. */
  #innerHashOfScratch(text: string): void {
    const state = this.#state;
    const block = this.#block;
    this.#ensureRoom(text.length);
    let length = writeAsciiMessage(text, this.#words);
    if (length < 0) {
      this.#ensureRoom(1 + 2 * text.length);
      length = writeWideMessage(text, this.#words);
    }
    const words = this.#words;
    const blocks = Math.ceil(length / BLAKE2S_BLOCK_BYTES);
    copyWords(blocks === 0 ? this.#emptyTextInnerState : this.#innerState, state, 8, 0);
    for (let at = 0; at < blocks; at++) {
      copyWords(words, block, 16, at * 16);
      const last = at === blocks - 1;
      compressBlock(state, block, BLAKE2S_BLOCK_BYTES + (last ? length : (at + 1) * BLAKE2S_BLOCK_BYTES), last);
    }
    this.#forgetMessage(blocks);
  }

  /**
   * Makes the scratch words hold a message of this many bytes, to the end of its last block.
   * The ASCII pass needs no more room when it meets a wider code unit: it still writes one
   * byte for each before it gives up.
   */
  #ensureRoom(bytes: number): void {
    const words = wordsToBlockEnd(bytes);
    if (this.#words.length >= words) return;
    // The ASCII pass may have written a wide text's bytes here before it gave up.
    this.#words.fill(0);
    this.#words = new Int32Array(words);
  }

  /** Zeroes the message's words, and lets go of scratch space a long text made grow. */
  #forgetMessage(blocks: number): void {
    this.#words.fill(0, 0, blocks * 16);
    if (this.#words.length > INITIAL_TEXT_WORDS) this.#words = new Int32Array(INITIAL_TEXT_WORDS);
  }
}

/**
 * The message a text's HMAC is taken of: for ASCII text, its bytes (one a character); for
 * any other, a 0xff byte and then its UTF-16 code units, little-endian. No ASCII text's bytes
 * begin with 0xff, so no two texts give the same message, and unlike UTF-8 a lone surrogate
 * keeps its own code. This is the reference the tests check {@link ProcessHmacBlake2s}
 * against.
 *
 * @example
 * ```ts
 * messageOf('A'); // [0x41]
 * messageOf('é'); // [0xff, 0xe9, 0x00]
 * ```
 */
export function messageOf(text: string): Uint8Array {
  if (isAscii(text)) return Uint8Array.from(text, (character) => character.charCodeAt(0));
  const message = new Uint8Array(1 + 2 * text.length);
  message[0] = WIDE_TEXT_MARK;
  for (let i = 0; i < text.length; i++) {
    message[1 + 2 * i] = text.charCodeAt(i) & 0xff;
    message[2 + 2 * i] = text.charCodeAt(i) >>> 8;
  }
  return message;
}

/**
 * Writes an ASCII text's message ({@link messageOf}) as little-endian words, zeros to the end
 * of its last block. Returns its length in bytes, or -1 when a code unit is beyond ASCII.
 * `words` must have room (see `#ensureRoom`).
 */
function writeAsciiMessage(text: string, words: Int32Array): number {
  const length = text.length;
  const wholeWords = length >>> 2;
  let allBits = 0;
  // Four characters a word, then the rest: a loop of one character a step made a memo key a
  // fifth slower (BENCHMARKS.md, nineteenth session).
  for (let at = 0; at < wholeWords; at++) {
    const i = at << 2;
    const a = text.charCodeAt(i), b = text.charCodeAt(i + 1), c = text.charCodeAt(i + 2), d = text.charCodeAt(i + 3);
    allBits |= a | b | c | d;
    words[at] = a | (b << 8) | (c << 16) | (d << 24);
  }
  let at = wholeWords;
  if ((length & 3) !== 0) {
    let word = 0;
    for (let i = wholeWords << 2; i < length; i++) {
      const code = text.charCodeAt(i);
      allBits |= code;
      word |= code << ((i & 3) << 3);
    }
    words[at++] = word;
  }
  if (allBits > 0x7f) return -1;
  for (const end = wordsToBlockEnd(length); at < end; at++) words[at] = 0;
  return length;
}

/** {@link writeAsciiMessage} for a text beyond ASCII: the mark, then two bytes a code unit. */
function writeWideMessage(text: string, words: Int32Array): number {
  const length = 1 + 2 * text.length;
  words.fill(0, 0, wordsToBlockEnd(length));
  words[0] = WIDE_TEXT_MARK;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const low = 1 + 2 * i;
    const high = low + 1;
    words[low >>> 2] = words[low >>> 2]! | ((code & 0xff) << ((low & 3) << 3));
    words[high >>> 2] = words[high >>> 2]! | ((code >>> 8) << ((high & 3) << 3));
  }
  return length;
}

/** How many words a message of this many bytes takes, to the end of its last block. */
function wordsToBlockEnd(bytes: number): number {
  return Math.ceil(bytes / BLAKE2S_BLOCK_BYTES) * 16;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** A block's 64 bytes as sixteen little-endian words, into `words`, which it returns. */
function readWords(bytes: Uint8Array, words: Int32Array): Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let word = 0; word < 16; word++) words[word] = view.getInt32(word * 4, true);
  return words;
}

/** Works out the state after a padded key's block: the message's last, or one a message follows. */
function absorbKeyBlock(state: Int32Array, keyBlock: Int32Array, last: boolean): void {
  startBlake2s256(state);
  compressBlock(state, keyBlock, BLAKE2S_BLOCK_BYTES, last);
}

function copyWords(from: Int32Array, to: Int32Array, count: number, offset: number): void {
  for (let word = 0; word < count; word++) to[word] = from[offset + word]!;
}

/** The digest's 32 bytes (the state's eight little-endian words) read as UTF-16LE. */
function digestText(state: Int32Array): string {
  const w0 = state[0]!, w1 = state[1]!, w2 = state[2]!, w3 = state[3]!;
  const w4 = state[4]!, w5 = state[5]!, w6 = state[6]!, w7 = state[7]!;
  return String.fromCharCode(
    w0 & 0xffff, w0 >>> 16, w1 & 0xffff, w1 >>> 16, w2 & 0xffff, w2 >>> 16, w3 & 0xffff, w3 >>> 16,
    w4 & 0xffff, w4 >>> 16, w5 & 0xffff, w5 >>> 16, w6 & 0xffff, w6 >>> 16, w7 & 0xffff, w7 >>> 16,
  );
}
