/**
 * NodeCredentialRequest on a plain node:http server, wired as the README's "Another framework"
 * guard: no framework, so no client IP beyond the socket's. Two different Authorization
 * headers must still be refused, and the attempt throttle must count the socket address.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createApiKeyAuth,
  createKeyManager,
  isPendingDecision,
  MemoryKeyStore,
  NodeCredentialRequest,
  type ApiKeyAuth,
  type AuthResult,
  type CredentialRequest,
} from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { send } from './helpers/http-client.js';
import { bearer, forgeSecret } from './helpers/keys.js';
import { listen, type RunningApp } from './http/apps.js';

/** The README's guard (section "Another framework"), with `auth` and the request shape as parameters. */
function guardFor(auth: ApiKeyAuth, toRequest: (req: IncomingMessage) => CredentialRequest) {
  return function guard(req: IncomingMessage, res: ServerResponse, next: () => void) {
    const finish = (result: AuthResult) => {
      if (result.ok === true) return next();
      res.writeHead(result.response.status, result.response.headers);
      res.end(result.response.body);
    };
    const decided = auth.decide(toRequest(req));
    if (!isPendingDecision(decided)) return finish(decided);
    Promise.resolve(decided).then(finish).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
}

/** A plain node:http app behind the guard: 200 `ok` once the key passes. */
function start(auth: ApiKeyAuth, toRequest: (req: IncomingMessage) => CredentialRequest): Promise<RunningApp> {
  const guard = guardFor(auth, toRequest);
  const server = createServer((req, res) => guard(req, res, () => res.end('ok')));
  return listen(server.listen(0, '127.0.0.1'), []);
}

const asReadmeShows = (req: IncomingMessage) => new NodeCredentialRequest(req, req.url);

describe('NodeCredentialRequest on a plain node:http server', () => {
  const store = new MemoryKeyStore();
  let keyA: string;
  let keyB: string;

  beforeAll(async () => {
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    keyA = (await manager.issue({ accountId: 'acct_a', environment: 'sandbox' })).key;
    keyB = (await manager.issue({ accountId: 'acct_b', environment: 'sandbox' })).key;
  });

  it('is what the README guard builds', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain('const decided = auth.decide(new NodeCredentialRequest(req, req.url));');
  });

  it('is what every shipped example passes: none hands decide() or authenticate() the headers alone', () => {
    const root = new URL('../', import.meta.url);
    const sources = ['src/', 'adapters/'].flatMap((dir) =>
      readdirSync(new URL(dir, root)).filter((name) => name.endsWith('.ts')).map((name) => `${dir}${name}`),
    );
    const offending = [...sources, 'README.md'].filter((path) =>
      /\b(decide|authenticate)\(\s*\{\s*headers\s*[:,}]/.test(readFileSync(new URL(path, root), 'utf8')),
    );
    expect(offending).toEqual([]);
  });

  describe('with the default throttle', () => {
    let auth: ApiKeyAuth;
    let app: RunningApp;

    beforeAll(async () => {
      auth = createApiKeyAuth({ store });
      app = await start(auth, asReadmeShows);
    });

    afterAll(async () => {
      await app.close();
      await auth.close();
    });

    it('passes a live key, and the same key sent twice', async () => {
      expect((await send(app.url, '/', { headers: bearer(keyA) })).status).toBe(200);
      expect((await send(app.url, '/', { headers: { authorization: [`Bearer ${keyA}`, `bearer  ${keyA}`] } })).status).toBe(200);
    });

    it('answers 401 to two Authorization headers with different live keys, though req.headers keeps only the first', async () => {
      const response = await send(app.url, '/', { headers: { authorization: [`Bearer ${keyA}`, `Bearer ${keyB}`] } });
      expect(response.status).toBe(401);
      expect(JSON.parse(response.body).error.code).toBe('ERR_API_KEY_INVALID');
    });

    it('with headers alone (no rawHeaders), lets the first of two Authorization headers decide, as the README warns', async () => {
      const bare = await start(auth, (req) => ({ headers: req.headers }));
      try {
        const response = await send(bare.url, '/', { headers: { authorization: [`Bearer ${keyA}`, `Bearer ${keyB}`] } });
        expect(response.status).toBe(200);
      } finally {
        await bare.close();
      }
    });
  });

  describe('counting failed attempts', () => {
    const forger = '127.0.0.2';
    const holder = '127.0.0.3';

    /** Two forgeries from the forger's address, then the forger again and the holder. */
    async function attack(toRequest: (req: IncomingMessage) => CredentialRequest) {
      const auth = createApiKeyAuth({ store, throttle: { maxFailuresPerKey: 2 } });
      const app = await start(auth, toRequest);
      try {
        const forgeries = [];
        // A different secret each time: the memo answers a repeated one without counting it.
        for (const fill of ['W', 'X', 'Y']) {
          forgeries.push((await send(app.url, '/', { headers: bearer(forgeSecret(keyA, fill)), localAddress: forger })).status);
        }
        const genuine = (await send(app.url, '/', { headers: bearer(keyA), localAddress: holder })).status;
        return { forgeries, genuine };
      } finally {
        await app.close();
        await auth.close();
      }
    }

    it("counts them under the socket's address, so a forger elsewhere cannot lock the holder out", async () => {
      expect(await attack(asReadmeShows)).toEqual({ forgeries: [401, 401, 429], genuine: 200 });
    });

    it('with headers alone (no address), the forgeries lock the holder out too, as documented', async () => {
      expect(await attack((req) => ({ headers: req.headers }))).toEqual({ forgeries: [401, 401, 429], genuine: 429 });
    });
  });

  it("gives the framework's client IP when given an IP source, and none without one", () => {
    const message = { headers: {}, rawHeaders: [], socket: { remoteAddress: '127.0.0.9' } } as unknown as IncomingMessage;
    const plain = new NodeCredentialRequest(message, '/');
    expect([plain.clientIp, plain.remoteAddress]).toEqual([undefined, '127.0.0.9']);
    const framed = new NodeCredentialRequest(message, '/', { ip: '203.0.113.7' });
    expect([framed.clientIp, framed.remoteAddress]).toEqual(['203.0.113.7', '127.0.0.9']);
  });
});
