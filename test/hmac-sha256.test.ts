import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { packText, ProcessHmacSha256 } from '../src/hmac-sha256.js';

const KEY = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);
const A_KEY = 'sk_live_kqz3Ab9Xc0De' + 'Fg1Hi2Jk3Lm4No5Pq6Rs7Tu8Vw9Xy0Za' + 'oU0iQ1';

/** What the digest must be: Node's HMAC of the packed text, as 16 big-endian code units. */
function nodeDigest(text: string, key: Uint8Array = KEY): string {
  const bytes = createHmac('sha256', key).update(packText(text)).digest();
  return String.fromCharCode(...Array.from({ length: 16 }, (_, at) => bytes.readUInt16BE(at * 2)));
}

/** Text of `length` code units cycling through `codes`, so every length has different content. */
function textOf(length: number, codes: readonly number[]): string {
  return String.fromCharCode(...Array.from({ length }, (_, i) => codes[(i * 7 + length) % codes.length]!));
}

describe('packText', () => {
  it('writes a 0 flag, seven bits a character, an end bit and zeros for ASCII text', () => {
    expect([...packText('')]).toEqual([0b01000000]);
    // 0 1000001 1, then zeros.
    expect([...packText('A')]).toEqual([0b01000001, 0b10000000]);
    // 0 1111111 0000000 1: a whole number of bytes, so no zeros.
    expect([...packText('\u007f\u0000')]).toEqual([0b01111111, 0b00000001]);
  });

  it('writes a 1 flag and sixteen bits a code unit once any character is beyond ASCII', () => {
    // 1 0000000011101001 1, then zeros.
    expect([...packText('é')]).toEqual([0b10000000, 0b01110100, 0b11000000]);
    // 'a' beside it takes sixteen bits too: 1 0000000001100001 0000000011101001 1.
    expect([...packText('aé')]).toEqual([0b10000000, 0b00110000, 0b10000000, 0b01110100, 0b11000000]);
  });

  it('packs a keyward key into 51 bytes, which leave room in one SHA-256 block for its padding', () => {
    expect(packText(A_KEY).length).toBe(51);
  });

  it('packs texts that UTF-8 or a plain 7-bit packing would confuse into different messages', () => {
    const confusable = [
      ['a', 'a\u0000'],
      ['', '\u0000'],
      ['\ud800', '\udc00'],
      ['\ud800', '\ufffd'],
      ['\u0041', '\u0000\u0041'],
    ];
    for (const [one, other] of confusable) {
      expect(Buffer.from(packText(one!)).equals(Buffer.from(packText(other!)))).toBe(false);
    }
  });
});

describe('ProcessHmacSha256', () => {
  it('gives Node createHmac of the packed text, for ASCII text of every length up to four blocks', () => {
    const hmac = new ProcessHmacSha256(KEY);
    // The packed text outgrows one block (with its padding) at 63 characters, and a further one about every 73.
    const ascii = Array.from({ length: 0x80 }, (_, code) => code);
    const longest = textOf(300, ascii);
    for (let length = 0; length <= 300; length++) {
      const text = textOf(length, ascii);
      // A longer text first leaves its words in the scratch space: each block must clear them.
      hmac.digest(longest);
      expect(hmac.digest(text)).toBe(nodeDigest(text));
    }
  });

  it('gives Node createHmac of the packed text, for text with characters beyond ASCII of every length up to four blocks', () => {
    const hmac = new ProcessHmacSha256(KEY);
    const wide = [0x41, 0x7f, 0x80, 0xe9, 0x100, 0x7ff, 0x800, 0xd800, 0xdfff, 0xfffd, 0xffff];
    const longest = textOf(130, wide);
    for (let length = 1; length <= 130; length++) {
      const text = textOf(length, wide);
      hmac.digest(longest);
      expect(hmac.digest(text)).toBe(nodeDigest(text));
    }
  });

  it.each([0x80, 0xff, 0x100, 0xd800, 0xdfff, 0xffff])(
    'gives the digest of the wide packing when character %i is first, in the middle or last of a key-length text',
    (code) => {
      const hmac = new ProcessHmacSha256(KEY);
      const character = String.fromCharCode(code);
      for (const text of [character + A_KEY.slice(1), A_KEY.slice(0, 29) + character + A_KEY.slice(30), A_KEY.slice(0, -1) + character]) {
        expect(hmac.digest(text)).toBe(nodeDigest(text));
        expect(hmac.digest(text)).not.toBe(hmac.digest(A_KEY));
      }
    },
  );

  it('gives a different digest, the one Node gives, for a key-length text changed in any one character', () => {
    const hmac = new ProcessHmacSha256(KEY);
    const original = hmac.digest(A_KEY);
    for (let at = 0; at < A_KEY.length; at++) {
      const changed = A_KEY.slice(0, at) + (A_KEY[at] === 'A' ? 'B' : 'A') + A_KEY.slice(at + 1);
      expect(hmac.digest(changed)).not.toBe(original);
      expect(hmac.digest(changed)).toBe(nodeDigest(changed));
    }
  });

  it('gives the same digest when called again, after longer and wider texts used its scratch space', () => {
    const hmac = new ProcessHmacSha256(KEY);
    const first = hmac.digest(A_KEY);
    hmac.digest('x'.repeat(1000));
    hmac.digest('é'.repeat(100));
    expect(hmac.digest(A_KEY)).toBe(first);
    expect(hmac.digest(A_KEY)).toBe(nodeDigest(A_KEY));
  });

  it('is 16 code units long whatever the text', () => {
    const hmac = new ProcessHmacSha256(KEY);
    for (const text of ['', A_KEY, 'é'.repeat(300)]) expect(hmac.digest(text)).toHaveLength(16);
  });

  it('draws a random key per instance', () => {
    expect(new ProcessHmacSha256().digest(A_KEY)).not.toBe(new ProcessHmacSha256().digest(A_KEY));
  });

  it('refuses a key that is not 64 bytes', () => {
    expect(() => new ProcessHmacSha256(new Uint8Array(32))).toThrow(RangeError);
    expect(() => new ProcessHmacSha256(new Uint8Array(65))).toThrow(RangeError);
  });

  it('takes any 64 bytes as its key, bytes of 0x80 and over too', () => {
    const key = new Uint8Array(64).fill(0xff);
    expect(new ProcessHmacSha256(key).digest(A_KEY)).toBe(nodeDigest(A_KEY, key));
  });
});
