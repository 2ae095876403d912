/**
 * Property-based tests over everything that reads attacker-controlled text: credential
 * extraction, key parsing and stored-hash parsing. Never a throw, never a pass for anything
 * but a real issued key, always one of the documented outcomes.
 */
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import {
  createApiKeyAuth,
  createKeyManager,
  extractCredential,
  generateApiKey,
  MAX_CREDENTIAL_HEADER_LENGTH,
  parseApiKey,
  parseBearerHeader,
  parseStoredHash,
  type ApiKeyAuth,
  type CredentialCarriers,
} from 'keyward';
import { formatArgon2Hash } from '../src/phc.js';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { InstrumentedStore } from './helpers/stores.js';

const CREDENTIAL_FAILURES = ['missing', 'empty', 'too_long', 'malformed_header', 'conflicting_credentials'];
const KEY_FAILURES = ['bad_length', 'bad_prefix', 'bad_alphabet', 'bad_checksum'];
const HASH_FAULTS = ['not_a_string', 'too_long', 'not_phc', 'unsupported_type', 'unsupported_version', 'bad_parameters', 'parameters_out_of_bounds', 'bad_salt', 'bad_hash'];
const CARRIERS: CredentialCarriers = { apiKeyHeader: 'x-api-key', queryParameter: false };
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const HASH_A = '$argon2id$v=19$m=512,t=2,p=1$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw';
const SAMPLE_KEY = generateApiKey('sandbox').key;

/** Text as Node hands header bytes to an app: each byte one latin1 character. */
const latin1Bytes = fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('latin1'));
/** Strings assembled from the pieces a header parser cares about, so edge cases come up often. */
const headerish = fc
  .array(
    fc.oneof(
      fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', ' ', '  ', '\t', '\n', '\r', '\0', '\xa0', ',', '=', '"', 'sk_test_', 'sk_live_', 'é', '\u2028', '😀'),
      fc.constantFrom(SAMPLE_KEY, SAMPLE_KEY.slice(0, 30), SAMPLE_KEY.toUpperCase()),
      fc.string({ unit: 'binary', maxLength: 8 }),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 600 }), latin1Bytes, headerish);
const headerValue = fc.oneof(fc.constant(undefined), anyText, fc.array(anyText, { maxLength: 3 }));

/** An independent reading of the key format: zlib's CRC-32 and a base62 written here. */
function isWellFormedKey(candidate: string): boolean {
  if (candidate.length !== 58 || !/^sk_(live|test)_[0-9A-Za-z]{50}$/.test(candidate)) return false;
  let crc = crc32(Buffer.from(candidate.slice(0, 52), 'ascii'));
  let checksum = '';
  for (let i = 0; i < 6; i++) {
    checksum = BASE62[crc % 62] + checksum;
    crc = Math.floor(crc / 62);
  }
  return checksum === candidate.slice(52);
}

function isVisibleAscii(text: string): boolean {
  return [...text].every((c) => c.charCodeAt(0) > 0x20 && c.charCodeAt(0) < 0x7f);
}

describe('parseBearerHeader and extractCredential', () => {
  it('never throw and give a visible-ASCII single token or a documented reason', () => {
    fc.assert(
      fc.property(anyText, (value) => {
        const result = parseBearerHeader(value);
        if (!result.ok) return CREDENTIAL_FAILURES.includes(result.reason);
        const trimmed = value.replace(/^[ \t]+|[ \t]+$/g, '');
        return (
          value.length <= MAX_CREDENTIAL_HEADER_LENGTH &&
          isVisibleAscii(result.credential) &&
          /^bearer +$/i.test(trimmed.slice(0, trimmed.length - result.credential.length)) &&
          trimmed.endsWith(result.credential)
        );
      }),
      { numRuns: 3_000 },
    );
  });

  it('read one credential only when every carrier present holds the very same one', () => {
    fc.assert(
      fc.property(headerValue, headerValue, fc.boolean(), (authorization, apiKey, distinct) => {
        const headers = { authorization, 'x-api-key': apiKey } as Record<string, string | string[] | undefined>;
        const raw = (name: string, value: string | string[] | undefined) => [value ?? []].flat().flatMap((v) => [name, v]);
        const request = distinct
          ? { headers: {}, rawHeaders: [...raw('Authorization', authorization), ...raw('X-API-Key', apiKey)] }
          : { headers };
        const result = extractCredential(request, CARRIERS);
        if (!result.ok) return CREDENTIAL_FAILURES.includes(result.reason);
        const seen = [authorization, apiKey].flat().filter((v): v is string => v !== undefined);
        return isVisibleAscii(result.credential) && seen.length > 0 && seen.every((v) => v.includes(result.credential));
      }),
      { numRuns: 3_000 },
    );
  });

  it('cuts 200,000 characters and 50,000 spaces off by length, before any regular expression runs', () => {
    const exec = vi.spyOn(RegExp.prototype, 'exec');
    const test = vi.spyOn(RegExp.prototype, 'test');
    try {
      const inputs = [`Bearer${' '.repeat(50_000)}\n`, `Bearer ${'a'.repeat(200_000)}!`, 'x'.repeat(200_000), `Bearer ${' \t'.repeat(100_000)}`];
      const started = process.hrtime.bigint();
      const results = inputs.map((value) => [
        parseBearerHeader(value),
        extractCredential({ headers: { authorization: value, 'x-api-key': value } }, CARRIERS),
        parseApiKey(value),
        parseStoredHash(value),
      ]);
      const micros = Number(process.hrtime.bigint() - started) / 1_000;
      expect(exec).not.toHaveBeenCalled();
      expect(test).not.toHaveBeenCalled();
      for (const result of results) {
        expect(result).toEqual([
          { ok: false, reason: 'too_long' },
          { ok: false, reason: 'too_long' },
          { ok: false, reason: 'bad_length' },
          { ok: false, fault: 'too_long' },
        ]);
      }
      // Measured, not asserted: tests never depend on the machine's speed.
      console.info(`hostile long inputs: ${inputs.length * 4} parses in ${micros.toFixed(0)} µs`);
    } finally {
      exec.mockRestore();
      test.mockRestore();
    }
  });
});

describe('parseApiKey', () => {
  it('never throws and accepts only strings the independent format check accepts', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, fc.string({ unit: fc.constantFrom(...BASE62), minLength: 50, maxLength: 50 }).map((body) => `sk_test_${body}`)), (candidate) => {
        const result = parseApiKey(candidate);
        if (!result.ok) return KEY_FAILURES.includes(result.reason) && !isWellFormedKey(candidate);
        return isWellFormedKey(candidate) && candidate.slice(8, 20) === result.key.lookupId && candidate.slice(20, 52) === result.key.secret;
      }),
      { numRuns: 5_000 },
    );
  });

  it('refuses every single-character change, insertion, deletion, case flip and swap of a real key', () => {
    const keys = fc.constantFrom('production', 'sandbox').map((environment) => generateApiKey(environment as 'production' | 'sandbox').key);
    const mutation = fc.tuple(keys, fc.nat(57), fc.constantFrom(...BASE62, '_', '-', ' '), fc.constantFrom('substitute', 'insert', 'delete', 'flip', 'swap'));
    fc.assert(
      fc.property(mutation, ([key, at, char, kind]) => {
        const mutated =
          kind === 'substitute' ? key.slice(0, at) + char + key.slice(at + 1)
          : kind === 'insert' ? key.slice(0, at) + char + key.slice(at)
          : kind === 'delete' ? key.slice(0, at) + key.slice(at + 1)
          : kind === 'flip' ? key.slice(0, at) + (key[at] === key[at]!.toLowerCase() ? key[at]!.toUpperCase() : key[at]!.toLowerCase()) + key.slice(at + 1)
          : key.slice(0, at) + (key[at + 1] ?? '') + key[at] + key.slice(at + 2);
        return mutated === key || !parseApiKey(mutated).ok;
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('parseStoredHash', () => {
  const mutatedHashA = fc.tuple(fc.nat(HASH_A.length - 1), fc.string({ unit: 'binary', maxLength: 3 }), fc.nat(3)).map(
    ([at, insert, remove]) => HASH_A.slice(0, at) + insert + HASH_A.slice(at + remove),
  );

  it('never throws, names a documented fault, and accepts only what it would write itself (minus padding)', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, mutatedHashA, fc.anything()), (encoded) => {
        const result = parseStoredHash(encoded);
        if (!result.ok) return HASH_FAULTS.includes(result.fault);
        const { params, salt, hash, pepperId } = result.value;
        const canonical = (encoded as string).replace(/=+(?=\$|$)/g, '');
        return formatArgon2Hash(params, salt, hash, pepperId) === canonical;
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('the whole pipeline on arbitrary requests', () => {
  let auth: ApiKeyAuth;
  let realKey: string;

  beforeAll(async () => {
    const store = new InstrumentedStore();
    realKey = (await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_1', environment: 'sandbox' })).key;
    auth = createApiKeyAuth({ store, throttle: false, queryParameter: 'api_key' });
  });
  afterAll(() => auth.close());

  it('lets a request through only when the real key is its one credential', async () => {
    const withRealKey = fc.oneof(
      headerValue,
      fc.constantFrom(() => realKey, () => `Bearer ${realKey}`, () => `bearer  ${realKey}`, () => `Bearer\t${realKey}`, () => `${realKey} `),
    );
    const resolve = (value: unknown) => (typeof value === 'function' ? value() : value);
    await fc.assert(
      fc.asyncProperty(withRealKey, withRealKey, fc.oneof(fc.constant(undefined), anyText), async (authorization, apiKey, query) => {
        const headers = { authorization: resolve(authorization), 'x-api-key': resolve(apiKey) };
        const url = query === undefined ? '/v1' : `/v1?api_key=${encodeURIComponent(query)}`;
        const result = await auth.authenticate({ headers, url });
        if (!result.ok) return [401].includes(result.response.status);
        const carried = [headers.authorization, headers['x-api-key']].flat().filter((v) => v !== undefined);
        return carried.every((v) => String(v).includes(realKey)) && (query === undefined || query.trim() === realKey);
      }),
      { numRuns: 1_500 },
    );
  });
});
