/**
 * What an app plugs into keyward can misbehave: an async hook or logger that rejects, an
 * authenticator wrapper whose decide() hands back a foreign thenable, errors that cannot
 * even be described. None of it may end the process, hang a request or let one through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyAuth, createBasicAuthChecker, createKeyManager, type ApiKeyAuth, type AuthResult } from 'keyward';
import { koaApiKeyAuth } from 'keyward/koa';
import { describeError } from '../src/describe-error.js';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { send } from './helpers/http-client.js';
import { bearer, forgeSecret } from './helpers/keys.js';
import { InstrumentedStore } from './helpers/stores.js';
import { ADAPTERS } from './http/apps.js';

const INVALID_BODY = '{"error":{"code":"ERR_API_KEY_INVALID","message":"The API key is invalid."}}';

/** Unhandled rejections seen while `action` runs and for a moment after. */
async function unhandledDuring(action: () => Promise<unknown>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const record = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', record);
  try {
    await action();
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    process.off('unhandledRejection', record);
  }
  return seen;
}

/** `answer`, or a rejection once `ms` have passed without it: a hung request fails fast. */
function answeredWithin<T>(ms: number, answer: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([answer, late]).finally(() => clearTimeout(timer));
}

/** Something thrown that has no prototype, so String() and .message both fail on it. */
const bareObject = () => Object.create(null) as object;

describe('describeError', () => {
  it('describes what cannot be printed instead of throwing', () => {
    const getterThrows = new Error('x');
    Object.defineProperty(getterThrows, 'message', { get: () => { throw new Error('no'); } });
    expect(describeError(bareObject())).toBe('an error that cannot be described');
    expect(describeError(getterThrows)).toBe('an error that cannot be described');
    expect(describeError(new RangeError('out'))).toBe('RangeError: out');
  });
});

describe.each(ADAPTERS)('hostile integrations on $name', (adapter) => {
  const store = new InstrumentedStore(false);
  let key: string;

  beforeAll(async () => {
    ({ key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_hostile', environment: 'sandbox' }));
  });
  afterAll(() => store.heal());

  const withApp = async (auth: ApiKeyAuth, forwardErrors: boolean, run: (url: string) => Promise<void>) => {
    const app = await adapter.start(auth, { forwardErrors });
    try {
      await run(app.url);
    } finally {
      await app.close();
      await auth.close();
    }
  };

  it('keeps serving when an async onDecision hook and an async logger reject, and logs the hook failure', async () => {
    const warnings: string[] = [];
    const rejects = () => Promise.reject(new Error('audit sink down'));
    const auth = createApiKeyAuth({
      store,
      environments: ['sandbox'],
      onDecision: rejects,
      logger: { debug: rejects, warn: (_fields, message) => void warnings.push(message) },
    });
    const unhandled = await unhandledDuring(() =>
      withApp(auth, false, async (url) => {
        expect((await send(url, '/v1/whoami')).status).toBe(401);
        expect((await send(url, '/v1/whoami', { headers: bearer(key) })).status).toBe(200);
      }),
    );
    expect(unhandled).toEqual([]);
    expect(warnings).toContain('keyward: onDecision failed');
  });

  it('answers a store that rejects with an undescribable error with 503, not a hang', async () => {
    const auth = createApiKeyAuth({ store, environments: ['sandbox'] });
    const undescribable = new Error('x');
    Object.defineProperty(undescribable, 'message', { get: () => { throw new Error('no'); } });
    store.failure = undescribable;
    const unhandled = await unhandledDuring(() =>
      withApp(auth, false, async (url) => {
        expect((await send(url, '/v1/whoami', { headers: bearer(key) })).status).toBe(503);
      }),
    );
    store.heal();
    expect(unhandled).toEqual([]);
  });

  it.each([false, true])('refuses a forged key when a wrapper\'s decide() gives a foreign thenable (forwardErrors %s)', async (forwardErrors) => {
    const real = createApiKeyAuth({ store, environments: ['sandbox'] });
    // As an app's instrumentation wrapper, or a patched global Promise, would hand it back.
    const wrapped: ApiKeyAuth = {
      ...real,
      decide: (request, requirement) => {
        const decided = real.decide(request, requirement);
        return { then: (resolve: (result: AuthResult) => void) => void Promise.resolve(decided).then(resolve) } as unknown as Promise<AuthResult>;
      },
    };
    await withApp(wrapped, forwardErrors, async (url) => {
      const refused = await send(url, '/v1/whoami', { headers: bearer(forgeSecret(key)) });
      expect(refused.status).toBe(401);
      if (!forwardErrors) expect(refused.body).toBe(INVALID_BODY);
      expect((await send(url, '/v1/whoami', { headers: bearer(key) })).status).toBe(200);
    });
  });

  it('never lets a request on when a wrapper gives something that is not a decision', async () => {
    const real = createApiKeyAuth({ store, environments: ['sandbox'] });
    const broken = { ...real, decide: () => ({}) as AuthResult };
    for (const forwardErrors of [false, true]) {
      const app = await adapter.start(broken, { forwardErrors });
      try {
        expect((await send(app.url, '/v1/whoami', { headers: bearer(key) })).status).toBe(500);
      } finally {
        await app.close();
      }
    }
    await real.close();
  });
  it.each([false, true])('answers 500, not a hang, when a wrapper\'s promised decision throws on reading ok (forwardErrors %s)', async (forwardErrors) => {
    const real = createApiKeyAuth({ store, environments: ['sandbox'] });
    const throwing = Object.defineProperty({ context: { accountId: 'acct_throwing' } }, 'ok', {
      get: () => { throw new Error('decision proxy revoked'); },
    }) as unknown as AuthResult;
    const wrapped: ApiKeyAuth = { ...real, decide: () => Promise.resolve(throwing) };
    const unhandled = await unhandledDuring(() =>
      withApp(wrapped, forwardErrors, async (url) => {
        const answered = await answeredWithin(10_000, send(url, '/v1/whoami', { headers: bearer(key) }));
        expect(answered.status).toBe(500);
        expect(answered.body).toBe('{"forwarded":"unknown"}');
      }),
    );
    expect(unhandled).toEqual([]);
  });

  it.each([
    { shape: 'ok: 1', ok: 1, given: 'at once' },
    { shape: 'ok: 1', ok: 1, given: 'as a promise' },
    { shape: "ok: 'false'", ok: 'false', given: 'at once' },
    { shape: "ok: 'false'", ok: 'false', given: 'as a promise' },
  ])('never lets a request on when a wrapper\'s decision is only truthy ($shape, given $given)', async ({ ok, given }) => {
    const real = createApiKeyAuth({ store, environments: ['sandbox'] });
    // Truthy but not true, with a context that would reach the handler if it counted as a pass.
    const truthy = { ok, context: { accountId: 'acct_truthy' } } as unknown as AuthResult;
    const wrapped: ApiKeyAuth = { ...real, decide: () => (given === 'at once' ? truthy : Promise.resolve(truthy)) };
    for (const forwardErrors of [false, true]) {
      const app = await adapter.start(wrapped, { forwardErrors });
      try {
        // The adapter throws rather than answer; the app's error handler sends what it sends.
        const answered = await send(app.url, '/v1/whoami', { headers: bearer(key) });
        expect(answered.status).toBe(500);
        expect(answered.body).toBe('{"forwarded":"unknown"}');
        expect(app.forwarded).toHaveLength(1);
      } finally {
        await app.close();
      }
    }
    await real.close();
  });
});

describe('koaApiKeyAuth', () => {
  it('returns a promise for a decision made without waiting too, rejecting with forwardErrors', async () => {
    const auth = createApiKeyAuth({ store: new InstrumentedStore(false), environments: ['sandbox'] });
    const ctx = { req: { headers: {}, rawHeaders: [] }, res: { setHeader() {} }, set() {}, headerSent: false, originalUrl: '/', state: {}, status: 404 };
    const answered = koaApiKeyAuth(auth)(ctx as never, async () => {});
    const forwarded = koaApiKeyAuth(auth, { forwardErrors: true })(ctx as never, async () => {});
    expect(answered).toBeInstanceOf(Promise);
    expect(forwarded).toBeInstanceOf(Promise);
    await answered;
    await expect(forwarded).rejects.toMatchObject({ code: 'ERR_API_KEY_MISSING', status: 401 });
    await auth.close();
  });
});

describe('createBasicAuthChecker().checkRawHeaders', () => {
  it('refuses what is not a header list as malformed instead of throwing', () => {
    const checker = createBasicAuthChecker({ username: 'hook-relay', password: 'correct-horse-battery' });
    for (const input of [null, undefined, 'Basic x', 42]) {
      const result = checker.checkRawHeaders(input as never);
      expect(result.ok === false && result.reason).toBe('malformed_header');
    }
  });
});
