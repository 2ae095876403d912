/**
 * Every case of shared/public-cases.md that belongs to hostile input (C01, C03, C04, C05, C07,
 * C09, C10, C14, C17, C18, C25), with its neighbours, through real HTTP on every adapter.
 * Where a case's illustrative key differs from keyward's format, a real-format key with the
 * same property is used.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { argon2id } from 'hash-wasm';
import {
  checksumOf,
  createApiKeyAuth,
  createKeyManager,
  extractCredential,
  generateApiKey,
  parseBearerHeader,
  verifySecret,
  type ApiKeyAuth,
  type AuthDecision,
  type KeyManager,
} from 'keyward';
import { ARGON2_VECTORS, LEGACY_KEY_FIXTURE, TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { CaptureLogger } from './helpers/capture-logger.js';
import { IN_THREAD_ARGON2 } from './helpers/argon2-count.js';
import { comparable, send, sendRaw, type ClientResponse } from './helpers/http-client.js';
import { InstrumentedStore, insertRawRow } from './helpers/stores.js';
import { ADAPTERS, type RunningApp } from './http/apps.js';
import { bearer, forgeSecret } from './helpers/keys.js';

vi.mock('hash-wasm', async (importOriginal) => {
  const real = await importOriginal<typeof import('hash-wasm')>();
  return { ...real, argon2id: vi.fn(real.argon2id) };
});

const argon2Runs = () => vi.mocked(argon2id).mock.calls.length;

const INVALID_BODY = '{"error":{"code":"ERR_API_KEY_INVALID","message":"The API key is invalid."}}';
const FAULT_BODY = '{"error":{"code":"ERR_INTERNAL","message":"Internal server error."}}';
const HASH_A = '$argon2id$v=19$m=512,t=2,p=1$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw';
/** A vector computed by the reference tool with a 32-character base62 secret: a real key can carry it. */
const VECTOR = ARGON2_VECTORS[1]!;


/** The real-format key for a lookup id and a 32-character secret. */
function keyOf(lookupId: string, secret: string, prefix = 'sk_test_'): string {
  const head = prefix + lookupId + secret;
  return head + checksumOf(head);
}

function swapCase(text: string): string {
  return [...text].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
}

/** Rejects when no answer arrives within `ms`: the bound of C05 and C18, not a speed measure. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A GET with header lines written byte for byte (tabs, raw latin1, repeated headers). */
function rawGet(app: RunningApp, path: string, headerLines: (string | Buffer)[]): Promise<ClientResponse> {
  const { host } = new URL(app.url);
  const parts: Buffer[] = [Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n`)];
  for (const line of headerLines) parts.push(Buffer.isBuffer(line) ? line : Buffer.from(line, 'latin1'), Buffer.from('\r\n'));
  parts.push(Buffer.from('Connection: close\r\n\r\n'));
  return sendRaw(app.url, Buffer.concat(parts));
}

function expectGenericInvalid(response: ClientResponse): void {
  expect(response.status).toBe(401);
  expect(response.body).toBe(INVALID_BODY);
  expect(response.headers['www-authenticate']).toBe('Bearer realm="api", error="invalid_token"');
}

describe.each(ADAPTERS)('public failure cases on $name', (adapter) => {
  let store: InstrumentedStore;
  let manager: KeyManager;
  let auth: ApiKeyAuth;
  let app: RunningApp;
  let logger: CaptureLogger;
  const decisions: AuthDecision[] = [];
  const keys: Record<string, string> = {};
  const ids: Record<string, string> = {};
  let unknownKey: string;

  const issue = async (label: string, input: Partial<Parameters<KeyManager['issue']>[0]> = {}) => {
    const issued = await manager.issue({ accountId: `acct_${label}`, environment: 'sandbox', ...input });
    keys[label] = issued.key;
    ids[label] = issued.card.keyId;
    logger.forbid(issued.key, issued.key.slice(20, 52));
    return issued;
  };

  beforeAll(async () => {
    store = new InstrumentedStore();
    manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    logger = new CaptureLogger();
    auth = createApiKeyAuth({
      store,
      logger,
      storeTimeoutMs: 200,
      onDecision: (decision) => decisions.push(decision),
      ...IN_THREAD_ARGON2,
    });
    await issue('valid');
    await issue('lowpriv');
    await issue('admin', { keyType: 'admin_api' });
    await issue('other');
    unknownKey = generateApiKey('sandbox').key;
    app = await adapter.start(auth);
  });

  afterAll(async () => {
    await app.close();
    await auth.close();
  });

  afterEach(() => {
    store.heal();
    logger.assertNoLeaks();
  });

  const counted = async (action: () => Promise<ClientResponse>) => {
    const lookups = store.lookups;
    const runs = argon2Runs();
    const response = await action();
    return { response, lookups: store.lookups - lookups, argon2: argon2Runs() - runs };
  };

  describe('C01: Bearer scheme name in any letter case', () => {
    it.each(['bearer', 'BEARER', 'Bearer', 'bEARER'])('authenticates "%s <key>" with 200', async (scheme) => {
      const response = await send(app.url, '/v1/whoami', { headers: { authorization: `${scheme} ${keys.valid}` } });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body).apiKey.keyId).toBe(ids.valid);
    });

    it('answers the key with the case of its letters swapped with the generic 401 and no lookup', async () => {
      const swapped = keys.valid!.slice(0, 8) + swapCase(keys.valid!.slice(8));
      const { response, lookups } = await counted(() => send(app.url, '/v1/whoami', { headers: bearer(swapped) }));
      expectGenericInvalid(response);
      expect(lookups).toBe(0);
    });

    it('answers the prefix in upper case, or a scheme that only resembles Bearer, with the generic 401', async () => {
      for (const header of [`Bearer ${swapCase(keys.valid!.slice(0, 8))}${keys.valid!.slice(8)}`, `Bearerr ${keys.valid}`, `Token ${keys.valid}`]) {
        expectGenericInvalid(await send(app.url, '/v1/whoami', { headers: { authorization: header } }));
      }
      const lookalike = Buffer.concat([Buffer.from('Authorization: Bear'), Buffer.from([0xc3, 0xa9]), Buffer.from(`r ${keys.valid}`)]);
      expectGenericInvalid(await rawGet(app, '/v1/whoami', [lookalike]));
    });
  });

  describe('C03: whitespace between the scheme and the key', () => {
    it('authenticates three spaces between scheme and key with 200', async () => {
      const response = await rawGet(app, '/v1/whoami', [`Authorization: Bearer   ${keys.valid}`]);
      expect(response.status).toBe(200);
    });

    it('authenticates spaces and tabs before the scheme and after the key with 200', async () => {
      for (const line of [`Authorization:    Bearer ${keys.valid}   `, `Authorization:\t Bearer ${keys.valid}\t`]) {
        expect((await rawGet(app, '/v1/whoami', [line])).status).toBe(200);
      }
    });

    it.each([
      ['a tab as the separator', (k: string) => `Bearer\t${k}`],
      ['a space then a tab', (k: string) => `Bearer \t${k}`],
      ['a no-break space as the separator', (k: string) => `Bearer\xa0${k}`],
      ['a second word after the key', (k: string) => `Bearer ${k} extra`],
      ['the key twice', (k: string) => `Bearer ${k} ${k}`],
      ['a tab inside the value', (k: string) => `Bearer ${k}\tx`],
      ['a comma-joined second credential', (k: string) => `Bearer ${k}, Bearer ${k}`],
    ])('answers %s with the generic 401 and no lookup', async (_name, header) => {
      const { response, lookups } = await counted(() => rawGet(app, '/v1/whoami', [`Authorization: ${header(keys.valid!)}`]));
      expectGenericInvalid(response);
      expect(lookups).toBe(0);
    });

    it('answers control characters inside the value with 400 or 401, never 200 or 5xx', async () => {
      for (const control of ['\x0b', '\x0c', '\x00', '\x7f']) {
        const response = await rawGet(app, '/v1/whoami', [`Authorization: Bearer${control}${keys.valid}`]);
        expect([400, 401]).toContain(response.status);
      }
    });
  });

  describe('C04: empty credential, or a key with an empty secret part', () => {
    it.each([
      ['the scheme alone', ['Authorization: Bearer']],
      ['the scheme and only spaces', ['Authorization: Bearer      ']],
      ['an empty X-API-Key', ['X-API-Key:']],
      ['an X-API-Key of spaces', ['X-API-Key:    ']],
      ['a bare prefix', ['Authorization: Bearer sk_live_']],
      ['a bare test prefix in X-API-Key', ['X-API-Key: sk_test_']],
    ])('answers %s with the generic 401 and no lookup', async (_name, lines) => {
      const { response, lookups, argon2 } = await counted(() => rawGet(app, '/v1/whoami', lines));
      expectGenericInvalid(response);
      expect(lookups).toBe(0);
      expect(argon2).toBe(0);
    });

    it('answers an existing lookup id with no secret part with the generic 401, no lookup and no Argon2 run', async () => {
      const lookupId = keys.valid!.slice(8, 20);
      for (const candidate of [`sk_test_${lookupId}`, keyOf(lookupId, '').slice(0, 26), `sk_test_${lookupId}${checksumOf(`sk_test_${lookupId}`)}`]) {
        const { response, lookups, argon2 } = await counted(() => send(app.url, '/v1/whoami', { headers: bearer(candidate) }));
        expectGenericInvalid(response);
        expect(lookups).toBe(0);
        expect(argon2).toBe(0);
      }
      expect(vi.mocked(argon2id).mock.calls.every(([options]) => String(options.password).length > 0)).toBe(true);
    });

    it('verifies an empty secret as a mismatch without calling Argon2', async () => {
      const runs = argon2Runs();
      await expect(verifySecret('', HASH_A)).resolves.toBe(false);
      expect(argon2Runs()).toBe(runs);
    });
  });

  describe('C05: very long, backtracking-prone or non-ASCII header values', () => {
    it('refuses 50,000 spaces and a newline, and 200,000 characters, by the length cap before any scan', () => {
      for (const value of [`Bearer${' '.repeat(50_000)}\n`, `Bearer ${'a'.repeat(200_000)}!`]) {
        expect(parseBearerHeader(value)).toEqual({ ok: false, reason: 'too_long' });
        expect(extractCredential({ headers: { authorization: value } }, { apiKeyHeader: 'x-api-key', queryParameter: false })).toEqual({ ok: false, reason: 'too_long' });
        expect(extractCredential({ headers: { 'x-api-key': value } }, { apiKeyHeader: 'x-api-key', queryParameter: false })).toEqual({ ok: false, reason: 'too_long' });
      }
    });

    it.each(['authorization', 'x-api-key'])('answers a 12 KiB %s header with 401 or 431, never a 5xx, and no lookup', async (name) => {
      const value = name === 'authorization' ? `Bearer ${'A'.repeat(12 * 1024)}` : 'A'.repeat(12 * 1024);
      const { response, lookups } = await counted(() => within(5_000, send(app.url, '/v1/whoami', { headers: { [name]: value } })));
      expect([401, 431]).toContain(response.status);
      expect(lookups).toBe(0);
    });

    it('answers a value one character over the cap with the generic 401 and no lookup', async () => {
      const { response, lookups } = await counted(() => send(app.url, '/v1/whoami', { headers: { authorization: `Bearer ${'A'.repeat(506)}` } }));
      expectGenericInvalid(response);
      expect(lookups).toBe(0);
    });

    it.each([
      ['raw UTF-8 bytes after the prefix', ['Authorization: Bearer sk_live_caf', Buffer.from([0xc3, 0xa9])]],
      ['a latin1 byte inside a full-length key', null],
      ['raw UTF-8 bytes in X-API-Key', ['X-API-Key: sk_test_', Buffer.from([0xe2, 0x80, 0xa6])]],
    ])('answers %s with the generic 401 and no lookup', async (_name, pieces) => {
      const line = pieces
        ? Buffer.concat((pieces as (string | Buffer)[]).map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))))
        : Buffer.concat([Buffer.from(`Authorization: Bearer ${keys.valid!.slice(0, 30)}`), Buffer.from([0xe9]), Buffer.from(keys.valid!.slice(31))]);
      const { response, lookups } = await counted(() => rawGet(app, '/v1/whoami', [line]));
      expectGenericInvalid(response);
      expect(lookups).toBe(0);
    });
  });

  describe('C07: Authorization and X-API-Key both present with different keys', () => {
    it('answers two live keys of different owners with the generic 401, never 200', async () => {
      for (const [first, second] of [['lowpriv', 'admin'], ['admin', 'lowpriv']] as const) {
        const response = await send(app.url, '/v1/admin', { headers: { ...bearer(keys[first]!), 'x-api-key': keys[second]! } });
        expectGenericInvalid(response);
      }
    });

    it('refuses the two keys in a request object an app builds with the sender\'s header spelling too', async () => {
      const admin = { keyType: 'admin_api' };
      for (const headers of [
        { Authorization: `Bearer ${keys.lowpriv}`, 'x-api-key': keys.admin! },
        { 'X-API-Key': keys.admin!, authorization: `Bearer ${keys.lowpriv}` },
      ]) {
        const result = await auth.authenticate({ headers, remoteAddress: '192.0.2.7' }, admin);
        expect(result.ok ? 200 : result.response.status).toBe(401);
      }
      const alone = await auth.authenticate({ headers: { Authorization: `Bearer ${keys.admin}` }, remoteAddress: '192.0.2.7' }, admin);
      expect(alone.ok).toBe(true);
    });

    it('authenticates the same key in both headers and attaches exactly that key', async () => {
      const response = await send(app.url, '/v1/whoami', { headers: { ...bearer(keys.valid!), 'x-api-key': keys.valid! } });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body).apiKey).toEqual({ keyId: ids.valid, accountId: 'acct_valid', keyType: 'sms_api', environment: 'sandbox' });
    });

    it.each([
      ['garbage in X-API-Key', (k: string) => ({ ...bearer(k), 'x-api-key': 'garbage' })],
      ['garbage in Authorization', (k: string) => ({ authorization: 'Bearer garbage', 'x-api-key': k })],
      ['another scheme in Authorization', (k: string) => ({ authorization: 'Basic dXNlcjpwYXNz', 'x-api-key': k })],
      ['an empty X-API-Key', (k: string) => ({ ...bearer(k), 'x-api-key': '' })],
    ])('answers a valid key with %s with the generic 401', async (_name, headers) => {
      expectGenericInvalid(await send(app.url, '/v1/whoami', { headers: headers(keys.valid!) }));
    });

    it('answers two Authorization headers with different keys with the generic 401, whatever their order', async () => {
      for (const [first, second] of [['lowpriv', 'admin'], ['admin', 'lowpriv']] as const) {
        const response = await rawGet(app, '/v1/admin', [`Authorization: Bearer ${keys[first]}`, `Authorization: Bearer ${keys[second]}`]);
        expectGenericInvalid(response);
      }
    });

    it('lets one key through when it comes twice in Authorization, written differently', async () => {
      // The raw client half-closes at once, and Node then drops a request still in its
      // Argon2 check; a memo hit answers before that.
      await send(app.url, '/v1/whoami', { headers: bearer(keys.valid!) });
      const response = await rawGet(app, '/v1/whoami', [`Authorization: Bearer ${keys.valid}`, `authorization: bearer  ${keys.valid}`]);
      expect(response.status).toBe(200);
    });

    it('answers a key after 1,021 other header lines with the generic 401, since Node drops a second key there unseen', async () => {
      // Node keeps only the first 1,000 header lines in req.headers and stops rawHeaders
      // about 20 lines later: the second Authorization line below never reaches keyward.
      const filler = Array.from({ length: 1_021 }, (_, i) => `f${i}: 1`);
      const response = await rawGet(app, '/v1/whoami', [...filler, `Authorization: Bearer ${keys.valid}`, `Authorization: Bearer ${keys.admin}`]);
      expectGenericInvalid(response);
      await send(app.url, '/v1/whoami', { headers: bearer(keys.valid!) });
      const justUnder = await rawGet(app, '/v1/whoami', [...filler.slice(0, 990), `Authorization: Bearer ${keys.valid}`]);
      expect(justUnder.status).toBe(200);
    });

    it('answers two X-API-Key headers with different keys with the generic 401', async () => {
      const response = await rawGet(app, '/v1/whoami', [`X-API-Key: ${keys.lowpriv}`, `X-API-Key: ${keys.admin}`]);
      expectGenericInvalid(response);
    });

    it('answers X-API-Key alone with 401 missing when that carrier is switched off', async () => {
      const headerOff = createApiKeyAuth({ store, apiKeyHeader: false });
      const offApp = await adapter.start(headerOff);
      try {
        const response = await send(offApp.url, '/v1/whoami', { headers: { 'x-api-key': keys.valid! } });
        expect(response.status).toBe(401);
        expect(JSON.parse(response.body).error.code).toBe('ERR_API_KEY_MISSING');
        expect((await send(offApp.url, '/v1/whoami', { headers: bearer(keys.valid!) })).status).toBe(200);
      } finally {
        await offApp.close();
        await headerOff.close();
      }
    });
  });

  describe('C09: stored hash the verifier cannot parse', () => {
    it.each([
      ['an empty string', ''],
      ['NULL', null],
      ['a missing column', undefined],
      ['a number', 42],
      ['a hex SHA-256 digest', '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'],
      ['a bcrypt string', '$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234'],
      ['a hash cut after the last $', '$argon2id$v=19$m=512,t=2,p=1$c2FsdHNhbHRzYWx0MDAwMQ$'],
      ['a 4-byte salt', '$argon2id$v=19$m=512,t=2,p=1$c2FsdA$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw'],
      ['a repeated parameter', '$argon2id$v=19$m=512,m=512,p=1$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw'],
      ['reordered parameters', '$argon2id$v=19$t=2,m=512,p=1$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw'],
      ['a leading zero', '$argon2id$v=19$m=0512,t=2,p=1$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw'],
      ['zero iterations', '$argon2id$v=19$m=512,t=0,p=1$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw'],
      ['4 GiB of memory', '$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw'],
      ['an unknown extra parameter', '$argon2id$v=19$m=512,t=2,p=1,data=YWJj$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw'],
      ['a pepper id this app does not have', '$argon2id$v=19$m=512,t=2,p=1,keyid=cDk$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw'],
      ['surrounding whitespace', ` ${HASH_A}\n`],
      ['a seventh segment', `${HASH_A}$extra`],
      ['a truncated hash part', HASH_A.slice(0, -10)],
      ['a hash in upper case', HASH_A.toUpperCase()],
    ])('answers a row whose hash is %s with the generic 500, one log event naming the key, and no Argon2 run', async (name, keyHash) => {
      // Each case a row of its own: a corrupt row's fault line is held back for a second per
      // row and problem, and the cases run within one second.
      const keyId = `key_c09_${name.replace(/\W+/g, '_')}`;
      store.override = (row) => row && { ...row, id: keyId, key_hash: keyHash };
      const errorsBefore = logger.entries.filter((entry) => entry.level === 'error').length;
      const { response, argon2 } = await counted(() => send(app.url, '/v1/whoami', { headers: bearer(keys.valid!) }));
      expect(response.status).toBe(500);
      expect(response.body).toBe(FAULT_BODY);
      expect(argon2).toBe(0);
      const errors = logger.entries.filter((entry) => entry.level === 'error').slice(errorsBefore);
      expect(errors).toHaveLength(1);
      expect(errors[0]!.message).toContain(`stored hash unparseable for key ${keyId}`);
      expect(decisions.at(-1)).toMatchObject({ outcome: 'fault', code: 'ERR_STORED_HASH_INVALID', keyId });
    });

    it('verifies fixture hash A with its secret (so verify arguments are not swapped)', async () => {
      await expect(verifySecret('secretpart123', HASH_A)).resolves.toBe(true);
      await expect(verifySecret('secretpart124', HASH_A)).resolves.toBe(false);
    });

    it('authenticates a key whose row holds a hash computed by the reference Argon2 tool', async () => {
      const lookupId = 'RefToolVec01';
      await insertRawRow(store, { id: `key_ref_${adapter.name.replace(/\W/g, '')}`, lookup_id: lookupId, key_hash: VECTOR.encoded });
      const key = keyOf(lookupId, VECTOR.secret);
      logger.forbid(key, VECTOR.secret);
      const first = await counted(() => send(app.url, '/v1/whoami', { headers: bearer(key) }));
      expect(first.response.status).toBe(200);
      // The spy sees Argon2 runs, so the zero counts elsewhere in this file mean something.
      expect(first.argon2).toBe(1);
      expectGenericInvalid(await send(app.url, '/v1/whoami', { headers: bearer(forgeSecret(key)) }));
    });
  });

  describe('C10: PHC variants (padding, version, other Argon2 types)', () => {
    const padded = (encoded: string) => {
      const [, type, version, params, salt, hash] = encoded.split('$');
      const pad = (text: string) => text + '='.repeat((4 - (text.length % 4)) % 4);
      return `$${type}$${version}$${params}$${pad(salt!)}$${pad(hash!)}`;
    };

    it('strips correct = padding and verifies (documented choice)', async () => {
      await expect(verifySecret('secretpart123', padded(HASH_A))).resolves.toBe(true);
      const key = keyOf('RefToolVec02', VECTOR.secret);
      await insertRawRow(store, { id: `key_pad_${adapter.name.replace(/\W/g, '')}`, lookup_id: 'RefToolVec02', key_hash: padded(VECTOR.encoded) });
      logger.forbid(key);
      expect((await send(app.url, '/v1/whoami', { headers: bearer(key) })).status).toBe(200);
    });

    it.each([
      ['no version', HASH_A.replace('$v=19', '')],
      ['version 16', HASH_A.replace('v=19', 'v=16')],
      ['type argon2i', HASH_A.replace('argon2id', 'argon2i')],
      ['type argon2d', HASH_A.replace('argon2id', 'argon2d')],
      ['padding on the salt only where none is due', HASH_A.replace('MQ$', 'MQ=$')],
      ['a single = where two are due', HASH_A.replace('MQ$', 'MQ=$').replace('Smjw', 'Smjw=')],
      ['padding inside the field', HASH_A.replace('c2Fs', 'c2=Fs')],
    ])('treats %s as a stored-hash fault: generic 500 and no Argon2 run', async (_name, keyHash) => {
      store.override = (row) => row && { ...row, key_hash: keyHash };
      const { response, argon2 } = await counted(() => send(app.url, '/v1/whoami', { headers: bearer(keys.valid!) }));
      expect(response.status).toBe(500);
      expect(response.body).toBe(FAULT_BODY);
      expect(argon2).toBe(0);
      await expect(verifySecret('secretpart123', keyHash)).rejects.toMatchObject({ code: 'ERR_STORED_HASH_INVALID' });
    });

    it('writes every hash unpadded as $argon2id$v=19$ and verifies what it minted', async () => {
      const issued = await issue('minted');
      const row = store.allRows().find((candidate) => candidate.id === issued.card.keyId)!;
      expect(row.key_hash).toMatch(/^\$argon2id\$v=19\$m=256,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
      expect((await send(app.url, '/v1/whoami', { headers: bearer(issued.key) })).status).toBe(200);
    });
  });

  describe('C14: deleted, disabled or expired keys', () => {
    const withRow = async (label: string, change: Record<string, unknown>) => {
      const issued = await issue(`c14_${label}`);
      if (Object.values(change).includes(null)) {
        // modify refuses null where the row needs a value, as PostgreSQL's NOT NULL does; a
        // custom store or a table without the constraint can still return one.
        const keyId = issued.card.keyId;
        store.override = (row) => (row?.id === keyId ? { ...row, ...change } : row);
      } else {
        await store.modify(issued.card.keyId, () => change);
      }
      return issued.key;
    };

    it('answers a soft-deleted key and a key with revoked_at exactly like an unknown key', async () => {
      const unknown = await send(app.url, '/v1/whoami', { headers: bearer(unknownKey) });
      for (const change of [{ soft_deleted: true }, { revoked_at: new Date() }]) {
        const key = await withRow(Object.keys(change)[0]!, change);
        expect(comparable(await send(app.url, '/v1/whoami', { headers: bearer(key) }))).toEqual(comparable(unknown));
      }
      expectGenericInvalid(unknown);
    });

    it.each([
      ['revoked', { status: 'revoked' }, 'revoqued'],
      ['revoqued', { status: 'revoqued' }, 'revoqued'],
      ['suspended', { status: 'suspended' }, 'suspended'],
      ['expires_at one second ago', { expires_at: new Date(Date.now() - 1_000) }, 'expired'],
      ['status NULL', { status: null }, 'unknown'],
      ['status "Active"', { status: 'Active' }, 'unknown'],
      ['status "active" (not a keyward value)', { status: 'active' }, 'unknown'],
      ['status "allowed " with a trailing space', { status: 'allowed ' }, 'unknown'],
    ])('answers the correct secret of a row with %s with 403, never 200', async (label, change, keyStatus) => {
      const key = await withRow(label.replace(/\W/g, '_'), change);
      const response = await send(app.url, '/v1/whoami', { headers: bearer(key) });
      expect(response.status).toBe(403);
      expect(JSON.parse(response.body).error).toMatchObject({ code: 'ERR_API_KEY_INACTIVE', key_status: keyStatus });
    });

    it('authenticates the control row with status "allowed"', async () => {
      expect((await send(app.url, '/v1/whoami', { headers: bearer(keys.other!) })).status).toBe(200);
    });

    it('answers a wrong secret against a revoked row with the generic 401, not 403', async () => {
      const key = await withRow('revoked_wrong', { status: 'revoked' });
      expectGenericInvalid(await send(app.url, '/v1/whoami', { headers: bearer(forgeSecret(key)) }));
    });
  });

  describe('C17: keys in query strings, logs and error bodies', () => {
    it('answers a key in the query string alone with 401 missing', async () => {
      for (const name of ['api_key', 'apiKey', 'key', 'access_token']) {
        const response = await send(app.url, `/v1/whoami?${name}=${keys.valid}`);
        expect(response.status).toBe(401);
        expect(JSON.parse(response.body).error.code).toBe('ERR_API_KEY_MISSING');
        expect(response.body).not.toContain(keys.valid!.slice(8));
      }
    });

    it('authenticates from the header only and never uses the query value', async () => {
      const response = await send(app.url, `/v1/whoami?api_key=${keys.lowpriv}`, { headers: bearer(keys.valid!) });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body).apiKey.keyId).toBe(ids.valid);
    });

    it('keeps a wrong secret out of debug logs, decisions and the body', async () => {
      const forged = forgeSecret(keys.valid!, 'Q');
      logger.forbid(forged, forged.slice(20, 52));
      decisions.length = 0;
      const before = logger.entries.length;
      const response = await send(app.url, '/v1/whoami', { headers: bearer(forged) });
      expectGenericInvalid(response);
      const lines = logger.entries.slice(before);
      expect(lines.some((entry) => entry.level === 'debug' && entry.fields.reason === 'secret_mismatch')).toBe(true);
      expect(JSON.stringify(lines)).toContain(keys.valid!.slice(8, 20));
      for (const text of [JSON.stringify(lines), JSON.stringify(decisions), response.body]) {
        expect(text).not.toContain(forged.slice(20, 52));
        expect(text).not.toContain(keys.valid!.slice(20, 52));
      }
      logger.assertNoLeaks();
    });

    it('refuses a query key that differs from the header key when the app opts into the query carrier', async () => {
      const optIn = createApiKeyAuth({ store, queryParameter: 'api_key' });
      const optApp = await adapter.start(optIn);
      try {
        expectGenericInvalid(await send(optApp.url, `/v1/whoami?api_key=${keys.lowpriv}`, { headers: bearer(keys.valid!) }));
        expectGenericInvalid(await send(optApp.url, `/v1/whoami?api_key=${keys.valid}&api_key=${keys.lowpriv}`));
        // Repeated with the same key, as a repeated header is taken.
        expect((await send(optApp.url, `/v1/whoami?api_key=${keys.valid}&api_key=${keys.valid}`)).status).toBe(200);
        expect((await send(optApp.url, `/v1/whoami?api_key=${keys.valid}`)).status).toBe(200);
      } finally {
        await optApp.close();
        await optIn.close();
      }
    });
  });

  describe('store faults: malformed rows', () => {
    it.each([
      ['a string instead of a row', () => 'row', 'not_an_object'],
      ['a row without its id', (row: object) => ({ ...row, id: undefined }), 'bad_id'],
      ['an unknown environment', (row: object) => ({ ...row, environment: 'staging' }), 'bad_environment'],
      ['a row for another lookup id', (row: object) => ({ ...row, lookup_id: 'AAAAAAAAAAAA' }), 'lookup_id_mismatch'],
      ['an expiry that is not a date', (row: object) => ({ ...row, expires_at: 'tomorrow' }), 'bad_expires_at'],
      ['soft_deleted as the string "false"', (row: object) => ({ ...row, soft_deleted: 'false' }), 'bad_lifecycle_fields'],
      ['an empty key type', (row: object) => ({ ...row, key_type: '' }), 'bad_key_type'],
    ])('answers %s with the generic 500, logs the reason once, and never passes', async (_name, corrupt, detail) => {
      store.override = (row) => row && corrupt(row);
      // Decision lines only: a once-a-second count of lines held back by an earlier test's
      // faults may land at the error level meanwhile.
      const decisionErrors = () => logger.entries.filter((entry) => entry.level === 'error' && entry.fields.event === 'keyward.auth');
      const errorsBefore = decisionErrors().length;
      const { response, argon2 } = await counted(() => send(app.url, '/v1/whoami', { headers: bearer(keys.valid!) }));
      expect(response.status).toBe(500);
      expect(response.body).toBe(FAULT_BODY);
      expect(argon2).toBe(0);
      expect(decisions.at(-1)).toMatchObject({ outcome: 'fault', code: 'ERR_STORED_ROW_INVALID', reason: 'stored_row_invalid', detail, lookupId: keys.valid!.slice(8, 20) });
      const errors = decisionErrors().slice(errorsBefore);
      expect(errors).toHaveLength(1);
      expect(errors[0]!.message).toContain('stored row invalid');
    });

    it('answers a lookup id in other letter case, which a case-insensitive store finds, like an unknown key, and warns', async () => {
      const sent = keys.valid!.slice(8, 20);
      const other = [...sent].map((char) => (char === char.toLowerCase() ? char.toUpperCase() : char.toLowerCase())).join('');
      store.override = (row) => row && { ...row, lookup_id: other };
      const warningsBefore = logger.entries.filter((entry) => entry.level === 'warn').length;
      const { response, argon2 } = await counted(() => send(app.url, '/v1/whoami', { headers: bearer(keys.valid!) }));
      expectGenericInvalid(response);
      expect(argon2).toBe(0);
      expect(decisions.at(-1)).toMatchObject({ outcome: 'refused', reason: 'unknown_lookup_id', detail: 'lookup_id_case_differs' });
      const warnings = logger.entries.filter((entry) => entry.level === 'warn').slice(warningsBefore);
      expect(warnings.map((entry) => entry.message).join('\n')).toContain('letter case only');
    });

    it('answers a store that returns undefined for a lookup like an unknown key', async () => {
      store.override = () => undefined;
      expectGenericInvalid(await send(app.url, '/v1/whoami', { headers: bearer(keys.valid!) }));
    });
  });

  describe('C18: a lookup that rejects never leaves the request hanging', () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    beforeAll(() => process.on('unhandledRejection', onUnhandled));
    afterAll(() => process.off('unhandledRejection', onUnhandled));

    it.each([
      ['rejects with ECONNRESET', () => { store.failure = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }); }],
      ['rejects with a non-Error value', () => { store.override = () => { throw 'connection lost'; }; }],
      ['never settles', () => { store.hang = true; }],
    ])('answers a lookup that %s with 503 and Retry-After within 1 s, without an unhandled rejection', async (_name, breakStore) => {
      breakStore();
      const response = await within(1_000, send(app.url, '/v1/whoami', { headers: bearer(keys.valid!) }));
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(JSON.parse(response.body)).toEqual({ error: { code: 'ERR_STORE_UNAVAILABLE', message: 'API keys cannot be checked right now. Retry shortly.' } });
      expect(response.body).not.toContain(keys.valid!.slice(8));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    });

    it('answers a store method that throws synchronously with 503', async () => {
      const syncThrow = createApiKeyAuth({ store: Object.assign(Object.create(store), { findByLookupId: () => { throw new Error('ECONNRESET'); } }) });
      const syncApp = await adapter.start(syncThrow);
      try {
        const response = await within(1_000, send(syncApp.url, '/v1/whoami', { headers: bearer(keys.valid!) }));
        expect(response.status).toBe(503);
        expect(unhandled).toEqual([]);
      } finally {
        await syncApp.close();
        await syncThrow.close();
      }
    });
  });
});

describe.each(ADAPTERS)('C25: keys survive a change of the default Argon2 parameters on $name', (adapter) => {
  const NEW_DEFAULTS = { memoryKiB: 65_536, iterations: 3, parallelism: 1 };
  const legacyKey = keyOf(LEGACY_KEY_FIXTURE.lookupId, LEGACY_KEY_FIXTURE.secret);

  async function legacyStore() {
    const store = new InstrumentedStore();
    await insertRawRow(store, { id: 'key_legacy_fixture', lookup_id: LEGACY_KEY_FIXTURE.lookupId, key_hash: LEGACY_KEY_FIXTURE.keyHash });
    return store;
  }

  it('authenticates the fixture key (hash B, m=19456 t=2) under new defaults m=65536 t=3 with 200', async () => {
    const store = await legacyStore();
    const auth = createApiKeyAuth({ store, argon2: NEW_DEFAULTS });
    const app = await adapter.start(auth);
    try {
      const response = await send(app.url, '/v1/whoami', { headers: bearer(legacyKey) });
      expect(response.status).toBe(200);
      expect(JSON.parse(response.body).apiKey.keyId).toBe('key_legacy_fixture');
      expect(store.allRows()[0]!.key_hash).toBe(LEGACY_KEY_FIXTURE.keyHash);
    } finally {
      await app.close();
      await auth.close();
    }
  });

  it('with rehashOnSuccess, rewrites the hash in a single write and keeps answering 200', async () => {
    const store = await legacyStore();
    const modify = vi.spyOn(store, 'modify');
    const auth = createApiKeyAuth({ store, argon2: NEW_DEFAULTS, rehashOnSuccess: true });
    const app = await adapter.start(auth);
    try {
      expect((await send(app.url, '/v1/whoami', { headers: bearer(legacyKey) })).status).toBe(200);
      await vi.waitFor(() => expect(store.allRows()[0]!.key_hash).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=1\$/), { timeout: 10_000 });
      for (let i = 0; i < 3; i++) {
        expect((await send(app.url, '/v1/whoami', { headers: bearer(legacyKey) })).status).toBe(200);
      }
      await auth.close();
      expect(modify).toHaveBeenCalledTimes(1);
    } finally {
      await app.close();
      await auth.close();
    }
  });
});
