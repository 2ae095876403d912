/**
 * The optional pepper: recorded as `keyid=` in the hash, required to verify, rollable, and
 * rehashing on success (for an older pepper or weaker parameters) in one compare-and-set write.
 */
import { createHash, createHmac } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  checksumOf,
  createApiKeyAuth,
  createKeyManager,
  generateApiKey,
  hashSecret,
  needsRehash,
  parseStoredHash,
  rehashParams,
  rowPepper,
  type ApiKeyAuth,
  type AuthResult,
  type ApiKeyAuthOptions,
  type AuthDecision,
  type KeyManagerOptions,
} from 'keyward';
import { Rehasher } from '../src/rehash.js';
import { completeLogger } from '../src/logger.js';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { CaptureLogger } from './helpers/capture-logger.js';
import { send } from './helpers/http-client.js';
import { insertRawRow, InstrumentedStore } from './helpers/stores.js';
import { ADAPTERS, type RunningApp } from './http/apps.js';
import { bearer } from './helpers/keys.js';
import { testSecretBytes } from './helpers/secret-bytes.js';

const P1 = testSecretBytes(101);
const P2 = testSecretBytes(102);
const LONG_PEPPER = Buffer.concat([testSecretBytes(103), testSecretBytes(104), testSecretBytes(105)]);
const hashOf = (store: InstrumentedStore) => store.allRows()[0]!.key_hash;

describe('pepper ids in PHC strings', () => {
  it('records the pepper id as keyid= in unpadded base64 and reads it back', async () => {
    const encoded = await hashSecret('a-secret', TEST_ARGON2, { id: 'p2', secret: P2 });
    expect(encoded).toMatch(/^\$argon2id\$v=19\$m=256,t=1,p=1,keyid=cDI\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    const parsed = parseStoredHash(encoded);
    expect(parsed.ok && parsed.value.pepperId).toBe('p2');
  });

  it('writes no keyid for a hash without a pepper', async () => {
    const parsed = parseStoredHash(await hashSecret('a-secret', TEST_ARGON2));
    expect(parsed.ok && parsed.value.pepperId).toBeUndefined();
  });

  it.each([
    ['keyid before the costs', 'keyid=cDI,m=512,t=2,p=1'],
    ['keyid twice', 'm=512,t=2,p=1,keyid=cDI,keyid=cDI'],
    ['an empty keyid', 'm=512,t=2,p=1,keyid='],
    ['a keyid that is not canonical base64', 'm=512,t=2,p=1,keyid=cDJ'],
    ['a keyid longer than 8 bytes', 'm=512,t=2,p=1,keyid=cGVwcGVyMTIzNDU'],
    ['a keyid whose bytes are not an id', 'm=512,t=2,p=1,keyid=JCQ'],
    ['data= instead of keyid=', 'm=512,t=2,p=1,data=cDI'],
  ])('refuses %s as bad_parameters', (_name, params) => {
    const encoded = `$argon2id$v=19$${params}$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw`;
    expect(parseStoredHash(encoded)).toEqual({ ok: false, fault: 'bad_parameters' });
  });
});

describe('pepper options', () => {
  const factories: [string, (pepper: unknown) => unknown][] = [
    ['createApiKeyAuth', (pepper) => createApiKeyAuth({ store: new InstrumentedStore(), pepper } as ApiKeyAuthOptions)],
    ['createKeyManager', (pepper) => createKeyManager({ store: new InstrumentedStore(), pepper } as KeyManagerOptions)],
  ];

  describe.each(factories)('%s', (factory, create) => {
    it.each([
      ['not an object', 'p1', `${factory}: "pepper" must be an object { current, secrets }.`],
      ['a current id missing from secrets', { current: 'p3', secrets: { p1: P1 } }, `${factory}: "pepper.current" must name one of the ids in "pepper.secrets".`],
      ['refuseUnpeppered as a string', { current: 'p1', secrets: { p1: P1 }, refuseUnpeppered: 'yes' }, `${factory}: "pepper.refuseUnpeppered" must be a boolean.`],
      ['a secret of 8 bytes', { current: 'p1', secrets: { p1: Buffer.alloc(8) } }, `${factory}: "pepper.secrets.p1" must be a Buffer or Uint8Array of 16 to 1024 bytes.`],
      ['a secret given as a string', { current: 'p1', secrets: { p1: 'x'.repeat(32) } }, `${factory}: "pepper.secrets.p1" must be a Buffer or Uint8Array of 16 to 1024 bytes.`],
      ['32 zero bytes', { current: 'p1', secrets: { p1: Buffer.alloc(32) } }, `${factory}: "pepper.secrets.p1" is one byte repeated, not a random secret: use random bytes (openssl rand -base64 32).`],
      ['one character repeated', { current: 'p1', secrets: { p1: Buffer.alloc(48, 0x41) } }, `${factory}: "pepper.secrets.p1" is one byte repeated, not a random secret: use random bytes (openssl rand -base64 32).`],
      ['one character repeated and then zero bytes', { current: 'p1', secrets: { p1: Buffer.concat([Buffer.alloc(20, 0x41), Buffer.alloc(12)]) } }, `${factory}: "pepper.secrets.p1" is one byte repeated with zero bytes after it, which HMAC-SHA256 takes as that byte repeated alone: use random bytes (openssl rand -base64 32).`],
      ['the same bytes under two ids (a roll to a copy of the old pepper)', { current: 'p2', secrets: { p1: P1, p2: Buffer.from(P1) } }, `${factory}: "pepper.secrets.p2" acts as the same key as "pepper.secrets.p1" (the same bytes, or bytes HMAC-SHA256 cannot tell apart): each pepper id needs random bytes of its own.`],
      ['a pepper and the same bytes with a zero byte after them, which HMAC pads alike', { current: 'p2', secrets: { p1: P1, p2: Buffer.concat([P1, Buffer.alloc(1)]) } }, `${factory}: "pepper.secrets.p2" acts as the same key as "pepper.secrets.p1" (the same bytes, or bytes HMAC-SHA256 cannot tell apart): each pepper id needs random bytes of its own.`],
      ['a pepper over 64 bytes and its SHA-256, which HMAC hashes it to', { current: 'p2', secrets: { p1: LONG_PEPPER, p2: createHash('sha256').update(LONG_PEPPER).digest() } }, `${factory}: "pepper.secrets.p2" acts as the same key as "pepper.secrets.p1" (the same bytes, or bytes HMAC-SHA256 cannot tell apart): each pepper id needs random bytes of its own.`],
      ['an id with a dot', { current: 'p.1', secrets: { 'p.1': P1 } }, `${factory}: every pepper id must be 1 to 8 letters, digits, "_" or "-" (the one given is not shown, as it may be a secret).`],
      ['an id of nine characters', { current: 'pepper123', secrets: { pepper123: P1 } }, `${factory}: every pepper id must be 1 to 8 letters, digits, "_" or "-" (the one given is not shown, as it may be a secret).`],
      ['a secret pasted as an id', { current: 'p1', secrets: { p1: P1, [P1.toString('base64')]: P1 } }, `${factory}: every pepper id must be 1 to 8 letters, digits, "_" or "-" (the one given is not shown, as it may be a secret).`],
      ['a misspelt field', { curent: 'p1', secrets: { p1: P1 } }, `${factory}: unknown option in "pepper" (its name is not repeated, as it could be a secret). Did you mean "current"?`],
      ['a secret pasted as a field name', { current: 'p1', secrets: { p1: P1 }, Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5: P1 }, `${factory}: unknown option in "pepper" (its name is not repeated, as it could be a secret). The options of "pepper" are current, secrets, refuseUnpeppered.`],
    ])('refuses %s with ERR_OPTIONS_INVALID', (_name, pepper, message) => {
      expect(() => create(pepper)).toThrow(expect.objectContaining({ code: 'ERR_OPTIONS_INVALID', message }));
    });

    it('never puts a pepper secret in an error message', () => {
      const secret = Buffer.from('0123456789abcdef'.repeat(80));
      try {
        create({ current: 'p1', secrets: { p1: secret } });
      } catch (error) {
        expect(String((error as Error).message)).not.toContain('0123456789abcdef');
      }
    });
  });
});

describe('createKeyManager with a pepper and sealing keys', () => {
  const sealingKey = testSecretBytes(41);

  it('refuses a sealing key with the same bytes as a pepper (one variable pasted into both settings)', () => {
    const create = () => createKeyManager({
      store: new InstrumentedStore(),
      pepper: { current: 'p2', secrets: { p1: P1, p2: Buffer.from(sealingKey) } },
      webhookKeys: { current: 'k1', keys: { k1: sealingKey } },
    });
    expect(create).toThrow(expect.objectContaining({
      code: 'ERR_OPTIONS_INVALID',
      message: 'createKeyManager: "webhookKeys.keys.k1" holds the same bytes as "pepper.secrets.p2": a sealing key and a pepper each need random bytes of their own.',
    }));
  });

  it('accepts a sealing key and a pepper of their own bytes', () => {
    expect(() => createKeyManager({
      store: new InstrumentedStore(),
      pepper: { current: 'p1', secrets: { p1: P1 } },
      webhookKeys: { current: 'k1', keys: { k1: sealingKey } },
    })).not.toThrow();
  });
});

describe('needsRehash, the rule rehashOnSuccess applies too', () => {
  const base = '$argon2id$v=19$m=512,t=2,p=1$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw';
  const params = (memoryKiB: number, iterations: number) => ({ memoryKiB, iterations, parallelism: 1 });

  it.each([
    ['keeps stored parameters the policy does not outdo (more memory stored, fewer iterations)', params(4096, 1), params(1024, 3), params(4096, 1)],
    ['keeps stored parameters with as much memory and more iterations', params(1024, 4), params(1024, 2), params(1024, 4)],
    ['takes the policy where it has more memory', params(512, 8), params(1024, 1), params(1024, 1)],
    ['takes the policy where it has as much memory and more iterations', params(1024, 2), params(1024, 3), params(1024, 3)],
  ])('rehashParams %s', (_what, stored, policy, expected) => {
    expect(rehashParams(stored, policy)).toEqual(expected);
  });

  it('asks for a rehash only for weaker costs, a shorter salt or output, or another pepper', async () => {
    const strong = await hashSecret('s', { memoryKiB: 1024, iterations: 3, parallelism: 1 });
    expect(needsRehash(strong, params(512, 2))).toBe(false);
    expect(needsRehash(strong, params(1024, 3))).toBe(false);
    // More memory is an upgrade, even with fewer iterations; as much memory, with more iterations.
    expect(needsRehash(strong, params(2048, 1))).toBe(true);
    expect(needsRehash(strong, params(1024, 4))).toBe(true);
    // Less memory is never an upgrade, whatever the iterations.
    expect(needsRehash(strong, params(512, 8))).toBe(false);
    // Two policies that trade memory for iterations: at most one of them rewrites the other's hashes.
    const [tall, wide] = [params(47_104, 1), params(19_456, 2)];
    const tallHash = '$argon2id$v=19$m=47104,t=1,p=1$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw';
    const wideHash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0MDAwMQ$hZmL0VYx4G7GcvziwN6DxwZTBqOiLQRFvcMLo19Smjw';
    expect([needsRehash(tallHash, wide), needsRehash(wideHash, tall)]).toEqual([false, true]);
    // Hash A has a 16-byte salt and a 32-byte output, keyward's own sizes.
    expect(needsRehash(base, TEST_ARGON2)).toBe(false);
  });

  it('asks for a rehash of a hash under no pepper or another one than the current pepper id, and of a peppered one where none is current', async () => {
    const underP1 = await hashSecret('s', TEST_ARGON2, { id: 'p1', secret: P1 });
    const underP2 = await hashSecret('s', TEST_ARGON2, { id: 'p2', secret: P2 });
    const unpeppered = await hashSecret('s', TEST_ARGON2);
    expect([needsRehash(underP2, TEST_ARGON2, 'p2'), needsRehash(underP1, TEST_ARGON2, 'p2'), needsRehash(unpeppered, TEST_ARGON2, 'p2')]).toEqual([false, true, true]);
    expect([needsRehash(unpeppered, TEST_ARGON2), needsRehash(underP1, TEST_ARGON2)]).toEqual([false, true]);
  });
});

describe('a peppered hash is bound to its row (someone who can write to the table but lacks the pepper)', () => {
  const pepper = { current: 'p1', secrets: { p1: P1 }, refuseUnpeppered: true };
  const statusOf = (result: AuthResult) => (result.ok ? 200 : result.response.status);
  const presenting = (key: string) => ({ headers: bearer(key) });

  async function attackerAndVictim() {
    const store = new InstrumentedStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2, pepper });
    const attacker = await manager.issue({ accountId: 'acct_attacker', environment: 'sandbox' });
    const victim = await manager.issue({ accountId: 'acct_victim', environment: 'sandbox' });
    const auth = createApiKeyAuth({ store, argon2Pool: false, pepper });
    return { store, manager, attacker, victim, auth };
  }

  it('lets the key a regenerate returns through, and the old one no longer', async () => {
    const { attacker, manager, auth } = await attackerAndVictim();

    const regenerated = await manager.regenerate(attacker.card.keyId);

    expect(statusOf(await auth.authenticate(presenting(regenerated.key)))).toBe(200);
    expect(statusOf(await auth.authenticate(presenting(attacker.key)))).toBe(401);
    await auth.close();
  });

  it("refuses the victim's lookup id with the attacker's own secret once the attacker's hash is copied onto the victim's row", async () => {
    const { store, attacker, victim, auth } = await attackerAndVictim();
    const attackerHash = store.allRows().find((row) => row.id === attacker.card.keyId)!.key_hash;
    store.override = (row) => (row?.id === victim.card.keyId ? { ...row, key_hash: attackerHash } : row);
    const head = victim.key.slice(0, 20) + attacker.key.slice(20, 52);

    expect(statusOf(await auth.authenticate(presenting(head + checksumOf(head))))).toBe(401);
    await auth.close();
  });

  it('refuses a key whose row was pointed at another account, even one this gateway verified before', async () => {
    const { store, attacker, auth } = await attackerAndVictim();
    const before = await auth.authenticate(presenting(attacker.key));
    expect(before.ok && before.context.accountId).toBe('acct_attacker');
    store.override = (row) => row && { ...row, account_id: 'acct_victim' };

    expect(statusOf(await auth.authenticate(presenting(attacker.key)))).toBe(401);
    // A gateway that never saw the key refuses it too: the Argon2 run itself fails.
    const fresh = createApiKeyAuth({ store, argon2Pool: false, pepper });
    expect(statusOf(await fresh.authenticate(presenting(attacker.key)))).toBe(401);
    store.heal();
    expect(statusOf(await auth.authenticate(presenting(attacker.key)))).toBe(200);
    await Promise.all([auth.close(), fresh.close()]);
  });

  it.each([
    ['camel-case names', { id: 'key_1', lookupId: 'lookup000001', accountId: 'acct_1', environment: 'sandbox' }],
    ['an empty account id', { id: 'key_1', lookup_id: 'lookup000001', account_id: '', environment: 'sandbox' }],
    ['an unknown environment', { id: 'key_1', lookup_id: 'lookup000001', account_id: 'acct_1', environment: 'staging' }],
    ['no row', undefined],
  ])('rowPepper refuses a row with %s with a TypeError, rather than binding less than the row', (_what, row) => {
    expect(() => rowPepper(P1, row as never)).toThrow(new TypeError("rowPepper needs the row's id, lookup_id, account_id and environment"));
  });

  it.each([
    ['its base64 text', P1.toString('base64')],
    ['1 byte', Buffer.alloc(1, 1)],
    ['1,025 bytes', Buffer.alloc(1025, 1)],
    ['nothing', undefined],
  ])('rowPepper refuses a pepper given as %s with a TypeError, rather than a binding that never verifies', (_what, pepper) => {
    const row = { id: 'key_1', lookup_id: 'abcdefghijkl', account_id: 'acct_1', environment: 'sandbox' as const };
    expect(() => rowPepper(pepper as never, row)).toThrow(new TypeError("rowPepper needs the pepper's bytes, a Uint8Array of 16 to 1024 bytes as in pepper.secrets"));
  });

  it('rowPepper is HMAC-SHA256 under the pepper of the JSON array the README gives, so other languages can match it', () => {
    const row = { id: 'key_1', lookup_id: 'lookup000001', account_id: 'acct_Ü', environment: 'sandbox' } as const;
    const expected = createHmac('sha256', P1).update('["keyward.row.v1","key_1","lookup000001","acct_Ü","sandbox"]', 'utf8').digest();
    expect(Buffer.from(rowPepper(P1, row))).toEqual(expected);
  });

  it('logs a row whose pepper is not configured with what to do about it', async () => {
    const store = new InstrumentedStore();
    const { key, card } = await createKeyManager({ store, argon2: TEST_ARGON2, pepper }).issue({ accountId: 'acct_1', environment: 'sandbox' });
    const logger = new CaptureLogger([key]);
    const auth = createApiKeyAuth({ store, argon2Pool: false, logger });

    expect(statusOf(await auth.authenticate(presenting(key)))).toBe(500);
    expect(logger.entries.find((entry) => entry.level === 'error')?.message).toBe(
      `keyward: stored hash unparseable for key ${card.keyId} (unknown_pepper): its keyid= names a pepper not in this gateway's pepper.secrets; give it that pepper (the one the key manager writes with), or regenerate the key if the pepper is gone`,
    );
    await auth.close();
  });

  it('verifies a hash written by hand with rowPepper, and not one written with the bare pepper', async () => {
    const store = new InstrumentedStore();
    const auth = createApiKeyAuth({ store, argon2Pool: false, pepper });
    for (const [id, bound] of [['key_bound', true], ['key_bare', false]] as const) {
      const generated = generateApiKey('sandbox');
      const ids = { id, lookup_id: generated.lookupId, account_id: `acct_${id}`, environment: 'sandbox' as const };
      const secret = bound ? rowPepper(P1, ids) : P1;
      await insertRawRow(store, { ...ids, key_hash: await hashSecret(generated.secret, TEST_ARGON2, { id: 'p1', secret }) });
      expect(statusOf(await auth.authenticate(presenting(generated.key)))).toBe(bound ? 200 : 401);
    }
    await auth.close();
  });
});

describe.each(ADAPTERS)('pepper and rehash over HTTP on $name', (adapter) => {
  let app: RunningApp | undefined;
  let auth: ApiKeyAuth | undefined;

  afterEach(async () => {
    await app?.close();
    await auth?.close();
    app = undefined;
    auth = undefined;
  });

  const start = async (options: ApiKeyAuthOptions) => {
    auth = createApiKeyAuth(options);
    app = await adapter.start(auth);
    return (key: string) => send(app!.url, '/v1/whoami', { headers: bearer(key) });
  };

  it('verifies a peppered key only with its pepper; without it the row is a server fault, never a pass', async () => {
    const store = new InstrumentedStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2, pepper: { current: 'p1', secrets: { p1: P1 } } })
      .issue({ accountId: 'acct_1', environment: 'sandbox' });
    expect(hashOf(store)).toContain(',keyid=cDE$');

    const decisions: AuthDecision[] = [];
    const unpeppered = await start({ store, onDecision: (d) => decisions.push(d) });
    const fault = await unpeppered(key);
    expect(fault.status).toBe(500);
    expect(decisions.at(-1)).toMatchObject({ reason: 'stored_hash_unparseable', detail: 'unknown_pepper' });
    await app!.close();
    await auth!.close();

    const withOtherBytes = await start({ store, pepper: { current: 'p1', secrets: { p1: P2 } } });
    expect((await withOtherBytes(key)).status).toBe(401);
    await app!.close();
    await auth!.close();

    const right = await start({ store, pepper: { current: 'p1', secrets: { p1: P1 } } });
    expect((await right(key)).status).toBe(200);
  });

  it('with refuseUnpeppered, answers a row whose hash has no pepper with 500 (a planted hash), and still passes peppered keys', async () => {
    const store = new InstrumentedStore();
    const peppered = await createKeyManager({ store, argon2: TEST_ARGON2, pepper: { current: 'p1', secrets: { p1: P1 } } })
      .issue({ accountId: 'acct_1', environment: 'sandbox' });
    // A key issued before the pepper, or a hash planted by someone who can write to the table.
    const plain = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_2', environment: 'sandbox' });

    const decisions: AuthDecision[] = [];
    const strict = await start({ store, onDecision: (d) => decisions.push(d), pepper: { current: 'p1', secrets: { p1: P1 }, refuseUnpeppered: true } });
    expect((await strict(peppered.key)).status).toBe(200);
    const fault = await strict(plain.key);
    expect(fault.status).toBe(500);
    expect(decisions.at(-1)).toMatchObject({ reason: 'stored_hash_unparseable', detail: 'unpeppered' });
    await app!.close();
    await auth!.close();

    // Off (the default), the same unpeppered key passes: keys issued before the pepper must.
    const lenient = await start({ store, pepper: { current: 'p1', secrets: { p1: P1 } } });
    expect((await lenient(plain.key)).status).toBe(200);
  });

  it('keeps keys of an older pepper working after a roll and rehashes them to the current one in one write', async () => {
    const store = new InstrumentedStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2, pepper: { current: 'p1', secrets: { p1: P1 } } })
      .issue({ accountId: 'acct_1', environment: 'sandbox' });
    const modify = vi.spyOn(store, 'modify');
    const logger = new CaptureLogger([key, key.slice(20, 52)]);
    const get = await start({ store, logger, argon2: TEST_ARGON2, rehashOnSuccess: true, pepper: { current: 'p2', secrets: { p1: P1, p2: P2 } } });

    expect((await get(key)).status).toBe(200);
    await vi.waitFor(() => expect(hashOf(store)).toContain(',keyid=cDI$'));
    for (let i = 0; i < 3; i++) expect((await get(key)).status).toBe(200);
    await auth!.close();
    expect(modify).toHaveBeenCalledTimes(1);
    expect(logger.entries.some((entry) => entry.fields.event === 'keyward.rehashed')).toBe(true);
    logger.assertNoLeaks();
  });

  it('moves a key to the current pepper without lowering stronger stored parameters to a lighter policy', async () => {
    const store = new InstrumentedStore();
    const { key } = await createKeyManager({ store, argon2: { memoryKiB: 512, iterations: 3, parallelism: 1 }, pepper: { current: 'p1', secrets: { p1: P1 } } })
      .issue({ accountId: 'acct_1', environment: 'sandbox' });
    const get = await start({ store, argon2: { memoryKiB: 64, iterations: 1, parallelism: 1 }, rehashOnSuccess: true, pepper: { current: 'p2', secrets: { p1: P1, p2: P2 } } });

    expect((await get(key)).status).toBe(200);
    await vi.waitFor(() => expect(hashOf(store)).toContain(',keyid=cDI$'));
    expect(hashOf(store)).toMatch(/^\$argon2id\$v=19\$m=512,t=3,p=1,keyid=cDI\$/);
    await app!.close();
    await auth!.close();

    const onlyP2 = await start({ store, pepper: { current: 'p2', secrets: { p2: P2 } } });
    expect((await onlyP2(key)).status).toBe(200);
  });

  it('moves a key to the current pepper at the policy where the policy outdoes the stored parameters', async () => {
    const store = new InstrumentedStore();
    const { key } = await createKeyManager({ store, argon2: { memoryKiB: 64, iterations: 1, parallelism: 1 }, pepper: { current: 'p1', secrets: { p1: P1 } } })
      .issue({ accountId: 'acct_1', environment: 'sandbox' });
    const get = await start({ store, argon2: { memoryKiB: 64, iterations: 2, parallelism: 1 }, rehashOnSuccess: true, pepper: { current: 'p2', secrets: { p1: P1, p2: P2 } } });

    expect((await get(key)).status).toBe(200);
    await vi.waitFor(() => expect(hashOf(store)).toMatch(/^\$argon2id\$v=19\$m=64,t=2,p=1,keyid=cDI\$/));
  });

  it('rehashes a suspended key, which answers 403, to the current pepper too, so the old one can be removed', async () => {
    const store = new InstrumentedStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2, pepper: { current: 'p1', secrets: { p1: P1 } } });
    const { key, card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    await manager.setStatus(card.keyId, 'suspended');
    const get = await start({ store, argon2: TEST_ARGON2, rehashOnSuccess: true, pepper: { current: 'p2', secrets: { p1: P1, p2: P2 } } });

    expect((await get(key)).status).toBe(403);
    await vi.waitFor(() => expect(hashOf(store)).toContain(',keyid=cDI$'));
    await app!.close();
    await auth!.close();

    const onlyP2 = await start({ store, pepper: { current: 'p2', secrets: { p2: P2 } } });
    expect((await onlyP2(key)).status).toBe(403);
  });

  it('rehashes a key from before peppers existed once a pepper is configured', async () => {
    const store = new InstrumentedStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_1', environment: 'sandbox' });
    const get = await start({ store, argon2: TEST_ARGON2, rehashOnSuccess: true, pepper: { current: 'p1', secrets: { p1: P1 } } });
    expect((await get(key)).status).toBe(200);
    await vi.waitFor(() => expect(hashOf(store)).toContain(',keyid=cDE$'));
    expect((await get(key)).status).toBe(200);
  });

  it('does not rehash without rehashOnSuccess, nor a hash with stronger parameters', async () => {
    const store = new InstrumentedStore();
    const { key } = await createKeyManager({ store, argon2: { memoryKiB: 512, iterations: 2, parallelism: 1 } })
      .issue({ accountId: 'acct_1', environment: 'sandbox' });
    const before = hashOf(store);
    const modify = vi.spyOn(store, 'modify');

    let get = await start({ store, argon2: { memoryKiB: 1024, iterations: 2, parallelism: 1 } });
    expect((await get(key)).status).toBe(200);
    await auth!.close();
    await app!.close();

    get = await start({ store, argon2: TEST_ARGON2, rehashOnSuccess: true });
    expect((await get(key)).status).toBe(200);
    await auth!.close();
    expect(modify).not.toHaveBeenCalled();
    expect(hashOf(store)).toBe(before);
  });

  it('keeps answering 200 when the rehash write fails, and logs it once with the key id only', async () => {
    const store = new InstrumentedStore();
    const { key, card } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_1', environment: 'sandbox' });
    vi.spyOn(store, 'modify').mockRejectedValue(new Error('read-only replica'));
    const logger = new CaptureLogger([key, key.slice(20, 52)]);
    const get = await start({ store, logger, argon2: { memoryKiB: 512, iterations: 1, parallelism: 1 }, rehashOnSuccess: true });
    expect((await get(key)).status).toBe(200);
    await auth!.close();
    const failures = logger.entries.filter((entry) => entry.fields.event === 'keyward.rehash_failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.fields.keyId).toBe(card.keyId);
    logger.assertNoLeaks();
  });
});

describe('Rehasher', () => {
  it('writes nothing when the row changed between the verification and the write', async () => {
    const store = new InstrumentedStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const { key, card } = await manager.issue({ accountId: 'acct_1', environment: 'sandbox' });
    const verifiedRow = store.allRows()[0]!;
    await manager.regenerate(card.keyId);
    const afterRegenerate = hashOf(store);

    const rehasher = new Rehasher(store, { params: { memoryKiB: 512, iterations: 1, parallelism: 1 }, pepper: undefined }, completeLogger(undefined));
    rehasher.schedule(verifiedRow, key.slice(20, 52));
    await rehasher.settle();
    expect(hashOf(store)).toBe(afterRegenerate);
  });
});
