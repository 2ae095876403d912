import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { messageOf, ProcessHmacBlake2s } from '../src/hmac-blake2s.js';

const KEY = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);
const A_KEY = 'sk_live_kqz3Ab9Xc0De' + 'Fg1Hi2Jk3Lm4No5Pq6Rs7Tu8Vw9Xy0Za' + 'oU0iQ1';

/** What the digest must be: Node's HMAC-BLAKE2s of the text's message, read as UTF-16LE. */
function nodeDigest(text: string, key: Uint8Array = KEY): string {
  return createHmac('blake2s256', key).update(messageOf(text)).digest().toString('utf16le');
}

/** Text of `length` code units cycling through `codes`, so every length has different content. */
function textOf(length: number, codes: readonly number[]): string {
  return String.fromCharCode(...Array.from({ length }, (_, i) => codes[(i * 7 + length) % codes.length]!));
}

describe('messageOf', () => {
  it("is an ASCII text's own bytes, so a key's HMAC is the plain HMAC of the key", () => {
    expect([...messageOf('')]).toEqual([]);
    expect([...messageOf('A\u0000\u007f')]).toEqual([0x41, 0x00, 0x7f]);
    expect(Buffer.from(messageOf(A_KEY)).equals(Buffer.from(A_KEY, 'latin1'))).toBe(true);
    expect(createHmac('blake2s256', KEY).update(A_KEY).digest().toString('utf16le')).toBe(nodeDigest(A_KEY));
  });

  it("is a 0xff byte and the text's UTF-16LE once any character is beyond ASCII, lone surrogates too", () => {
    for (const text of ['é', 'aé', '\ud800', 'x\udfff\u0080', '\uffff'.repeat(3)]) {
      const expected = Buffer.concat([Buffer.of(0xff), Buffer.from(text, 'utf16le')]);
      expect(Buffer.from(messageOf(text)).equals(expected)).toBe(true);
    }
  });

  it('gives texts that UTF-8 would confuse, or that differ only in length, different messages', () => {
    const confusable = [
      ['a', 'a\u0000'],
      ['', '\u0000'],
      ['\ud800', '\udc00'],
      ['\ud800', '\ufffd'],
      ['\u00ff', '\u00ff\u0000'],
    ];
    for (const [one, other] of confusable) {
      expect(Buffer.from(messageOf(one!)).equals(Buffer.from(messageOf(other!)))).toBe(false);
    }
  });
});

describe('ProcessHmacBlake2s', () => {
  it('gives Node createHmac of the message, for ASCII text of every length up to five blocks', () => {
    const hmac = new ProcessHmacBlake2s(KEY);
    const ascii = Array.from({ length: 0x80 }, (_, code) => code);
    const longest = textOf(300, ascii);
    for (let length = 0; length <= 300; length++) {
      const text = textOf(length, ascii);
      // A longer text first leaves its words in the scratch space: each block must clear them.
      hmac.digest(longest);
      expect(hmac.digest(text)).toBe(nodeDigest(text));
    }
  });

  it('gives Node createHmac of the message, for text with characters beyond ASCII of every length up to five blocks', () => {
    const hmac = new ProcessHmacBlake2s(KEY);
    const wide = [0x41, 0x7f, 0x80, 0xe9, 0x100, 0x7ff, 0x800, 0xd800, 0xdfff, 0xfffd, 0xffff];
    const longest = textOf(160, wide);
    for (let length = 1; length <= 160; length++) {
      const text = textOf(length, wide);
      hmac.digest(longest);
      expect(hmac.digest(text)).toBe(nodeDigest(text));
    }
  });

  it.each([0x80, 0xff, 0x100, 0xd800, 0xdfff, 0xffff])(
    'gives the digest of the wide message when character %i is first, in the middle or last of a key-length text',
    (code) => {
      const hmac = new ProcessHmacBlake2s(KEY);
      const character = String.fromCharCode(code);
      for (const text of [character + A_KEY.slice(1), A_KEY.slice(0, 29) + character + A_KEY.slice(30), A_KEY.slice(0, -1) + character]) {
        expect(hmac.digest(text)).toBe(nodeDigest(text));
        expect(hmac.digest(text)).not.toBe(hmac.digest(A_KEY));
      }
    },
  );

  it('gives a different digest, the one Node gives, for a key-length text changed in any one character', () => {
    const hmac = new ProcessHmacBlake2s(KEY);
    const original = hmac.digest(A_KEY);
    for (let at = 0; at < A_KEY.length; at++) {
      const changed = A_KEY.slice(0, at) + (A_KEY[at] === 'A' ? 'B' : 'A') + A_KEY.slice(at + 1);
      expect(hmac.digest(changed)).not.toBe(original);
      expect(hmac.digest(changed)).toBe(nodeDigest(changed));
    }
  });

  it('gives the same digest when called again, after longer, wider and empty texts used its scratch space', () => {
    const hmac = new ProcessHmacBlake2s(KEY);
    const first = hmac.digest(A_KEY);
    hmac.digest('x'.repeat(1000));
    hmac.digest('é'.repeat(100));
    hmac.digest('');
    expect(hmac.digest(A_KEY)).toBe(first);
    expect(hmac.digest(A_KEY)).toBe(nodeDigest(A_KEY));
  });

  it("leaves a key's bytes in none of the arrays it made, one it dropped for a longer or wider text included", () => {
    // Every Int32Array made from here on is recorded, so dropped ones can be read too.
    const made: Int32Array[] = [];
    const Original = globalThis.Int32Array;
    globalThis.Int32Array = class extends Original {
      constructor(...args: ConstructorParameters<Int32ArrayConstructor>) {
        super(...args);
        made.push(this);
      }
    } as Int32ArrayConstructor;
    try {
      const hmac = new ProcessHmacBlake2s(KEY);
      const secret = Buffer.from(A_KEY.slice(20, 52), 'latin1');
      // Wider than Latin-1 and longer than a block: the ASCII pass writes the key's bytes,
      // then gives up and takes bigger scratch space.
      for (const text of [A_KEY, A_KEY + '\u0100', 'x'.repeat(200) + A_KEY, A_KEY]) {
        hmac.digest(text);
        for (const array of made) expect(Buffer.from(array.buffer, array.byteOffset, array.byteLength).includes(secret)).toBe(false);
      }
      expect(made.length).toBeGreaterThan(3);
    } finally {
      globalThis.Int32Array = Original;
    }
  });

  it('is 16 code units long whatever the text', () => {
    const hmac = new ProcessHmacBlake2s(KEY);
    for (const text of ['', A_KEY, 'é'.repeat(300)]) expect(hmac.digest(text)).toHaveLength(16);
  });

  it('draws a random key per instance', () => {
    expect(new ProcessHmacBlake2s().digest(A_KEY)).not.toBe(new ProcessHmacBlake2s().digest(A_KEY));
  });

  it('refuses a key that is not 64 bytes', () => {
    expect(() => new ProcessHmacBlake2s(new Uint8Array(32))).toThrow(RangeError);
    expect(() => new ProcessHmacBlake2s(new Uint8Array(65))).toThrow(RangeError);
  });

  it('takes any 64 bytes as its key, bytes of 0x80 and over too', () => {
    const key = new Uint8Array(64).fill(0xff);
    expect(new ProcessHmacBlake2s(key).digest(A_KEY)).toBe(nodeDigest(A_KEY, key));
  });
});
