/**
 * The portal example's error handler over real HTTP: a key manager refusal of an argument
 * value reaches the merchant as a 400 with keyward's code and message, not a generic 500.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiKeyAuthError, MemoryKeyStore, createKeyManager, type KeyManager } from 'keyward';
import { portalErrorHandler } from '../../examples/portal/api-errors.js';
import { TEST_ARGON2 } from '../fixtures/argon2-vectors.js';
import { send } from '../helpers/http-client.js';
import { testSecretBytes } from '../helpers/secret-bytes.js';

let store: MemoryKeyStore;
let manager: KeyManager;
let server: Server;
let baseUrl: string;
let logs: string[];

beforeEach(async () => {
  store = new MemoryKeyStore();
  manager = createKeyManager({ store, argon2: TEST_ARGON2 });
  logs = [];
  // A route that passes form input straight to the manager, as a careless portal would.
  const app = express();
  app.put('/status/:keyId', express.json(), async (req, res) => {
    res.json({ card: await manager.setStatus(req.params.keyId, req.body.status) });
  });
  app.put('/webhook/:keyId', express.json(), async (req, res) => {
    res.json({ card: await manager.setWebhook(req.params.keyId, req.body) });
  });
  app.use(portalErrorHandler((line) => logs.push(line)));
  server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('portal error handler: manager argument refusals', () => {
  it('answers a status the manager refuses with 400 ERR_INVALID_ARGUMENT, logs no fault and writes nothing', async () => {
    const { card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const before = store.allRows();

    const response = await send(baseUrl, `/status/${card.keyId}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ status: 'Active' }),
    });

    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toEqual({
      error: {
        code: 'ERR_INVALID_ARGUMENT',
        message: 'status must be one of allowed, pending_validation, suspended, revoqued, locked, expired, rejected (or revoked, stored as revoqued)',
      },
    });
    expect(logs).toEqual([]);
    expect(store.allRows()).toEqual(before);
  });
});

describe('portal error handler: a stored webhook password that cannot be used', () => {
  it('answers 409 telling the merchant to type the password again, and logs the code only', async () => {
    const sealing = { current: 'k1', keys: { k1: testSecretBytes(1) } };
    const sealer = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: sealing });
    const { card } = await sealer.issue({ accountId: 'acct_1', environment: 'sandbox' });
    await sealer.setWebhook(card.keyId, { url: 'https://hooks.example.com/a', password: 'first-pass' });
    // The password was sealed under a key the portal's manager no longer has.
    manager = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: { current: 'k2', keys: { k2: testSecretBytes(2) } } });

    const response = await send(baseUrl, `/webhook/${card.keyId}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: 'https://hooks.example.com/a', username: 'relay' }),
    });

    expect([response.status, JSON.parse(response.body)]).toEqual([
      409,
      { error: { code: 'ERR_WEBHOOK_SECRET', message: 'The saved webhook password can no longer be used: type the password again and save, or remove it.' } },
    ]);
    expect(logs).toEqual(['portal fault ERR_WEBHOOK_SECRET']);
  });
});

describe('portal error handler: a stored webhook username that breaks the rules', () => {
  it('answers 409 ERR_WEBHOOK_INVALID with the message saying to send the username again, and logs no fault', async () => {
    manager = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: { current: 'k1', keys: { k1: testSecretBytes(1) } } });
    const { card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    await manager.setWebhook(card.keyId, { url: 'https://hooks.example.com/a', username: 'relay', password: 'first-pass' });
    await store.modify(card.keyId, () => ({ webhook_basic_auth_username: 'relay:ops' }));

    const response = await send(baseUrl, `/webhook/${card.keyId}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: 'https://hooks.example.com/b' }),
    });

    expect([response.status, JSON.parse(response.body)]).toEqual([
      409,
      {
        error: {
          code: 'ERR_WEBHOOK_INVALID',
          message: 'The stored webhook username breaks a rule ("username" must not contain ":" (RFC 7617 reserves it as the separator)), so it cannot be kept: send the username again, or username: null to remove it.',
        },
      },
    ]);
    expect(logs).toEqual([]);
  });
});

describe('portal error handler: the store failing', () => {
  it('answers 503 with Retry-After and a message of its own, not a generic 500, and logs the code only', async () => {
    const { card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    // As PostgresKeyStore reports a lost connection.
    store.modify = () => Promise.reject(new ApiKeyAuthError('ERR_STORE_UNAVAILABLE', 'PostgresKeyStore: modify failed', { status: 503 }));

    const response = await send(baseUrl, `/status/${card.keyId}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ status: 'suspended' }),
    });

    expect([response.status, response.headers['retry-after'], JSON.parse(response.body)]).toEqual([
      503,
      '5',
      { error: { code: 'ERR_STORE_UNAVAILABLE', message: 'Your keys cannot be reached right now. Reload the page in a moment to see where things stand.' } },
    ]);
    expect(logs).toEqual(['portal fault ERR_STORE_UNAVAILABLE']);
  });
});
