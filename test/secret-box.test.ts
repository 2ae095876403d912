import { describe, expect, it } from 'vitest';
import { ApiKeyAuthError, createSecretBox } from '../src/index.js';
import { thrown } from './helpers/errors.js';
import { testSecretBytes } from './helpers/secret-bytes.js';

const K1 = testSecretBytes(0x11);
const K2 = testSecretBytes(0x22);
const SEALED_SHAPE = /^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/;

describe('createSecretBox', () => {
  it('seals to v1.<keyId>.<iv>.<ciphertext>.<tag> in base64url and opens it again', () => {
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });

    const sealed = box.seal('p4ss:w0rd:x');

    expect(sealed).toMatch(SEALED_SHAPE);
    expect(sealed).not.toContain('p4ss');
    expect(box.open(sealed)).toBe('p4ss:w0rd:x');
  });

  it('opens a password that starts with a byte-order mark as it was sealed, mark included', () => {
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });

    expect(box.open(box.seal('\uFEFFhook-pass'))).toBe('\uFEFFhook-pass');
  });

  it('seals exactly what it can open again: the longest text it takes round-trips', () => {
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });
    const longest = '\u00e4'.repeat(1024); // 2048 UTF-8 bytes
    expect(box.open(box.seal(longest))).toBe(longest);
  });

  it.each<[string, unknown]>([
    ['text over 2048 UTF-8 bytes', 'p'.repeat(2049)],
    ['text with a lone surrogate', 'pass\ud800word'],
    ['a number', 31415926],
    ['undefined', undefined],
  ])('refuses to seal %s with ERR_WEBHOOK_INVALID, naming no value', (_name, plaintext) => {
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });
    const error = thrown(() => box.seal(plaintext as string)) as ApiKeyAuthError;
    expect(error).toBeInstanceOf(ApiKeyAuthError);
    expect([error.code, error.status]).toEqual(['ERR_WEBHOOK_INVALID', 400]);
    expect(error.message).not.toMatch(/31415926|pass|pppp/);
  });

  it('round-trips non-ASCII text as UTF-8', () => {
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });

    expect(box.open(box.seal('p\u00e4ssw\u00f6rd \u{1f511}'))).toBe('p\u00e4ssw\u00f6rd \u{1f511}');
  });

  it('uses a fresh IV for every seal', () => {
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });
    const seals = new Set(Array.from({ length: 20 }, () => box.seal('same')));
    const ivs = new Set([...seals].map((sealed) => sealed.split('.')[2]));

    expect(seals.size).toBe(20);
    expect(ivs.size).toBe(20);
  });

  it('opens values sealed under an older key after rotation, and seals new ones under the current key', () => {
    const before = createSecretBox({ current: 'k1', keys: { k1: K1 } });
    const after = createSecretBox({ current: 'k2', keys: { k1: K1, k2: K2 } });
    const old = before.seal('rotate-me');

    expect(after.open(old)).toBe('rotate-me');
    expect(after.needsReseal(old)).toBe(true);
    const fresh = after.seal('rotate-me');
    expect(fresh.startsWith('v1.k2.')).toBe(true);
    expect(after.needsReseal(fresh)).toBe(false);
    expect(after.currentKeyId).toBe('k2');
  });

  it('refuses a value sealed under a key id it does not hold, naming the id', () => {
    const old = createSecretBox({ current: 'k1', keys: { k1: K1 } }).seal('rotate-me');
    const box = createSecretBox({ current: 'k2', keys: { k2: K2 } });

    const error = thrown(() => box.open(old));

    expect(error.code).toBe('ERR_WEBHOOK_SECRET');
    expect(error.message).toContain('"k1"');
    expect(error.expose).toBe(false);
  });

  it('binds the key id: relabelling a value to another id with the same key bytes fails', () => {
    // Two boxes, as one refuses the same bytes under two ids.
    const sealed = createSecretBox({ current: 'k1', keys: { k1: K1 } }).seal('bound');
    const sameBytesOtherId = createSecretBox({ current: 'k2', keys: { k2: K1 } });

    expect(thrown(() => sameBytesOtherId.open(sealed.replace(/^v1\.k1\./, 'v1.k2.'))).code).toBe('ERR_WEBHOOK_SECRET');
  });

  it('refuses a value opened with the wrong key bytes under the same id', () => {
    const sealed = createSecretBox({ current: 'k1', keys: { k1: K1 } }).seal('secret');
    const wrong = createSecretBox({ current: 'k1', keys: { k1: K2 } });

    expect(thrown(() => wrong.open(sealed)).message).toMatch(/^The webhook password cannot be opened: wrong key, sealed for another key or URL, or altered\.$/);
  });

  it('refuses an altered ciphertext or tag', () => {
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });
    const parts = box.seal('secret-value').split('.');
    const flip = (text: string) => (text[0] === 'A' ? 'B' : 'A') + text.slice(1);

    for (const index of [3, 4]) {
      const altered = [...parts];
      altered[index] = flip(altered[index]!);
      expect(thrown(() => box.open(altered.join('.'))).code).toBe('ERR_WEBHOOK_SECRET');
    }
  });

  it('refuses a sealed value whose text is changed only where base64url decoding would not notice', () => {
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });
    const parts = box.seal('secret-value').split('.');
    const tag = parts[4]!;
    // 16 bytes are 22 characters, whose last one carries 4 spare bits: another character with
    // the same top bits decodes to the same tag.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(tag.at(-1)!);
    const spare = alphabet[(last & ~0xf) | (~last & 0xf)]!;
    const variants = [
      [...parts.slice(0, 4), tag.slice(0, -1) + spare],
      [parts[0], parts[1], `${parts[2]}A`, parts[3], tag],
    ];
    for (const variant of variants) {
      expect(Buffer.from(variant[4]!, 'base64url')).toEqual(Buffer.from(tag, 'base64url'));
      expect(thrown(() => box.open(variant.join('.'))).code).toBe('ERR_WEBHOOK_SECRET');
    }
  });

  it.each([
    ['the cleartext itself', 'p4ss:w0rd:x'],
    ['an empty string', ''],
    ['another version', 'v2.k1.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA'],
    ['a short IV', 'v1.k1.AAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA'],
    ['a short tag', 'v1.k1.AAAAAAAAAAAAAAAA.AAAA.AAAA'],
    ['characters outside base64url', 'v1.k1.AAAAAAAAAAAAAAAA.AA+/.AAAAAAAAAAAAAAAAAAAAAA'],
    ['six parts', 'v1.k1.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA.x'],
    ['a huge value', `v1.k1.${'A'.repeat(10_000)}`],
  ])('refuses %s with ERR_WEBHOOK_SECRET', (_what, value) => {
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });

    expect(thrown(() => box.open(value)).code).toBe('ERR_WEBHOOK_SECRET');
  });

  it('copies the key bytes: changing the caller buffer later has no effect', () => {
    const material = Buffer.from(K1);
    const box = createSecretBox({ current: 'k1', keys: { k1: material } });
    const sealed = box.seal('copied');

    material.fill(0);

    expect(box.open(sealed)).toBe('copied');
  });

  it('opens a value sealed with a context only with that same context', () => {
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });
    const sealed = box.seal('p4ss', '["key_1","https://a.example.com/in"]');

    expect(box.open(sealed, '["key_1","https://a.example.com/in"]')).toBe('p4ss');
    for (const context of ['["key_2","https://a.example.com/in"]', '["key_1","https://b.example.com/in"]', '', undefined]) {
      expect(thrown(() => box.open(sealed, context)).code).toBe('ERR_WEBHOOK_SECRET');
    }
    expect(thrown(() => box.open(box.seal('p4ss'), '')).code).toBe('ERR_WEBHOOK_SECRET');
  });

  it('refuses a context with a lone surrogate, which UTF-8 would make equal to others', () => {
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });
    expect(thrown(() => box.seal('pw', '\uD800')).code).toBe('ERR_WEBHOOK_INVALID');
    const sealed = box.seal('pw', '\uFFFD');
    for (const context of ['\uD800', '\uDFFF']) expect(thrown(() => box.open(sealed, context)).code).toBe('ERR_WEBHOOK_SECRET');
    expect(box.open(sealed, '\uFFFD')).toBe('pw');
  });

  it('refuses a context that is not well-formed text when sealing, with ERR_WEBHOOK_INVALID (400), never a bare TypeError', () => {
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });

    for (const context of ['\ud800', 42, null]) {
      const error = thrown(() => box.seal('some-secret-text', context as string)) as ApiKeyAuthError;

      expect([error.code, error.status, error.message]).toEqual(['ERR_WEBHOOK_INVALID', 400, 'A seal context must be well-formed text, or left out.']);
    }
  });

  it('accepts a Uint8Array as key material', () => {
    const box = createSecretBox({ current: 'k1', keys: { k1: new Uint8Array(testSecretBytes(9)) } });

    expect(box.open(box.seal('ok'))).toBe('ok');
  });

  it.each([
    ['a 31-byte key', { current: 'k1', keys: { k1: Buffer.alloc(31) } }, /exactly 32 bytes/],
    ['a string key', { current: 'k1', keys: { k1: 'x'.repeat(32) } }, /exactly 32 bytes/],
    ['a current id not among the keys', { current: 'k9', keys: { k1: K1 } }, /^createSecretBox: "current" must name one of the ids in "keys"\.$/],
    ['no keys', { current: 'k1', keys: {} }, /at least one key/],
    ['a key id with a dot', { current: 'a.b', keys: { 'a.b': K1 } }, /^createSecretBox: every key id in "keys" must be 1 to 32 characters .*the one given is not shown/],
    ['a key pasted as its id, which the message must not repeat', { current: 'k1', keys: { k1: K1, [K1.toString('base64')]: K1 } }, new RegExp(`^(?!.*${K1.toString('base64').slice(0, 12).replace(/[+/]/g, '.')}).*every key id`)],
    ['a misspelt field', { curent: 'k1', keys: { k1: K1 } }, /Did you mean "current"/],
    ['32 zero bytes', { current: 'k1', keys: { k1: Buffer.alloc(32) } }, /^createSecretBox: "keys\.k1" is one byte repeated 32 times, not a random key/],
    ['one byte repeated', { current: 'k1', keys: { k1: Buffer.alloc(32, 0xff) } }, /"keys\.k1" is one byte repeated 32 times/],
    ['the same bytes under two ids (a rotation to a copy of the old key)', { current: 'k2', keys: { k1: K1, k2: Buffer.from(K1) } }, /^createSecretBox: "keys\.k2" holds the same bytes as "keys\.k1": each key id needs 32 random bytes of its own\.$/],
    ['a key pasted as a field name, which the message must not repeat', { current: 'k1', keys: { k1: K1 }, c2VjcmV0a2V5bWF0ZXJpYWw: K1 }, /^createSecretBox: unknown option \(its name is not repeated, as it could be a secret\)\. The options are current, keys\.$/],
  ])('refuses %s at setup with ERR_OPTIONS_INVALID', (_what, keys, message) => {
    const error = thrown(() => createSecretBox(keys as never));

    expect(error.code).toBe('ERR_OPTIONS_INVALID');
    expect(error.message).toMatch(message);
  });
});
