import { beforeEach, describe, expect, it } from 'vitest';
import {
  ApiKeyAuthError,
  MemoryKeyStore,
  basicAuthorizationHeader,
  createBasicAuthChecker,
  createKeyManager,
  createSecretBox,
  webhookAuthorizationFor,
  type KeyManager,
} from '../src/index.js';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { rejection } from './helpers/errors.js';
import { testSecretBytes } from './helpers/secret-bytes.js';

const K1 = testSecretBytes(0x11);
const K2 = testSecretBytes(0x22);

describe('basicAuthorizationHeader', () => {
  it('encodes user:password, keeping colons in the password', () => {
    expect(basicAuthorizationHeader('hook-relay', 'p4ss:w0rd:x')).toBe('Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==');
  });

  it('encodes non-ASCII credentials as UTF-8 bytes', () => {
    expect(basicAuthorizationHeader('hook-relay', 'p\u00e4ssw\u00f6rd')).toBe('Basic aG9vay1yZWxheTpww6Rzc3fDtnJk');
  });

  it('sends credentials typed with combining accents in normalization form C, as RFC 7617 asks', () => {
    expect(basicAuthorizationHeader('hook-relay', 'pa\u0308sswo\u0308rd')).toBe('Basic aG9vay1yZWxheTpww6Rzc3fDtnJk');
  });

  it('sends an empty user-id when there is no username', () => {
    expect(basicAuthorizationHeader(null, 'pw1')).toBe(`Basic ${Buffer.from(':pw1').toString('base64')}`);
  });

  it('refuses a username with a colon, naming neither value', () => {
    let error: unknown;
    try {
      basicAuthorizationHeader('hook:relay', 'top-s3cret');
    } catch (caught) {
      error = caught;
    }

    expect((error as ApiKeyAuthError).code).toBe('ERR_WEBHOOK_INVALID');
    expect((error as ApiKeyAuthError).message).not.toMatch(/top-s3cret|hook:relay/);
  });

  it.each<[string, unknown, unknown, string]>([
    ['an unset password (process.env.UNSET)', 'hook-relay', undefined, '"password" must be a non-empty string.'],
    ['a null password', 'hook-relay', null, '"password" must be a non-empty string.'],
    ['an empty password', 'hook-relay', '', '"password" must be a non-empty string.'],
    ['a numeric username', 42, 'top-s3cret', '"username" must be a string or null.'],
    ['an undefined username, as an unset variable gives', undefined, 'top-s3cret', '"username" must be a string or null.'],
    ['a password with a line break', 'hook-relay', 'top\r\ns3cret', '"password"'],
    ['a password with a lone surrogate', 'hook-relay', 'top\ud800s3cret', '"password"'],
    ['a password over 1 KiB', 'hook-relay', 'p'.repeat(5_000), '"password"'],
    ['a username with a control character', 'hook\u0007relay', 'top-s3cret', '"username"'],
    ['a username over 256 bytes as given (300), though 200 in normalization form C', 'e\u0301'.repeat(100), 'top-s3cret', '"username" must be at most 256 bytes in UTF-8'],
    ['a password over 1,024 bytes as given (1,200), though 800 in normalization form C', 'hook-relay', 'e\u0301'.repeat(400), '"password" must be at most 1024 bytes in UTF-8'],
    ['a username of spaces alone', '   ', 'top-s3cret', '"username" must not be only whitespace'],
  ])('refuses %s as setWebhook and the receivers do, with ERR_WEBHOOK_INVALID naming neither value', (_name, username, password, message) => {
    let error: unknown;
    try {
      basicAuthorizationHeader(username as string, password as string);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ApiKeyAuthError);
    expect((error as ApiKeyAuthError).code).toBe('ERR_WEBHOOK_INVALID');
    expect((error as ApiKeyAuthError).message).toContain(message);
    expect((error as ApiKeyAuthError).message).not.toMatch(/s3cret|relay|ppppp/);
  });
});

describe('outbound Authorization for a delivery', () => {
  let store: MemoryKeyStore;
  let manager: KeyManager;
  let keyId: string;

  beforeEach(async () => {
    store = new MemoryKeyStore();
    manager = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: { current: 'k1', keys: { k1: K1 } } });
    keyId = (await manager.issue({ accountId: 'acct_1', environment: 'production' })).card.keyId;
  });

  it('builds the header from a key id or from a row, the same either way', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', username: 'hook-relay', password: 'p4ss:w0rd:x' });
    const row = store.allRows()[0]!;
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });

    expect(await manager.webhookAuthorization(keyId)).toBe('Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==');
    expect(await manager.webhookAuthorization(row)).toBe('Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==');
    expect(webhookAuthorizationFor(row, box)).toBe('Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==');
  });

  it('opens a password saved with a URL that normalization rewrites (capitals in the host, no path), for the URL as stored', async () => {
    const card = await manager.setWebhook(keyId, { url: 'https://Hooks.Example.COM', username: 'hook-relay', password: 'p4ss:w0rd:x' });

    expect(card.webhook.url).toBe('https://hooks.example.com/');
    expect(await manager.webhookAuthorization(keyId)).toBe('Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==');
  });

  it('answers a stored row with credentials setWebhook would refuse with ERR_WEBHOOK_SECRET (500, not exposed), not a client error', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', username: 'hook-relay', password: 'p4ss:w0rd:x' });
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });
    const row = { ...store.allRows()[0]!, webhook_basic_auth_username: 'hook:relay' };
    let error: unknown;
    try {
      webhookAuthorizationFor(row, box);
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'ERR_WEBHOOK_SECRET', status: 500, expose: false });
    expect((error as Error).message).not.toMatch(/p4ss|hook:relay/);
  });

  it('refuses the sealing keys in place of the box, and a missing row, with ERR_OPTIONS_INVALID saying what to pass', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', username: 'hook-relay', password: 'p4ss:w0rd:x' });
    const row = store.allRows()[0]!;
    const keys = { current: 'k1', keys: { k1: K1 } };

    expect(() => webhookAuthorizationFor(row, keys as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_OPTIONS_INVALID',
        message: 'webhookAuthorizationFor needs the box from createSecretBox(keys) as its second argument, not the sealing keys themselves.',
      }),
    );
    expect(() => webhookAuthorizationFor(null as never, createSecretBox(keys))).toThrow(
      expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message: "webhookAuthorizationFor needs the key's row, as read from the store, as its first argument." }),
    );
  });

  it('gives a header that keyward\'s own receiver accepts', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', username: 'Jos\u00e9', password: 'p\u00e4ss:w\u00f6rd' });
    const receiver = createBasicAuthChecker({ username: 'Jos\u00e9', password: 'p\u00e4ss:w\u00f6rd' });

    const header = await manager.webhookAuthorization(keyId);

    expect(receiver.check(header!)).toEqual({ ok: true });
  });

  it('returns null when no password is configured, even with a username', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', username: 'hook-relay' });

    expect(await manager.webhookAuthorization(keyId)).toBeNull();
  });

  it.each([
    ['revoked', (id: string) => manager.revoke(id)],
    ['soft-deleted', (id: string) => manager.softDelete(id)],
  ])('gives no header for a row that shows its key %s: ERR_KEY_NOT_FOUND, as by key id', async (_name, end) => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', username: 'hook-relay', password: 'p4ss:w0rd:x' });
    const readBefore = store.allRows()[0]!;
    await end(keyId);
    const storedNow = store.allRows()[0]!;
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });

    expect((await rejection(manager.webhookAuthorization(keyId))).code).toBe('ERR_KEY_NOT_FOUND');
    expect((await rejection(manager.webhookAuthorization(storedNow))).code).toBe('ERR_KEY_NOT_FOUND');
    expect(() => webhookAuthorizationFor(storedNow, box)).toThrow(expect.objectContaining({ code: 'ERR_KEY_NOT_FOUND', status: 404 }));
    // The row as read before still names a live key: that is all a row can tell.
    expect(await manager.webhookAuthorization(readBefore)).toBe('Basic aG9vay1yZWxheTpwNHNzOncwcmQ6eA==');
  });

  it.each([
    ['soft_deleted as 1', { soft_deleted: 1 }],
    ["soft_deleted as 't'", { soft_deleted: 't' }],
    ['soft_deleted left out', { soft_deleted: undefined }],
    ['revoked_at as text', { revoked_at: '2026-12-01T00:00:00Z' }],
  ])('gives no header for a row whose lifecycle fields do not show it live: %s', async (_name, fields) => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', password: 'p4ss:w0rd:x' });
    const row = { ...store.allRows()[0]!, ...fields } as never;
    const box = createSecretBox({ current: 'k1', keys: { k1: K1 } });

    expect((await rejection(manager.webhookAuthorization(row))).code).toBe('ERR_KEY_NOT_FOUND');
    expect(() => webhookAuthorizationFor(row, box)).toThrow(expect.objectContaining({ code: 'ERR_KEY_NOT_FOUND' }));
  });

  it('answers a dead row without a password with ERR_KEY_NOT_FOUND too, not null', async () => {
    await manager.revoke(keyId);

    expect((await rejection(manager.webhookAuthorization(store.allRows()[0]!))).code).toBe('ERR_KEY_NOT_FOUND');
  });

  it.each([
    ['a String object of the key id', () => new String(keyId)],
    ['an array', () => []],
    ['an object without a key id', () => ({ webhook_basic_auth_password_sealed: null })],
  ])('answers %s with ERR_KEY_NOT_FOUND rather than reading it as a row', async (_name, given) => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', password: 'p4ss:w0rd:x' });

    expect((await rejection(manager.webhookAuthorization(given() as never))).code).toBe('ERR_KEY_NOT_FOUND');
  });

  it('answers ERR_KEY_NOT_FOUND for an unknown key id', async () => {
    expect((await rejection(manager.webhookAuthorization('key_nope'))).code).toBe('ERR_KEY_NOT_FOUND');
  });

  it('keeps working through a sealing-key rotation, and re-seals under the new key', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', username: 'u', password: 'rotate-me' });
    const rotated = createKeyManager({
      store,
      argon2: TEST_ARGON2,
      webhookKeys: { current: 'k2', keys: { k1: K1, k2: K2 } },
    });
    const expected = `Basic ${Buffer.from('u:rotate-me').toString('base64')}`;

    expect(await rotated.webhookAuthorization(keyId)).toBe(expected);
    expect(await rotated.resealWebhookPassword(keyId)).toBe(true);
    expect(store.allRows()[0]!.webhook_basic_auth_password_sealed).toMatch(/^v1\.k2\./);
    expect(await rotated.resealWebhookPassword(keyId)).toBe(false);

    const onlyK2 = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: { current: 'k2', keys: { k2: K2 } } });
    expect(await onlyK2.webhookAuthorization(keyId)).toBe(expected);
  });

  it('reports nothing resealed, and keeps the newer password, when setWebhook changed the password between its read and its write', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', username: 'u', password: 'rotate-me' });
    const rotated = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: { current: 'k2', keys: { k1: K1, k2: K2 } } });
    const modify = store.modify.bind(store);
    let raced = false;
    store.modify = async (id, change) => {
      // The reseal's own write: another caller sets a new password first.
      if (!raced) {
        raced = true;
        await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', username: 'u', password: 'newer-password' });
      }
      return modify(id, change);
    };

    expect(await rotated.resealWebhookPassword(keyId)).toBe(false);
    expect(await rotated.webhookAuthorization(keyId)).toBe(`Basic ${Buffer.from('u:newer-password').toString('base64')}`);
  });

  it('answers ERR_WEBHOOK_SECRET for a password already under the current key that does not open, so a rotation sweep finds it', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', password: 'pw-at-least-8' });
    const other = await manager.issue({ accountId: 'acct_other', environment: 'sandbox' });
    await manager.setWebhook(other.card.keyId, { url: 'https://hooks.example.com/in', password: 'pw-of-other-key' });
    // Another key's password, copied onto this row: under the current key, but bound to the other key.
    const copied = store.allRows().find((row) => row.id === other.card.keyId)!.webhook_basic_auth_password_sealed;
    await store.modify(keyId, () => ({ webhook_basic_auth_password_sealed: copied }));

    const error = await rejection(manager.resealWebhookPassword(keyId));

    expect([error.code, error.status]).toEqual(['ERR_WEBHOOK_SECRET', 500]);
    expect(store.allRows().find((row) => row.id === keyId)!.webhook_basic_auth_password_sealed).toBe(copied);
  });

  it('reports nothing to re-seal for a key without a password', async () => {
    expect(await manager.resealWebhookPassword(keyId)).toBe(false);
  });

  it('answers ERR_WEBHOOK_SECRET once the sealing key is dropped, with no password in the error', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', username: 'u', password: 'zz-hidden-77' });
    const onlyK2 = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: { current: 'k2', keys: { k2: K2 } } });

    const error = await rejection(onlyK2.webhookAuthorization(keyId));

    expect(error.code).toBe('ERR_WEBHOOK_SECRET');
    expect(error.status).toBe(500);
    const everything = [error.message, error.stack, JSON.stringify(error), String(error.cause)].join('\n');
    expect(everything).not.toContain('zz-hidden-77');
  });

  it('answers ERR_WEBHOOK_SECRET when a password is stored but the manager has no sealing keys', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', password: 'pw-at-least-8' });
    const bare = createKeyManager({ store, argon2: TEST_ARGON2 });

    expect((await rejection(bare.webhookAuthorization(keyId))).code).toBe('ERR_WEBHOOK_SECRET');
    expect((await rejection(bare.resealWebhookPassword(keyId))).code).toBe('ERR_WEBHOOK_SECRET');
  });
});
