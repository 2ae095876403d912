import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createApiKeyAuth, createKeyManager, type AuthDecision, type AuthResult, type LogFields } from 'keyward';
import { PostgresKeyStore } from 'keyward/postgres';
import { describePostgres } from './support/postgres.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

// Small bounds keep the test short; the authenticator's own timer is set far above them, so a
// 503 with reason `store_error` shows that the store gave up by itself, within its bounds.
// They are still generous enough for a loaded CI machine to open a connection in time.
const STATEMENT_TIMEOUT_MS = 1_000;
const CONNECTION_TIMEOUT_MS = 1_000;
const AUTHENTICATOR_TIMEOUT_MS = 15_000;

describePostgres('a gateway whose PostgreSQL goes down, hangs and comes back', (db) => {
  const table = db.table('keys');
  const decisions: AuthDecision[] = [];
  const warnings: LogFields[] = [];
  let proxy: TcpProxy;
  let key: string;
  let auth: ReturnType<typeof createApiKeyAuth>;

  beforeAll(async () => {
    const direct = new PostgresKeyStore({ pool: db.pool(), table });
    await direct.migrate();
    const manager = createKeyManager({ store: direct, argon2: { memoryKiB: 256, iterations: 1, parallelism: 1 } });
    ({ key } = await manager.issue({ accountId: 'acct_outage', environment: 'production' }));

    const server = new URL(db.url);
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    server.hostname = '127.0.0.1';
    server.port = String(proxy.port);
    const pool = db.pool({ connectionString: server.href, connectionTimeoutMillis: CONNECTION_TIMEOUT_MS, max: 4 });
    const store = new PostgresKeyStore({
      pool,
      table,
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
      logger: { warn: (fields) => warnings.push(fields) },
    });
    auth = createApiKeyAuth({
      store,
      storeTimeoutMs: AUTHENTICATOR_TIMEOUT_MS,
      usageFlushIntervalMs: 3_600_000,
      onDecision: (decision) => decisions.push(decision),
    });
  });
  afterAll(async () => {
    await auth?.close();
    await proxy?.close();
  });

  const call = () => auth.authenticate({ headers: { authorization: `Bearer ${key}` } });

  /** Sends `count` requests, half one after another and half at once. */
  const burst = async (count: number): Promise<AuthResult[]> => {
    const results: AuthResult[] = [];
    for (let i = 0; i < count / 2; i++) results.push(await call());
    results.push(...(await Promise.all(Array.from({ length: count / 2 }, call))));
    return results;
  };

  /**
   * Waits for a pass after the database came back. A connection cut while idle may be handed
   * out once before the pool sees it is closed, so a few refusals are allowed first.
   */
  const passesAgain = async () => {
    let result = await call();
    for (let attempt = 0; attempt < 3 && !result.ok; attempt++) result = await call();
    expect(result.ok).toBe(true);
    decisions.length = 0;
  };

  const expectUnavailable = (results: AuthResult[]) => {
    for (const result of results) {
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.response.status).toBe(503);
      expect(result.response.headers['retry-after']).toBe('1');
      expect(JSON.parse(result.response.body)).toEqual({
        error: { code: 'ERR_STORE_UNAVAILABLE', message: 'API keys cannot be checked right now. Retry shortly.' },
      });
    }
    const reasons = new Set(decisions.splice(0).map((decision) => decision.reason));
    expect([...reasons]).toEqual(['store_error']);
  };

  it('authenticates through the proxy while the database is up', async () => {
    expect((await call()).ok).toBe(true);
    decisions.length = 0;
  });

  it('answers 503 with Retry-After, never a pass, while the database is down', async () => {
    proxy.set('down');
    // The idle connection the pool held is cut: pg.Pool emits 'error', which would crash a
    // process without a listener; the store's own listener logs it instead.
    await vi.waitFor(() => {
      expect(warnings).toContainEqual(expect.objectContaining({ event: 'keyward.postgres_pool_error' }));
    });
    expectUnavailable(await burst(10));
  });

  it('answers 503 within the store bounds, never a pass, while the database hangs', async () => {
    proxy.set('up');
    await passesAgain();

    proxy.set('hung');
    const results = await burst(6);
    const details = decisions.map((decision) => decision.detail ?? '');
    expectUnavailable(results);
    // Each request ended on the statement bound (a connection it had) or on the connection
    // bound (waiting for one), never on the authenticator's far larger timer.
    for (const detail of details) expect(detail).toMatch(/timeout/i);
  });

  it('serves 200s again once the database is back, with the same authenticator and pool', async () => {
    proxy.set('up');
    await passesAgain();
    const after = await burst(10);
    expect(after.every((result) => result.ok)).toBe(true);
  });
});
