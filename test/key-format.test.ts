import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  API_KEY_PATTERN,
  KEY_LENGTH,
  checksumOf,
  generateApiKey,
  maskApiKey,
  NOT_A_KEY_MASK,
  parseApiKey,
} from 'keyward';
import { partsOfAcceptedKey } from '../src/key-format.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The documented checksum, written independently of src/ from the format's description. */
function referenceChecksum(head: string): string {
  return referenceBase62(zlibCrc32(head));
}

/** A non-negative integer as six base62 digits, most significant first. */
function referenceBase62(value: number): string {
  let n = value;
  let out = '';
  while (n > 0) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out.padStart(6, '0');
}

function zlibCrc32(text: string): number {
  // node:zlib gained crc32 in Node 22; on 20 fall back to a bitwise loop.
  if (typeof crc32 === 'function') return crc32(Buffer.from(text, 'ascii'));
  let crc = ~0;
  for (const byte of Buffer.from(text, 'ascii')) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return ~crc >>> 0;
}

describe('generateApiKey', () => {
  it('writes sk_live_ for production and sk_test_ for sandbox, 58 characters in all', () => {
    expect(generateApiKey('production').key).toMatch(/^sk_live_[0-9A-Za-z]{50}$/);
    expect(generateApiKey('sandbox').key).toMatch(/^sk_test_[0-9A-Za-z]{50}$/);
    expect(generateApiKey('sandbox').key).toHaveLength(KEY_LENGTH);
  });

  it('ends with the documented CRC-32 base62 checksum of everything before it', () => {
    for (let i = 0; i < 50; i++) {
      const { key } = generateApiKey(i % 2 ? 'production' : 'sandbox');
      expect(key.slice(-6)).toBe(referenceChecksum(key.slice(0, -6)));
    }
  });

  it.each(['staging', 'constructor', undefined])('refuses the environment %s with a TypeError instead of making a key of it', (environment) => {
    expect(() => generateApiKey(environment as never)).toThrow(new TypeError('environment must be "production" or "sandbox"'));
  });

  it('splits the body into a 12-character lookup id and a 32-character secret', () => {
    const generated = generateApiKey('production');
    expect(generated.key.slice(8, 20)).toBe(generated.lookupId);
    expect(generated.key.slice(20, 52)).toBe(generated.secret);
  });

  it('draws every base62 character about equally often (no modulo bias)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2_000; i++) {
      for (const c of generateApiKey('sandbox').secret) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    const expected = (2_000 * 32) / 62;
    expect(counts.size).toBe(62);
    // A byte-modulo-62 generator over-weights the first 8 characters by ~25%; allow ±15%.
    for (const count of counts.values()) expect(Math.abs(count - expected) / expected).toBeLessThan(0.15);
  });
});

describe('parseApiKey', () => {
  const { key, lookupId, secret } = generateApiKey('production');

  it('returns the environment, lookup id and secret of a valid key', () => {
    expect(parseApiKey(key)).toEqual({ ok: true, key: { environment: 'production', lookupId, secret } });
  });

  it.each([null, undefined, 58, ['sk_test_'], new String('sk_test_')])('answers bad_length for %s, which is no text, instead of throwing', (candidate) => {
    expect(parseApiKey(candidate as never)).toEqual({ ok: false, reason: 'bad_length' });
  });

  it('refuses a key with any single character changed', () => {
    for (let i = 8; i < KEY_LENGTH; i++) {
      const swapped = key[i] === 'A' ? 'B' : 'A';
      const changed = key.slice(0, i) + swapped + key.slice(i + 1);
      expect(parseApiKey(changed).ok).toBe(false);
    }
  });

  it.each([
    ['Ł (U+0141), whose low byte is A', 'Ł'],
    ['Ａ (U+FF21, fullwidth A)', 'Ａ'],
    ['Á (U+00C1, a Latin-1 letter)', 'Á'],
  ])('refuses a key with %s in place of an A whose checksum is right for the A', (_name, lookalike) => {
    const head = `sk_live_${'A'.repeat(12)}${'b'.repeat(32)}`;
    const genuine = head + checksumOf(head);
    expect(parseApiKey(genuine).ok).toBe(true);
    const forged = `sk_live_${lookalike}${genuine.slice(9)}`;
    expect(forged).toHaveLength(KEY_LENGTH);
    expect(parseApiKey(forged)).toEqual({ ok: false, reason: 'bad_alphabet' });
  });

  it.each(['-', '_', '!', '.', ' '])('refuses a key whose lookup id starts with %j, even with its checksum right', (character) => {
    const head = `sk_test_${character}${'a'.repeat(11)}${'b'.repeat(32)}`;
    expect(parseApiKey(head + checksumOf(head))).toEqual({ ok: false, reason: 'bad_alphabet' });
  });

  it.each(['sk_testX', 'sk_test-', 'sk_liveX', 'sk_live0'])('refuses the prefix %s, its last underscore replaced, even with its checksum right', (prefix) => {
    const head = `${prefix}${'a'.repeat(12)}${'b'.repeat(32)}`;
    expect(parseApiKey(head + checksumOf(head))).toEqual({ ok: false, reason: 'bad_prefix' });
  });

  it('refuses a key with a character outside the BMP (two UTF-16 units) in place of two', () => {
    const { key: genuine } = generateApiKey('production');
    expect(parseApiKey(`${genuine.slice(0, 30)}😀${genuine.slice(32)}`)).toEqual({ ok: false, reason: 'bad_alphabet' });
  });

  it('accepts keys built with the reference checksum, and refuses a checksum one off or 2^32 past it', () => {
    for (let n = 0; n < 300; n++) {
      const head = `sk_test_${randomBase62Text(44)}`;
      const crc = zlibCrc32(head);
      expect(parseApiKey(head + referenceChecksum(head)).ok).toBe(true);
      // 2^32 past the CRC still fits six digits: only a comparison of the whole value refuses it.
      for (const wrong of [crc + 1, crc + 2 ** 32, Math.abs(crc - 1)].filter((value) => value !== crc)) {
        expect(parseApiKey(head + referenceBase62(wrong))).toEqual({ ok: false, reason: 'bad_checksum' });
      }
    }
  });

  it.each([
    ['one character short', key.slice(0, -1), 'bad_length'],
    ['one character long', `${key}A`, 'bad_length'],
    ['an unknown prefix', `sk_prod_${key.slice(8)}`, 'bad_prefix'],
    ['an upper-case prefix', `SK_LIVE_${key.slice(8)}`, 'bad_prefix'],
    ['a character outside base62', `${key.slice(0, 20)}-${key.slice(21)}`, 'bad_alphabet'],
    ['a non-ASCII character', `${key.slice(0, 20)}é${key.slice(21)}`, 'bad_alphabet'],
    ['a wrong checksum', `${key.slice(0, -6)}000000`, 'bad_checksum'],
    ['the letter case of the body swapped', key.slice(0, 8) + swapCase(key.slice(8)), 'bad_checksum'],
    ['an empty string', '', 'bad_length'],
  ])('refuses %s, with its reason', (_name, candidate, reason) => {
    expect(parseApiKey(candidate)).toEqual({ ok: false, reason });
  });
});

describe('partsOfAcceptedKey (the memo hit\'s parse)', () => {
  it('gives every key parseApiKey accepts the very parts parseApiKey gives it', () => {
    for (let i = 0; i < 200; i++) {
      const { key } = generateApiKey(i % 2 === 0 ? 'production' : 'sandbox');
      const parsed = parseApiKey(key);
      expect(parsed.ok && partsOfAcceptedKey(key)).toEqual(parsed.ok && parsed.key);
    }
  });
});

describe('maskApiKey', () => {
  it('keeps the prefix, the first four body characters, an ellipsis and the last four', () => {
    const { key, masked } = generateApiKey('production');
    expect(masked).toBe(`sk_live_${key.slice(8, 12)}\u2026${key.slice(-4)}`);
    expect(maskApiKey(key)).toBe(masked);
    expect(maskApiKey('sk_live_kqz3' + 'x'.repeat(42) + 'oU0i')).toBe('sk_live_kqz3…oU0i');
  });

  it.each([
    ['a short token', 'nope'],
    ['a password', 'my-database-password-hunter2'],
    ['a key one character short', generateApiKey('sandbox').key.slice(0, -1)],
    ['a key-length text with another prefix', `pk_live_${'a'.repeat(50)}`],
    ['a key-length text outside base62', `sk_test_${'a'.repeat(49)}-`],
    ['an empty string', ''],
  ])('shows none of %s, giving "[not a key]"', (_name, text) => {
    expect(maskApiKey(text)).toBe(NOT_A_KEY_MASK);
    expect(NOT_A_KEY_MASK).toBe('[not a key]');
  });

  it('shows none of a value that is not a string', () => {
    expect(maskApiKey(12345678 as unknown as string)).toBe('[not a key]');
  });
});

describe('API_KEY_PATTERN', () => {
  it('finds keys inside text and nothing shorter', () => {
    const { key } = generateApiKey('sandbox');
    expect(`token=${key};`.match(API_KEY_PATTERN)?.[0]).toBe(key);
    expect(API_KEY_PATTERN.test(key.slice(0, -1))).toBe(false);
  });

  it.each([
    ['a URL-encoded query', (key: string) => `/v1/sms?api_key%3D${key}&to=1`],
    ['a word glued before it', (key: string) => `KEY_${key}`],
    ['an underscore suffix after it', (key: string) => `${key}_old`],
    ['a line of JSON', (key: string) => `{"key":"${key}"}`],
  ])('finds a key in %s', (_name, wrap) => {
    const { key } = generateApiKey('production');
    expect(wrap(key).match(API_KEY_PATTERN)?.[0]).toBe(key);
  });

  it('finds, with the documented loop, a real key hidden behind a lookalike that swallows its first characters', () => {
    const key = generateApiKey('production').key;
    const scan = (text: string) => {
      const found: string[] = [];
      const pattern = new RegExp(API_KEY_PATTERN, 'g');
      for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
        if (parseApiKey(match[0]).ok) found.push(match[0]);
        else pattern.lastIndex = match.index + 1;
      }
      return found;
    };
    for (const lookalike of [`sk_live_${'A'.repeat(48)}`, `sk_test_${'0'.repeat(49)}`, 'sk_live_']) {
      expect(scan(`${lookalike}${key}`)).toEqual([key]);
    }
    // A scan from each match's end misses it.
    expect([...`sk_live_${'A'.repeat(48)}${key}`.matchAll(new RegExp(API_KEY_PATTERN, 'g'))].filter((match) => parseApiKey(match[0]).ok)).toEqual([]);
  });

  it('finds a key with letters glued after it, and both of two keys glued together', () => {
    const first = generateApiKey('production').key;
    const second = generateApiKey('sandbox').key;
    expect(`${first}abc`.match(API_KEY_PATTERN)?.[0]).toBe(first);
    const found = [...`${first}${second}`.matchAll(new RegExp(API_KEY_PATTERN, 'g'))].map((match) => match[0]);
    expect(found).toEqual([first, second]);
  });
});

describe('checksumOf', () => {
  it('left-pads small checksums with 0 to six characters', () => {
    // CRC-32 of the empty string is 0.
    expect(checksumOf('')).toBe('000000');
  });
});

function randomBase62Text(length: number): string {
  return Array.from({ length }, () => BASE62[Math.floor(Math.random() * 62)]).join('');
}

function swapCase(text: string): string {
  return [...text].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
}
