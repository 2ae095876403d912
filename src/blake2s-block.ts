// BLAKE2s's compression function (RFC 7693, section 3.2), in JavaScript. It exists for one
// reason: inside an HTTP server, a call into Node's native hashing costs more than the whole
// hash (measured: two `crypto.hash` calls cost more than this JavaScript takes for a memo key;
// see BENCHMARKS.md). `hmac-blake2s.ts` uses it for the memo key, and a test checks every
// output against Node's own HMAC. BLAKE2s was chosen over SHA-256 for speed: in JavaScript a
// block costs about 225 ns against SHA-256's 360 on the sixteenth session's benchmark machine,
// and a key's bytes fit one block with no packing. Nothing in this file branches on or indexes
// a table by the data, so a block's time does not depend on what it holds.

/** BLAKE2s's initialization vector: SHA-256's initial state. Private: a typed array cannot be frozen. */
const BLAKE2S_IV = Int32Array.of(
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
);

/** Bytes in one block. */
export const BLAKE2S_BLOCK_BYTES = 64;

// The parameter block of an unkeyed hash with a 32-byte digest: fanout 1, depth 1.
const BLAKE2S_256_PARAMETERS = 0x01010020;

/** Sets `state` to BLAKE2s-256's state before its first block. */
export function startBlake2s256(state: Int32Array): void {
  state.set(BLAKE2S_IV);
  state[0] = state[0]! ^ BLAKE2S_256_PARAMETERS;
}

/** The message word each mixing step reads, round by round: ten rounds of sixteen. */
const SIGMA = Uint8Array.of(
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
  11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4,
  7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8,
  9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13,
  2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9,
  12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11,
  13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10,
  6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5,
  10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0,
);

/**
 * Folds one 64-byte block into the state.
 *
 * @param state - eight 32-bit words, updated in place.
 * @param message - the block as 16 little-endian words; a last block shorter than 64 bytes
 *   is padded with zeros.
 * @param bytesSoFar - how many bytes of the message this block ends at (BLAKE2's counter t).
 * @param last - whether this is the message's last block.
 */
export function compressBlock(state: Int32Array, message: Int32Array, bytesSoFar: number, last: boolean): void {
  // The sixteen working words live in locals, not an array: this is the hot loop of a memo key.
  let v0 = state[0]!, v1 = state[1]!, v2 = state[2]!, v3 = state[3]!;
  let v4 = state[4]!, v5 = state[5]!, v6 = state[6]!, v7 = state[7]!;
  let v8 = BLAKE2S_IV[0]!, v9 = BLAKE2S_IV[1]!, v10 = BLAKE2S_IV[2]!, v11 = BLAKE2S_IV[3]!;
  let v12 = BLAKE2S_IV[4]! ^ bytesSoFar;
  let v13 = BLAKE2S_IV[5]! ^ Math.floor(bytesSoFar / 2 ** 32);
  let v14 = last ? ~BLAKE2S_IV[6]! : BLAKE2S_IV[6]!;
  let v15 = BLAKE2S_IV[7]!;
  for (let s = 0; s < SIGMA.length; s += 16) {
    // RFC 7693's G, written out eight times a round: four times down the columns of the 4×4
    // working words (v0 v4 v8 v12, then v1 v5 v9 v13, ...), then four times along the
    // diagonals (v0 v5 v10 v15, v1 v6 v11 v12, ...). Each G adds in two message words and
    // rotates right by 16, 12, 8 and 7.
    v0 = (v0 + v4 + message[SIGMA[s]!]!) | 0; v12 ^= v0; v12 = (v12 >>> 16) | (v12 << 16);
    v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 12) | (v4 << 20);
    v0 = (v0 + v4 + message[SIGMA[s + 1]!]!) | 0; v12 ^= v0; v12 = (v12 >>> 8) | (v12 << 24);
    v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 7) | (v4 << 25);

    v1 = (v1 + v5 + message[SIGMA[s + 2]!]!) | 0; v13 ^= v1; v13 = (v13 >>> 16) | (v13 << 16);
    v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 12) | (v5 << 20);
    v1 = (v1 + v5 + message[SIGMA[s + 3]!]!) | 0; v13 ^= v1; v13 = (v13 >>> 8) | (v13 << 24);
    v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 7) | (v5 << 25);

    v2 = (v2 + v6 + message[SIGMA[s + 4]!]!) | 0; v14 ^= v2; v14 = (v14 >>> 16) | (v14 << 16);
    v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 12) | (v6 << 20);
    v2 = (v2 + v6 + message[SIGMA[s + 5]!]!) | 0; v14 ^= v2; v14 = (v14 >>> 8) | (v14 << 24);
    v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 7) | (v6 << 25);

    v3 = (v3 + v7 + message[SIGMA[s + 6]!]!) | 0; v15 ^= v3; v15 = (v15 >>> 16) | (v15 << 16);
    v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 12) | (v7 << 20);
    v3 = (v3 + v7 + message[SIGMA[s + 7]!]!) | 0; v15 ^= v3; v15 = (v15 >>> 8) | (v15 << 24);
    v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 7) | (v7 << 25);

    v0 = (v0 + v5 + message[SIGMA[s + 8]!]!) | 0; v15 ^= v0; v15 = (v15 >>> 16) | (v15 << 16);
    v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 12) | (v5 << 20);
    v0 = (v0 + v5 + message[SIGMA[s + 9]!]!) | 0; v15 ^= v0; v15 = (v15 >>> 8) | (v15 << 24);
    v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 7) | (v5 << 25);

    v1 = (v1 + v6 + message[SIGMA[s + 10]!]!) | 0; v12 ^= v1; v12 = (v12 >>> 16) | (v12 << 16);
    v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 12) | (v6 << 20);
    v1 = (v1 + v6 + message[SIGMA[s + 11]!]!) | 0; v12 ^= v1; v12 = (v12 >>> 8) | (v12 << 24);
    v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 7) | (v6 << 25);

    v2 = (v2 + v7 + message[SIGMA[s + 12]!]!) | 0; v13 ^= v2; v13 = (v13 >>> 16) | (v13 << 16);
    v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 12) | (v7 << 20);
    v2 = (v2 + v7 + message[SIGMA[s + 13]!]!) | 0; v13 ^= v2; v13 = (v13 >>> 8) | (v13 << 24);
    v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 7) | (v7 << 25);

    v3 = (v3 + v4 + message[SIGMA[s + 14]!]!) | 0; v14 ^= v3; v14 = (v14 >>> 16) | (v14 << 16);
    v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 12) | (v4 << 20);
    v3 = (v3 + v4 + message[SIGMA[s + 15]!]!) | 0; v14 ^= v3; v14 = (v14 >>> 8) | (v14 << 24);
    v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 7) | (v4 << 25);
  }
  state[0] = state[0]! ^ v0 ^ v8;
  state[1] = state[1]! ^ v1 ^ v9;
  state[2] = state[2]! ^ v2 ^ v10;
  state[3] = state[3]! ^ v3 ^ v11;
  state[4] = state[4]! ^ v4 ^ v12;
  state[5] = state[5]! ^ v5 ^ v13;
  state[6] = state[6]! ^ v6 ^ v14;
  state[7] = state[7]! ^ v7 ^ v15;
}
