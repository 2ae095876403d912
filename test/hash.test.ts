import { describe, expect, it } from 'vitest';
import { argon2Verify } from 'hash-wasm';
import {
  DEFAULT_ARGON2_PARAMS,
  hashSecret,
  needsRehash,
  parseStoredHash,
  verifySecret,
} from 'keyward';
import { ARGON2_VECTORS, TEST_ARGON2 } from './fixtures/argon2-vectors.js';

const HASH_A = ARGON2_VECTORS[0]!.encoded;

describe('verifySecret', () => {
  it.each(ARGON2_VECTORS)('matches the reference implementation for $encoded', async ({ secret, encoded }) => {
    await expect(verifySecret(secret, encoded)).resolves.toBe(true);
  });

  it('returns false for a wrong secret against a reference vector', async () => {
    await expect(verifySecret('secretpart124', HASH_A)).resolves.toBe(false);
  });

  it('returns false for an empty secret without computing anything', async () => {
    await expect(verifySecret('', HASH_A)).resolves.toBe(false);
  });

  it('has hashSecret refuse an empty secret with ERR_INVALID_ARGUMENT, not a TypeError', async () => {
    await expect(hashSecret('', { memoryKiB: 1_024, iterations: 1, parallelism: 1 })).rejects.toMatchObject({
      name: 'ApiKeyAuthError',
      code: 'ERR_INVALID_ARGUMENT',
      status: 400,
      message: 'hashSecret: the secret is empty; pass the secret part of a key.',
    });
  });

  it('refuses a hash with swapped arguments as a stored-hash fault', async () => {
    await expect(verifySecret(HASH_A, 'secretpart123')).rejects.toMatchObject({
      code: 'ERR_STORED_HASH_INVALID',
    });
  });
});

describe('verifySecret with peppers', () => {
  const pepper = new Uint8Array(32).fill(7);

  it('refuses a hash that names a pepper when none is given, as the authenticator does (a fault, not a wrong key)', async () => {
    const peppered = await hashSecret('a-secret', TEST_ARGON2, { id: 'p1', secret: pepper });
    await expect(verifySecret('a-secret', peppered)).rejects.toMatchObject({
      code: 'ERR_STORED_HASH_INVALID',
      message: 'stored hash names pepper "p1" (keyid=), and no pepper was given',
    });
    await expect(verifySecret('a-secret', peppered, pepper)).resolves.toBe(true);
  });

  it('refuses a pepper that is not a Uint8Array with ERR_OPTIONS_INVALID', async () => {
    const peppered = await hashSecret('a-secret', TEST_ARGON2, { id: 'p1', secret: pepper });
    await expect(verifySecret('a-secret', peppered, 'the-pepper' as never)).rejects.toMatchObject({ code: 'ERR_OPTIONS_INVALID' });
  });
});

describe('hashSecret', () => {
  it('writes an unpadded $argon2id$v=19 string with the default parameters', async () => {
    const encoded = await hashSecret('a-secret-part');
    expect(encoded).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  });

  it('round-trips through keyward and through hash-wasm’s own verify', async () => {
    const encoded = await hashSecret('round-trip', TEST_ARGON2);
    await expect(verifySecret('round-trip', encoded)).resolves.toBe(true);
    await expect(argon2Verify({ password: 'round-trip', hash: encoded })).resolves.toBe(true);
  });

  it('uses a fresh salt every time', async () => {
    const first = await hashSecret('same', TEST_ARGON2);
    const second = await hashSecret('same', TEST_ARGON2);
    expect(first).not.toBe(second);
  });

  it.each([
    ['more memory than a verifier accepts', { memoryKiB: 4_194_304, iterations: 1, parallelism: 1 }],
    ['more passes than a verifier accepts', { memoryKiB: 256, iterations: 33, parallelism: 1 }],
    ['a fractional parameter', { memoryKiB: 256.5, iterations: 1, parallelism: 1 }],
  ])('refuses %s with ERR_OPTIONS_INVALID, computing nothing, rather than writing a hash no verifier takes', async (_what, params) => {
    await expect(hashSecret('secret', params)).rejects.toMatchObject({ code: 'ERR_OPTIONS_INVALID', message: expect.stringMatching(/^hashSecret: "params" (memoryKiB|iterations) must be an integer/) });
  });
});

describe('hashSecret peppers', () => {
  const computeNothing = () => Promise.reject(new Error('computed'));

  it.each([
    ['a string', 'my-pepper'],
    ['null', null],
    ['an id without a secret', { id: 'p1' }],
    ['a string secret', { id: 'p1', secret: 'my-pepper' }],
    ['an id too long to record', { id: 'p1-much-too-long', secret: new Uint8Array(32) }],
    ['an id that is not a string', { id: 1, secret: new Uint8Array(32) }],
    ['a secret of 3 bytes', { id: 'p1', secret: new Uint8Array(3) }],
    ['no bytes at all', new Uint8Array(0)],
  ])('refuses %s with ERR_OPTIONS_INVALID before computing, rather than writing an unpeppered hash', async (_what, pepper) => {
    await expect(hashSecret('a-secret', TEST_ARGON2, pepper as never, computeNothing)).rejects.toMatchObject({
      code: 'ERR_OPTIONS_INVALID',
      message: 'hashSecret: "pepper" must be 16 to 1024 bytes (a Uint8Array), or { id, secret } with an id of 1 to 8 letters, digits, "_" or "-" and such a secret.',
    });
  });
});

describe('needsRehash', () => {
  it('is false for a hash written with the current parameters', async () => {
    expect(needsRehash(await hashSecret('x', TEST_ARGON2), TEST_ARGON2)).toBe(false);
  });

  it('is true when the current parameters differ from the stored ones', () => {
    expect(needsRehash(HASH_A, DEFAULT_ARGON2_PARAMS)).toBe(true);
    expect(needsRehash(HASH_A, { memoryKiB: 512, iterations: 2, parallelism: 1 })).toBe(false);
  });

  it('refuses a current pepper id that is no pepper id, which would make every hash need a rehash', () => {
    for (const id of [123, '', 'much-too-long-id']) {
      expect(() => needsRehash(HASH_A, TEST_ARGON2, id as never)).toThrow(
        expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message: 'needsRehash: "currentPepperId" must be a pepper id, 1 to 8 letters, digits, "_" or "-", or left out.' }),
      );
    }
  });

  it('refuses parameters hashSecret would not write with, with ERR_OPTIONS_INVALID, rather than answering for them', () => {
    expect(() => needsRehash(HASH_A, { memoryKiB: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS_INVALID' }));
    expect(() => needsRehash(HASH_A, { memoryKiB: 4_194_304, iterations: 1, parallelism: 1 })).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS_INVALID' }));
  });

  it('throws ERR_STORED_HASH_INVALID for a hash it cannot parse', () => {
    expect(() => needsRehash('not a hash')).toThrow(expect.objectContaining({ code: 'ERR_STORED_HASH_INVALID', status: 500 }));
  });
});

describe('parseStoredHash', () => {
  const fields = 'c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw';

  it.each([
    ['an empty string', '', 'not_phc'],
    ['null', null, 'not_a_string'],
    ['a hex digest', '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 'not_phc'],
    ['a bcrypt string', '$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234', 'not_phc'],
    ['a missing hash part', '$argon2id$v=19$m=512,t=2,p=1$c2FsdHNhbHRzYWx0MDAwMQ$', 'bad_hash'],
    ['a 4-byte salt', '$argon2id$v=19$m=512,t=2,p=1$c2FsdA$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw', 'bad_salt'],
    ['a repeated parameter', `$argon2id$v=19$m=512,m=512,p=1$${fields}`, 'bad_parameters'],
    ['no version', `$argon2id$m=512,t=2,p=1$${fields}`, 'not_phc'],
    ['version 16', `$argon2id$v=16$m=512,t=2,p=1$${fields}`, 'unsupported_version'],
    ['argon2i', `$argon2i$v=19$m=512,t=2,p=1$${fields}`, 'unsupported_type'],
    ['argon2d', `$argon2d$v=19$m=512,t=2,p=1$${fields}`, 'unsupported_type'],
    ['memory above 1 GiB', `$argon2id$v=19$m=1048577,t=2,p=1$${fields}`, 'parameters_out_of_bounds'],
    ['33 iterations', `$argon2id$v=19$m=512,t=33,p=1$${fields}`, 'parameters_out_of_bounds'],
    ['zero lanes', `$argon2id$v=19$m=512,t=2,p=0$${fields}`, 'parameters_out_of_bounds'],
    ['a 600-character value', `$argon2id$v=19$m=512,t=2,p=1$${'A'.repeat(600)}$x`, 'too_long'],
    ['padding that does not align', `$argon2id$v=19$m=512,t=2,p=1$c2FsdHNhbHRzYWx0MDAwMQ=$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw`, 'bad_salt'],
  ])('refuses %s (%s)', (_name, encoded, fault) => {
    expect(parseStoredHash(encoded)).toEqual({ ok: false, fault });
  });

  it('accepts correct = padding and verifies it like the unpadded form', async () => {
    const padded =
      '$argon2id$v=19$m=512,t=2,p=1$c2FsdHNhbHRzYWx0MDAwMQ==$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw=';
    expect(parseStoredHash(padded).ok).toBe(true);
    await expect(verifySecret('secretpart123', padded)).resolves.toBe(true);
  });
});
