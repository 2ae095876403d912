import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MemoryKeyStore,
  createApiKeyAuth,
  createKeyManager,
  createSecretBox,
  type ApiKeyAuth,
  type KeyManager,
} from '../src/index.js';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { CaptureLogger } from './helpers/capture-logger.js';
import { testSecretBytes } from './helpers/secret-bytes.js';

const SEALING_KEY = testSecretBytes(0x5a);
const PASSWORD = 'Zq9-webhook-p\u00e4ss:word';

/** Every form the password could leak in: as text, and encoded the usual ways. */
const LEAK_FORMS = [
  PASSWORD,
  Buffer.from(PASSWORD).toString('base64'),
  Buffer.from(PASSWORD).toString('base64url'),
  Buffer.from(PASSWORD).toString('hex'),
  Buffer.from(`hook-relay:${PASSWORD}`).toString('base64'),
  JSON.stringify(PASSWORD).slice(1, -1),
];

function expectNoPassword(value: unknown): void {
  const text = typeof value === 'string' ? value : inspect(value, { depth: 10, showHidden: true });
  for (const form of LEAK_FORMS) expect(text).not.toContain(form);
}

async function caught(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

function errorText(error: Error): string {
  return [error.message, error.stack, JSON.stringify(error), inspect(error, { depth: 10 })].join('\n');
}

describe('webhook password secrecy', () => {
  let store: MemoryKeyStore;
  let manager: KeyManager;
  let auth: ApiKeyAuth;
  let logger: CaptureLogger;
  const decisions: unknown[] = [];
  let keyId: string;
  let key: string;

  beforeEach(async () => {
    store = new MemoryKeyStore();
    manager = createKeyManager({
      store,
      argon2: TEST_ARGON2,
      webhookKeys: { current: 'k1', keys: { k1: SEALING_KEY } },
    });
    logger = new CaptureLogger(LEAK_FORMS);
    auth = createApiKeyAuth({ store, logger, onDecision: (decision) => decisions.push(decision) });
    decisions.length = 0;
    const issued = await manager.issue({ accountId: 'acct_1', environment: 'production' });
    keyId = issued.card.keyId;
    key = issued.key;
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', username: 'hook-relay', password: PASSWORD });
  });

  afterEach(async () => {
    await auth.close();
  });

  it('stores a sealed form that is not the cleartext in any encoding', () => {
    const row = store.allRows()[0]!;

    expect(row.webhook_basic_auth_password_sealed).not.toBe(PASSWORD);
    expect(row.webhook_basic_auth_password_sealed).toMatch(/^v1\.k1\./);
    expectNoPassword(row);
    expectNoPassword(JSON.stringify(store.allRows()));
  });

  it('returns no password from any read or write of the manager', async () => {
    const results: unknown[] = [
      await manager.describe(keyId),
      await manager.describeAccount('acct_1', 'production'),
      await manager.setWebhook(keyId, { url: 'https://hooks.example.com/other', username: 'hook-relay' }),
      await manager.setStatus(keyId, 'suspended'),
      await manager.setStatus(keyId, 'allowed'),
      await manager.regenerate(keyId),
    ];

    for (const result of results) {
      expectNoPassword(result);
      expectNoPassword(JSON.stringify(result));
    }
    expect((await manager.describe(keyId))!.webhook.basicAuthConfigured).toBe(true);
  });

  it('has no card field that could hold a password', async () => {
    const card = await manager.describe(keyId);

    expect(Object.keys(card!.webhook).sort()).toEqual(['basicAuthConfigured', 'url', 'username']);
    expect(JSON.stringify(card)).not.toMatch(/password|sealed/i);
  });

  it('writes no password to the authenticator\'s logs or decision hook', async () => {
    await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });
    await auth.authenticate({ headers: { authorization: `Bearer ${key.slice(0, -7)}AAAAAAA` } });
    await manager.setStatus(keyId, 'locked');
    await auth.authenticate({ headers: { authorization: `Bearer ${key}` } });

    expect(logger.entries.length).toBeGreaterThan(0);
    expect(decisions).toHaveLength(3);
    logger.assertNoLeaks();
    expectNoPassword(logger.entries);
    expectNoPassword(decisions);
  });

  it('puts no password into the errors of setWebhook', async () => {
    const errors = await Promise.all([
      caught(manager.setWebhook(keyId, { url: 'http://hooks.example.com/in', password: PASSWORD })),
      caught(manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', username: 'a:b', password: PASSWORD })),
      caught(manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', password: `${PASSWORD}\u0000` })),
      caught(manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', password: PASSWORD.repeat(100) })),
      caught(manager.setWebhook('key_unknown', { url: 'https://hooks.example.com/in', password: PASSWORD })),
    ]);

    for (const error of errors) expectNoPassword(errorText(error));
  });

  it('puts no password into the error of a password that cannot be opened', async () => {
    const rotatedAway = createKeyManager({
      store,
      argon2: TEST_ARGON2,
      webhookKeys: { current: 'k2', keys: { k2: testSecretBytes(1) } },
    });
    const wrongBytes = createKeyManager({
      store,
      argon2: TEST_ARGON2,
      webhookKeys: { current: 'k1', keys: { k1: testSecretBytes(1) } },
    });

    for (const error of [
      await caught(rotatedAway.webhookAuthorization(keyId)),
      await caught(wrongBytes.webhookAuthorization(keyId)),
    ]) {
      expect((error as { code?: string }).code).toBe('ERR_WEBHOOK_SECRET');
      expectNoPassword(errorText(error));
    }
  });

  it('shows no key material when the manager or a secret box is inspected', () => {
    const box = createSecretBox({ current: 'k1', keys: { k1: SEALING_KEY } });
    const keyForms = [SEALING_KEY.toString('hex'), SEALING_KEY.toString('base64')];

    for (const text of [inspect(box, { depth: 10, showHidden: true }), inspect(manager, { depth: 10 })]) {
      for (const form of keyForms) expect(text).not.toContain(form);
    }
  });
});
