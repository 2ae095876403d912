import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProcessHmacSha256 } from '../src/hmac-sha256.js';

const KEY = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0x7f);

describe('ProcessHmacSha256', () => {
  it('gives the same digest as Node createHmac for ASCII, non-ASCII, empty and multi-block text', () => {
    const hmac = new ProcessHmacSha256(KEY);
    for (const text of ['sk_live_kqz3\0$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', 'é€𝄞 ü', '', 'x'.repeat(1000)]) {
      expect(hmac.digest(text)).toBe(createHmac('sha256', KEY).update(text).digest('base64url'));
    }
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
    expect(() => new ProcessHmacSha256(Uint8Array.from(KEY, (b, i) => (i === 5 ? 0x80 : b)))).toThrow(RangeError);
  });
});
