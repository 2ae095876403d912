/**
 * Throttling of failed attempts: a forger past the limit gets 429 with Retry-After and costs
 * no further Argon2 run, while a key this instance already verified keeps passing.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { argon2id } from 'hash-wasm';
import {
  checksumOf,
  createApiKeyAuth,
  createKeyManager,
  DEFAULT_ATTEMPT_THROTTLE,
  hashSecret,
  type ApiKeyAuth,
  type ApiKeyAuthOptions,
  type KeyManager,
} from 'keyward';
import { AttemptThrottle, resolveThrottleOptions } from '../src/attempt-throttle.js';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { IN_THREAD_ARGON2 } from './helpers/argon2-count.js';
import { send, type ClientResponse } from './helpers/http-client.js';
import { InstrumentedStore } from './helpers/stores.js';
import { expressApiKeyAuth } from 'keyward/express';
import { fastifyApiKeyAuthHook } from 'keyward/fastify';
import { koaApiKeyAuth } from 'keyward/koa';
import { ADAPTERS, listen, type RunningApp } from './http/apps.js';
import { bearer } from './helpers/keys.js';

vi.mock('hash-wasm', async (importOriginal) => {
  const real = await importOriginal<typeof import('hash-wasm')>();
  return { ...real, argon2id: vi.fn(real.argon2id) };
});

const argon2Runs = () => vi.mocked(argon2id).mock.calls.length;
const TOO_MANY_BODY = '{"error":{"code":"ERR_TOO_MANY_ATTEMPTS","message":"Too many failed attempts. Retry later."}}';

/** The n-th forged key for a real key's lookup id: valid checksum, wrong secret. */
function forged(key: string, n: number): string {
  const head = key.slice(0, 20) + String(n).padStart(32, 'F');
  return head + checksumOf(head);
}

/** A GET sent from a chosen loopback source address, so the server sees another client. */
function sendFrom(localAddress: string, baseUrl: string, path: string, headers: Record<string, string>): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, baseUrl), { headers, localAddress, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers as Record<string, string>, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('AttemptThrottle', () => {
  const limits = { maxFailuresPerKey: 2, maxFailuresPerClient: 3, windowMs: 10_000, maxTracked: 3, ipv6PrefixLength: 64 };
  /** The wait a new, distinct attempt would get right now. */
  const probe = (throttle: AttemptThrottle, lookupId: string, client: string | undefined) => {
    const attempt = { lookupId, client, credential: `probe-${Math.random()}` };
    const wait = throttle.enter(attempt);
    if (wait === 0) throttle.leave(attempt);
    return wait;
  };

  it('does not count a refused attempt as in flight, so it needs no leave()', () => {
    let now = 1_000_000;
    const throttle = new AttemptThrottle(limits, () => now);
    throttle.recordFailure('id1', undefined);
    throttle.recordFailure('id1', undefined);
    expect(throttle.enter({ lookupId: 'id1', client: undefined, credential: 'refused' })).toBe(10);
    now += 10_000;
    expect(throttle.enter({ lookupId: 'id1', client: undefined, credential: 'verifying' })).toBe(0);
    // One attempt in flight and a limit of two: a third distinct key may still go ahead.
    expect(probe(throttle, 'id1', undefined)).toBe(0);
  });

  it('counts distinct keys still being verified toward the limit, identical ones once', () => {
    const throttle = new AttemptThrottle(limits, () => 0);
    const first = { lookupId: 'id1', client: undefined, credential: 'k1' };
    const second = { lookupId: 'id1', client: undefined, credential: 'k2' };
    expect(throttle.enter(first)).toBe(0);
    expect(throttle.enter(second)).toBe(0);
    expect(probe(throttle, 'id1', undefined)).toBe(1);
    const again = { ...first };
    expect(throttle.enter(again)).toBe(0);
    throttle.leave(again);
    throttle.leave(first);
    expect(probe(throttle, 'id1', undefined)).toBe(0);
    throttle.leave(second);
    throttle.recordFailure('id1', undefined);
    expect(probe(throttle, 'id1', undefined)).toBe(0);
  });

  it('blocks a lookup id once its failures reach the limit, until its window ends', () => {
    let now = 1_000_000;
    const throttle = new AttemptThrottle(limits, () => now);
    throttle.recordFailure('id1', undefined);
    expect(probe(throttle, 'id1', undefined)).toBe(0);
    throttle.recordFailure('id1', undefined);
    expect(probe(throttle, 'id1', undefined)).toBe(10);
    now += 4_500;
    expect(probe(throttle, 'id1', undefined)).toBe(6);
    now += 5_500;
    expect(probe(throttle, 'id1', undefined)).toBe(0);
    throttle.recordFailure('id1', undefined);
    expect(probe(throttle, 'id1', undefined)).toBe(0);
  });

  it('applies a lookup id\'s limit only to clients that failed or send several keys at once', () => {
    const throttle = new AttemptThrottle(limits, () => 0);
    throttle.recordFailure('id1', '203.0.113.7');
    throttle.recordFailure('id1', '203.0.113.7');
    // The forger's own address is stopped by the key's limit...
    expect(probe(throttle, 'id1', '203.0.113.7')).toBe(10);
    // ...but the holder at another address, who never failed, may still be verified.
    const holder = { lookupId: 'id1', client: '198.51.100.1', credential: 'genuine' };
    expect(throttle.enter(holder)).toBe(0);
    // A second, different key from that address while the first is in flight is a burst,
    // or a neighbour behind the same NAT: held back, but asked to retry in a second, since
    // the suspicion ends with the verification in flight.
    expect(probe(throttle, 'id1', '198.51.100.1')).toBe(1);
    throttle.leave(holder);
    // An unknown address is always treated as suspect.
    expect(probe(throttle, 'id1', undefined)).toBe(10);
  });

  it('counts an IPv6 client by its /64, so rotating addresses within it gains nothing', () => {
    const throttle = new AttemptThrottle(limits, () => 0);
    for (const address of ['2001:db8:7:9::1', '2001:DB8:7:9:ffff::2', '2001:0db8:0007:0009:0:0:0:3']) {
      throttle.recordFailure(`id-${address}`, address);
    }
    expect(probe(throttle, 'other', '2001:db8:7:9:abcd::4')).toBe(10);
    expect(probe(throttle, 'other', '2001:db8:7:a::1')).toBe(0);
  });

  it('counts an IPv6 client by as many leading bits as ipv6PrefixLength says', () => {
    const perAddress = new AttemptThrottle({ ...limits, ipv6PrefixLength: 128 }, () => 0);
    const per56 = new AttemptThrottle({ ...limits, ipv6PrefixLength: 56 }, () => 0);
    for (const throttle of [perAddress, per56]) {
      for (const id of ['a', 'b', 'c']) throttle.recordFailure(id, '2001:db8:7:9::1');
    }
    // One address out of a shared /64 is not held back for its neighbour's failures...
    expect(probe(perAddress, 'd', '2001:db8:7:9::2')).toBe(0);
    expect(probe(perAddress, 'd', '2001:db8:7:9::1')).toBe(10);
    // ...while a /56 holder cannot escape by moving to another of its /64s.
    expect(probe(per56, 'd', '2001:db8:7:ff::2')).toBe(10);
    expect(probe(per56, 'd', '2001:db8:7:100::2')).toBe(0);
  });

  it('counts IPv4 clients seen through a dual-stack socket as their IPv4 address, each on its own', () => {
    const throttle = new AttemptThrottle(limits, () => 0);
    for (const id of ['a', 'b', 'c']) throttle.recordFailure(id, '::ffff:203.0.113.7');
    expect(probe(throttle, 'd', '203.0.113.7')).toBe(10);
    expect(probe(throttle, 'd', '::ffff:203.0.113.8')).toBe(0);
  });

  it('counts client addresses apart from lookup ids, each address on its own', () => {
    const throttle = new AttemptThrottle(limits, () => 0);
    for (const id of ['a', 'b', 'c']) throttle.recordFailure(id, '203.0.113.7');
    expect(probe(throttle, 'd', '203.0.113.7')).toBe(10);
    expect(probe(throttle, 'd', '203.0.113.8')).toBe(0);
    expect(probe(throttle, 'd', undefined)).toBe(0);
  });

  it('keeps at most maxTracked ids, forgetting the least recently failing first', () => {
    const throttle = new AttemptThrottle(limits, () => 0);
    // Each failure from an address of its own, so that no client's limit is reached.
    ['a', 'a', 'b', 'c', 'd'].forEach((id, n) => throttle.recordFailure(id, `198.51.100.${n}`));
    expect(probe(throttle, 'a', undefined)).toBe(0);
  });

  it('counts every client without an address under one shared limit, so resetting the connection to hide one gains nothing', () => {
    const throttle = new AttemptThrottle(limits, () => 0);
    for (const id of ['a', 'b', 'c']) throttle.recordFailure(id, undefined);
    // A fourth lookup id, never tried, from any client without an address: that client's limit.
    expect(probe(throttle, 'd', undefined)).toBe(10);
    // Clients with an address are not held back by it.
    expect(probe(throttle, 'd', '198.51.100.9')).toBe(0);
  });

  it('treats an overlong client address as its first 100 characters', () => {
    const throttle = new AttemptThrottle(limits, () => 0);
    const long = 'x'.repeat(100);
    for (let i = 0; i < 3; i++) throttle.recordFailure(`id${i}`, `${long}${i}`);
    expect(probe(throttle, 'other', long)).toBe(10);
  });
});

describe('AttemptThrottle counting per client only', () => {
  const limits = { maxFailuresPerClient: 3, windowMs: 10_000, maxTracked: 3, ipv6PrefixLength: 64 };

  it('holds a client back once its failures reach the limit, for the rest of the window', () => {
    let now = 1_000_000;
    const throttle = new AttemptThrottle(limits, () => now);
    for (let n = 0; n < 2; n++) throttle.recordClientFailure('203.0.113.7');
    expect(throttle.clientWait('203.0.113.7')).toBe(0);
    throttle.recordClientFailure('203.0.113.7');
    expect(throttle.clientWait('203.0.113.7')).toBe(10);
    now += 4_500;
    expect(throttle.clientWait('203.0.113.7')).toBe(6);
    now += 5_500;
    expect(throttle.clientWait('203.0.113.7')).toBe(0);
  });

  it('counts each address apart, an IPv6 one by its /64, and every unknown address under one counter', () => {
    const throttle = new AttemptThrottle(limits, () => 0);
    for (const address of ['2001:db8:7:9::1', '2001:db8:7:9::2', '2001:db8:7:9::3']) throttle.recordClientFailure(address);
    for (let n = 0; n < 3; n++) throttle.recordClientFailure(undefined);

    expect(throttle.clientWait('2001:db8:7:9::99')).toBe(10);
    expect(throttle.clientWait('2001:db8:7:a::1')).toBe(0);
    expect(throttle.clientWait(undefined)).toBe(10);
    expect(throttle.clientWait('203.0.113.7')).toBe(0);
  });

  it('counts no lookup ids: a suspect client is held back by its own failures only', () => {
    const throttle = new AttemptThrottle(limits, () => 0);
    for (let n = 0; n < 2; n++) throttle.recordFailure('id1', undefined);
    // With a per-key limit of 2 this would wait; here only the client's 2 of 3 count.
    expect(throttle.waitFor({ lookupId: 'id1', client: undefined, credential: 'k' })).toBe(0);
    throttle.recordFailure('id2', undefined);
    expect(throttle.waitFor({ lookupId: 'id3', client: undefined, credential: 'k' })).toBe(10);
  });

  it('takes a caller\'s own defaults, and only their names as options', () => {
    const defaults = Object.freeze({ ...limits });
    expect(resolveThrottleOptions(undefined, 'createBasicAuthChecker', defaults)).toEqual(limits);
    expect(resolveThrottleOptions({ windowMs: 60_000 }, 'createBasicAuthChecker', defaults)).toEqual({ ...limits, windowMs: 60_000 });
    expect(() => resolveThrottleOptions({ maxFailuresPerKey: 5 }, 'createBasicAuthChecker', defaults)).toThrow(
      expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message: expect.stringMatching(/^createBasicAuthChecker: unknown option "maxFailuresPerKey" in "throttle"/) }),
    );
    expect(() => resolveThrottleOptions({ maxFailuresPerClient: 0 }, 'createBasicAuthChecker', defaults)).toThrow(
      'createBasicAuthChecker: "throttle.maxFailuresPerClient" must be an integer from 1 to 1000000.',
    );
  });
});

describe('throttle options', () => {
  it('defaults to 10 failures per key and 100 per client in 15 minutes, 10,000 tracked, IPv6 per /64', () => {
    expect(resolveThrottleOptions(undefined, 'createApiKeyAuth')).toEqual({ maxFailuresPerKey: 10, maxFailuresPerClient: 100, windowMs: 900_000, maxTracked: 10_000, ipv6PrefixLength: 64 });
    expect(DEFAULT_ATTEMPT_THROTTLE).toEqual(resolveThrottleOptions({}, 'createApiKeyAuth'));
    expect(resolveThrottleOptions(false, 'createApiKeyAuth')).toBe(false);
  });

  it.each([
    [{ maxFailuresPerKey: 0 }, 'createApiKeyAuth: "throttle.maxFailuresPerKey" must be an integer from 1 to 1000000.'],
    [{ maxFailuresPerClient: 2.5 }, 'createApiKeyAuth: "throttle.maxFailuresPerClient" must be an integer from 1 to 1000000.'],
    [{ windowMs: 10 }, 'createApiKeyAuth: "throttle.windowMs" must be an integer from 1000 to 86400000.'],
    [{ maxTracked: Number.POSITIVE_INFINITY }, 'createApiKeyAuth: "throttle.maxTracked" must be an integer from 1 to 10000000.'],
    [{ ipv6PrefixLength: 16 }, 'createApiKeyAuth: "throttle.ipv6PrefixLength" must be an integer from 32 to 128.'],
    [{ maxFailurePerKey: 3 }, 'createApiKeyAuth: unknown option "maxFailurePerKey" in "throttle". Did you mean "maxFailuresPerKey"?'],
    [true, 'createApiKeyAuth: "throttle" must be an object or false.'],
  ])('refuses %j at setup with ERR_OPTIONS_INVALID', (throttle, message) => {
    expect(() => createApiKeyAuth({ store: new InstrumentedStore(), throttle: throttle as ApiKeyAuthOptions['throttle'] })).toThrow(
      expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message }),
    );
  });

  it('refuses a clientAddress that is not a function', () => {
    expect(() => createApiKeyAuth({ store: new InstrumentedStore(), clientAddress: 'x-forwarded-for' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message: 'createApiKeyAuth: "clientAddress" must be a function.' }),
    );
  });
});

describe.each(ADAPTERS)('throttling failed attempts on $name', (adapter) => {
  let store: InstrumentedStore;
  let manager: KeyManager;
  let auth: ApiKeyAuth;
  let app: RunningApp;
  let now: number;

  const start = async (options: Partial<ApiKeyAuthOptions>) => {
    auth = createApiKeyAuth({ store, clock: () => new Date(now), ...IN_THREAD_ARGON2, ...options });
    app = await adapter.start(auth);
  };
  const issue = async (label: string) => (await manager.issue({ accountId: `acct_${label}`, environment: 'sandbox' })).key;
  const get = (key: string, headers: Record<string, string> = {}) => send(app.url, '/v1/whoami', { headers: { ...bearer(key), ...headers } });

  beforeEach(() => {
    now = Date.parse('2026-06-01T12:00:00Z');
    store = new InstrumentedStore();
    manager = createKeyManager({ store, argon2: TEST_ARGON2 });
  });

  afterEach(async () => {
    await app?.close();
    await auth?.close();
  });

  it('answers a forger hammering one lookup id with 429 after the limit, with no further Argon2 run', async () => {
    const valid = await issue('victim');
    await start({ throttle: { maxFailuresPerKey: 3, windowMs: 60_000 } });

    for (let n = 0; n < 3; n++) expect((await get(forged(valid, n))).status).toBe(401);
    const runs = argon2Runs();
    for (let n = 3; n < 13; n++) {
      const response = await get(forged(valid, n));
      expect(response.status).toBe(429);
      expect(response.headers['retry-after']).toBe('60');
      expect(response.headers['www-authenticate']).toBeUndefined();
      expect(response.body).toBe(TOO_MANY_BODY);
    }
    expect(argon2Runs()).toBe(runs);
  });

  it('keeps letting the key holder through while its lookup id is under attack', async () => {
    const valid = await issue('victim');
    await start({ throttle: { maxFailuresPerKey: 3, windowMs: 60_000 } });
    expect((await get(valid)).status).toBe(200);

    for (let n = 0; n < 10; n++) await get(forged(valid, n));
    const runs = argon2Runs();
    expect((await get(forged(valid, 99))).status).toBe(429);
    for (let i = 0; i < 5; i++) expect((await get(valid)).status).toBe(200);
    expect(argon2Runs()).toBe(runs);
  });

  it('never locks out a holder this instance has not verified yet, while the forger stays stopped', async () => {
    const valid = await issue('victim');
    await start({ throttle: { maxFailuresPerKey: 3, windowMs: 60_000 } });

    for (let n = 0; n < 6; n++) await sendFrom('127.0.0.2', app.url, '/v1/whoami', bearer(forged(valid, n)));
    expect((await sendFrom('127.0.0.2', app.url, '/v1/whoami', bearer(forged(valid, 50)))).status).toBe(429);

    // First request of the genuine holder on this instance, from another address: verified.
    expect((await sendFrom('127.0.0.3', app.url, '/v1/whoami', bearer(valid))).status).toBe(200);
    // A new forger address gets one Argon2 run, then the key's limit applies to it as well.
    expect((await sendFrom('127.0.0.4', app.url, '/v1/whoami', bearer(forged(valid, 60)))).status).toBe(401);
    expect((await sendFrom('127.0.0.4', app.url, '/v1/whoami', bearer(forged(valid, 61)))).status).toBe(429);
  });

  it('answers a client over its limit before the store is asked, for a forged key and an unknown lookup id alike', async () => {
    const valid = await issue('victim');
    await start({ throttle: { maxFailuresPerClient: 2, windowMs: 60_000 } });
    for (let n = 0; n < 2; n++) expect((await get(forged(valid, n))).status).toBe(401);

    const lookups = store.lookups;
    const unknownHead = `sk_test_${'U'.repeat(44)}`;
    for (const key of [forged(valid, 2), forged(valid, 3), unknownHead + checksumOf(unknownHead)]) {
      const response = await get(key);
      expect([response.status, response.body]).toEqual([429, TOO_MANY_BODY]);
    }
    expect(store.lookups).toBe(lookups);
  });

  it('still reads the row for a key it verified when the client is over its limit, so a revoke applies at once', async () => {
    const valid = await issue('victim');
    const keyId = (await store.findByLookupId(valid.slice(8, 20)))!.id;
    await start({ throttle: { maxFailuresPerClient: 2, windowMs: 60_000 } });
    expect((await get(valid)).status).toBe(200);
    for (let n = 0; n < 3; n++) await get(forged(valid, n));
    expect((await get(forged(valid, 9))).status).toBe(429);

    const lookups = store.lookups;
    expect((await get(valid)).status).toBe(200);
    expect(store.lookups).toBe(lookups + 1);
    await manager.revoke(keyId);
    expect((await get(valid)).status).toBe(401);
  });

  it('counts identical forgeries sent at once as one failure, as they share one Argon2 run', async () => {
    const valid = await issue('victim');
    const neighbour = await issue('neighbour');
    await start({ throttle: { maxFailuresPerClient: 2, windowMs: 60_000 } });
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(forged(valid, 0))));
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(401));
    // One failure counted for the address, so an honest client behind it still gets its key checked.
    expect((await get(neighbour)).status).toBe(200);
  });

  it('lets a key it verified through a client over its limit after the row is rehashed', async () => {
    const valid = await issue('victim');
    const row = (await store.findByLookupId(valid.slice(8, 20)))!;
    await start({ throttle: { maxFailuresPerClient: 2, windowMs: 60_000 } });
    expect((await get(valid)).status).toBe(200);
    for (let n = 0; n < 3; n++) await get(forged(valid, n));
    expect((await get(forged(valid, 9))).status).toBe(429);

    // Another gateway rehashed the row: the same secret under other parameters.
    const rehashed = await hashSecret(valid.slice(-38, -6), { ...TEST_ARGON2, iterations: 2 });
    await store.modify(row.id, () => ({ key_hash: rehashed }));
    expect((await get(valid)).status).toBe(200);
  });

  it('limits other lookup ids separately', async () => {
    const attacked = await issue('attacked');
    const bystander = await issue('bystander');
    await start({ throttle: { maxFailuresPerKey: 2, windowMs: 60_000 } });
    for (let n = 0; n < 3; n++) await get(forged(attacked, n));
    expect((await get(forged(attacked, 50))).status).toBe(429);
    expect((await get(bystander)).status).toBe(200);
    expect((await get(forged(bystander, 0))).status).toBe(401);
  });

  it('starts no more Argon2 runs than the limit for a burst of forgeries sent all at once', async () => {
    const valid = await issue('victim');
    await start({ throttle: { maxFailuresPerKey: 3, windowMs: 60_000 } });
    expect((await get(valid)).status).toBe(200);
    const runs = argon2Runs();
    const answers = await Promise.all(Array.from({ length: 30 }, (_, n) => get(forged(valid, n))));
    const computed = argon2Runs() - runs;
    expect(computed).toBeGreaterThan(0);
    expect(computed).toBeLessThanOrEqual(3);
    expect(answers.filter((answer) => answer.status === 401)).toHaveLength(computed);
    expect(answers.filter((answer) => answer.status === 429)).toHaveLength(30 - computed);
    expect((await get(valid)).status).toBe(200);
  });

  it('lets attempts through again once the window has passed, counting afresh', async () => {
    const valid = await issue('victim');
    await start({ throttle: { maxFailuresPerKey: 2, windowMs: 60_000 } });
    await get(forged(valid, 0));
    await get(forged(valid, 1));
    expect((await get(forged(valid, 2))).headers['retry-after']).toBe('60');

    now += 45_000;
    expect((await get(forged(valid, 2))).headers['retry-after']).toBe('15');

    now += 15_000;
    const runs = argon2Runs();
    expect((await get(forged(valid, 2))).status).toBe(401);
    expect(argon2Runs()).toBe(runs + 1);
    expect((await get(forged(valid, 3))).status).toBe(401);
    expect((await get(forged(valid, 4))).status).toBe(429);
  });

  it('does not count unknown lookup ids, malformed keys or a wrong key the memo already knows', async () => {
    const valid = await issue('victim');
    await start({ throttle: { maxFailuresPerKey: 2, maxFailuresPerClient: 2, windowMs: 60_000 } });
    const unknownHead = `sk_test_${'U'.repeat(44)}`;
    for (let i = 0; i < 5; i++) {
      expect((await get(unknownHead + checksumOf(unknownHead))).status).toBe(401);
      expect((await get('sk_test_garbage')).status).toBe(401);
    }
    expect((await get(forged(valid, 0))).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await get(forged(valid, 0))).status).toBe(401);
    expect((await get(valid)).status).toBe(200);
  });

  it('limits a client address that spreads failures over many lookup ids, and no other address', async () => {
    const targets = await Promise.all(['a', 'b', 'c', 'd'].map(issue));
    const fresh = await issue('fresh');
    await start({ throttle: { maxFailuresPerKey: 100, maxFailuresPerClient: 3, windowMs: 60_000 } });

    for (const [n, target] of targets.slice(0, 3).entries()) expect((await get(forged(target, n))).status).toBe(401);
    const blocked = await get(forged(targets[3]!, 7));
    expect(blocked.status).toBe(429);
    expect(blocked.body).toBe(TOO_MANY_BODY);

    // The socket address is the default: another loopback source is another client.
    const other = await sendFrom('127.0.0.2', app.url, '/v1/whoami', bearer(forged(targets[3]!, 7)));
    expect(other.status).toBe(401);
    expect((await sendFrom('127.0.0.2', app.url, '/v1/whoami', bearer(fresh))).status).toBe(200);
  });

  it('counts under the address the app reads from its proxy header', async () => {
    const target = await issue('target');
    const fresh = await issue('fresh');
    await start({
      throttle: { maxFailuresPerKey: 100, maxFailuresPerClient: 2, windowMs: 60_000 },
      clientAddress: (request) => {
        const forwarded = request.headers['x-test-client'];
        return typeof forwarded === 'string' ? forwarded : request.remoteAddress;
      },
    });
    const mallory = { 'x-test-client': '198.51.100.66' };
    await get(forged(target, 0), mallory);
    await get(forged(target, 1), mallory);
    expect((await get(forged(target, 2), mallory)).status).toBe(429);
    expect((await get(forged(target, 2), { 'x-test-client': '198.51.100.1' })).status).toBe(401);
    expect((await get(fresh, { 'x-test-client': '198.51.100.2' })).status).toBe(200);
  });

  it('answers a clientAddress function that throws with a generic 500, never a pass', async () => {
    const valid = await issue('victim');
    await start({ clientAddress: () => { throw new Error('no proxy header'); } });
    const response = await get(valid);
    expect(response.status).toBe(500);
    expect(JSON.parse(response.body).error.code).toBe('ERR_INTERNAL');
  });

  it('answers forgeries with a generic 500 and no Argon2 run when the clock gives an invalid Date', async () => {
    const valid = await issue('victim');
    auth = createApiKeyAuth({ store, clock: () => new Date(Number.NaN), ...IN_THREAD_ARGON2, throttle: { maxFailuresPerKey: 3 } });
    app = await adapter.start(auth);
    const runs = argon2Runs();
    for (let n = 0; n < 6; n++) {
      const response = await get(forged(valid, n));
      expect(response.status).toBe(500);
      expect(JSON.parse(response.body).error.code).toBe('ERR_INTERNAL');
    }
    expect(argon2Runs()).toBe(runs);
  });

  it('ends a window the clock opened while it ran a year ahead once the clock is set back', async () => {
    const valid = await issue('victim');
    await start({ throttle: { maxFailuresPerKey: 3, maxFailuresPerClient: 3, windowMs: 60_000 } });
    const setBack = now;
    now += 365 * 24 * 3_600_000;
    for (let n = 0; n < 3; n++) expect((await get(forged(valid, n))).status).toBe(401);
    expect((await get(forged(valid, 3))).status).toBe(429);
    now = setBack;
    const response = await get(forged(valid, 4));
    expect(response.status).toBe(401);
    expect(response.headers['retry-after']).toBeUndefined();
  });

  it('does no throttling with throttle: false', async () => {
    const valid = await issue('victim');
    await start({ throttle: false });
    for (let n = 0; n < 15; n++) expect((await get(forged(valid, n))).status).toBe(401);
    expect((await get(valid)).status).toBe(200);
  });
});

/** One protected route on a framework with its trust-proxy option set as given. */
const TRUSTING_APPS: { name: string; start(auth: ApiKeyAuth, trustProxy: boolean): Promise<RunningApp> }[] = [
  {
    name: 'express 5',
    async start(auth, trustProxy) {
      const app = express();
      if (trustProxy) app.set('trust proxy', 'loopback');
      app.get('/v1/whoami', expressApiKeyAuth(auth), (_req, res) => { res.json({ ok: true }); });
      return listen(app.listen(0, '127.0.0.1'), []);
    },
  },
  {
    name: 'koa 3',
    async start(auth, trustProxy) {
      const app = new Koa({ proxy: trustProxy });
      app.use(koaApiKeyAuth(auth));
      app.use((ctx) => { ctx.body = { ok: true }; });
      return listen(createServer(app.callback()).listen(0, '127.0.0.1'), []);
    },
  },
  {
    name: 'fastify 5',
    async start(auth, trustProxy) {
      const app = Fastify({ trustProxy: trustProxy ? '127.0.0.1' : false });
      app.get('/v1/whoami', { onRequest: fastifyApiKeyAuthHook(auth) }, async () => ({ ok: true }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as AddressInfo;
      return { url: `http://127.0.0.1:${port}`, forwarded: [], close: () => app.close() };
    },
  },
];

describe.each(TRUSTING_APPS)('the default client address on $name', (framework) => {
  let app: RunningApp | undefined;
  let auth: ApiKeyAuth | undefined;
  afterEach(async () => {
    await app?.close();
    await auth?.close();
  });

  const setUp = async (trustProxy: boolean) => {
    const store = new InstrumentedStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const target = (await manager.issue({ accountId: 'acct_target', environment: 'sandbox' })).key;
    const fresh = (await manager.issue({ accountId: 'acct_fresh', environment: 'sandbox' })).key;
    auth = createApiKeyAuth({ store, throttle: { maxFailuresPerKey: 100, maxFailuresPerClient: 2, windowMs: 60_000 } });
    app = await framework.start(auth, trustProxy);
    const from = (forwardedFor: string, key: string) =>
      send(app!.url, '/v1/whoami', { headers: { ...bearer(key), 'x-forwarded-for': forwardedFor } });
    return { target, fresh, from };
  };

  it('follows the framework\'s trust-proxy setting: each forwarded client counts apart', async () => {
    const { target, fresh, from } = await setUp(true);
    await from('198.51.100.66', forged(target, 0));
    await from('198.51.100.66', forged(target, 1));
    expect((await from('198.51.100.66', forged(target, 2))).status).toBe(429);
    expect((await from('198.51.100.1', forged(target, 2))).status).toBe(401);
    expect((await from('198.51.100.2', fresh)).status).toBe(200);
  });

  it('ignores X-Forwarded-For when the framework does not trust the proxy, so spoofing it gains nothing', async () => {
    const { target, from } = await setUp(false);
    await from('198.51.100.66', forged(target, 0));
    await from('198.51.100.67', forged(target, 1));
    expect((await from('198.51.100.68', forged(target, 2))).status).toBe(429);
  });
});
