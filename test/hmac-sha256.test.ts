import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProcessHmacSha256, randomAsciiKey } from '../src/hmac-sha256.js';

const KEY = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0x7f);

describe('ProcessHmacSha256', () => {
  it('gives the same digest as Node createHmac for ASCII, non-ASCII, empty and multi-block text', () => {
    const hmac = new ProcessHmacSha256(KEY);
    for (const text of ['sk_live_kqz3\0$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', 'é€𝄞 ü', '', 'x'.repeat(1000)]) {
      expect(hmac.digest(text)).toBe(createHmac('sha256', KEY).update(text).digest('base64url'));
    }
  });

  it('gives the same digest as Node createHmac for ASCII text of every length up to three blocks', () => {
    const hmac = new ProcessHmacSha256(KEY);
    // Lengths 55 and 56 straddle the end of the inner hash's first text block, 119 and 120 its second.
    for (let length = 0; length <= 200; length++) {
      const text = String.fromCharCode(...Array.from({ length }, (_, i) => (i * 31 + length) % 0x80));
      expect(hmac.digest(text)).toBe(createHmac('sha256', KEY).update(text).digest('base64url'));
    }
  });

  it('gives a different digest, the one Node gives, for a key-length text changed in any one character', () => {
    const hmac = new ProcessHmacSha256(KEY);
    const key = 'sk_live_kqz3Ab9Xc0De' + 'Fg1Hi2Jk3Lm4No5Pq6Rs7Tu8Vw9Xy0Za' + 'oU0iQ1';
    const original = hmac.digest(key);
    for (let at = 0; at < key.length; at++) {
      const changed = key.slice(0, at) + (key[at] === 'A' ? 'B' : 'A') + key.slice(at + 1);
      expect(hmac.digest(changed)).not.toBe(original);
      expect(hmac.digest(changed)).toBe(createHmac('sha256', KEY).update(changed).digest('base64url'));
    }
  });

  it('hashes the UTF-8 bytes of Latin-1 characters, as Node does, not their character codes', () => {
    const hmac = new ProcessHmacSha256(KEY);
    const text = 'sk_live_' + '\u00e9'.repeat(50);
    expect(hmac.digest(text)).toBe(createHmac('sha256', KEY).update(text).digest('base64url'));
    expect(hmac.digest(text)).not.toBe(createHmac('sha256', KEY).update(Buffer.from(text, 'latin1')).digest('base64url'));
  });

  it.each([0x80, 0xbf, 0xc0, 0xff, 0x100, 0x7ff, 0x800, 0xd800, 0xdfff, 0xfffd, 0xffff])(
    'hashes character %i as Node does, alone and first, in the middle or last of a key-length text',
    (code) => {
      const hmac = new ProcessHmacSha256(KEY);
      const character = String.fromCharCode(code);
      const ascii = 'sk_live_' + 'a'.repeat(50);
      for (const text of [character, character + ascii.slice(1), ascii.slice(0, 29) + character + ascii.slice(30), ascii.slice(0, -1) + character]) {
        expect(hmac.digest(text)).toBe(createHmac('sha256', KEY).update(text).digest('base64url'));
      }
    },
  );

  it('hashes an astral character (a surrogate pair) as Node does', () => {
    const hmac = new ProcessHmacSha256(KEY);
    const text = '\u{1d11e}' + 'sk_live_' + 'a'.repeat(48);
    expect(hmac.digest(text)).toBe(createHmac('sha256', KEY).update(text).digest('base64url'));
  });

  it('gives the same digest when called again, since its scratch block is reused between calls', () => {
    const hmac = new ProcessHmacSha256(KEY);
    const first = hmac.digest('one');
    hmac.digest('two');
    expect(hmac.digest('one')).toBe(first);
  });

  it('draws a random key per instance', () => {
    expect(new ProcessHmacSha256().digest('same')).not.toBe(new ProcessHmacSha256().digest('same'));
  });

  it('refuses a key that is not 64 bytes below 0x80', () => {
    expect(() => new ProcessHmacSha256(new Uint8Array(32))).toThrow(RangeError);
    expect(() => new ProcessHmacSha256(new Uint8Array(65))).toThrow(RangeError);
    expect(() => new ProcessHmacSha256(Uint8Array.from(KEY, (b, i) => (i === 5 ? 0x80 : b)))).toThrow(RangeError);
  });
});

describe('randomAsciiKey', () => {
  it('draws 64 bytes below 0x80 in which every byte and each of its seven bits varies between draws', () => {
    const draws = Array.from({ length: 64 }, randomAsciiKey);
    for (const draw of draws) {
      expect(draw.length).toBe(64);
      expect(draw.every((byte) => byte < 0x80)).toBe(true);
    }
    for (let at = 0; at < 64; at++) {
      for (let bit = 0; bit < 7; bit++) {
        const values = new Set(draws.map((draw) => (draw[at]! >> bit) & 1));
        expect([at, bit, values.size]).toEqual([at, bit, 2]);
      }
    }
  });
});
