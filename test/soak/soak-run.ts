/**
 * The soak run, started by test/soak.test.ts in its own process (`node --expose-gc --import
 * tsx`) so that it can force garbage collection and read the process's handles undisturbed.
 * It sends ten thousand mixed requests across every adapter and prints one JSON line with what
 * the test asserts on. It prints nothing else, and never a key.
 */
import { Agent, request } from 'node:http';
import { checksumOf, createApiKeyAuth, createKeyManager, generateApiKey, KEY_STATUSES, MemoryKeyStore, type ApiKeyAuth } from 'keyward';
import { TEST_ARGON2 } from '../fixtures/argon2-vectors.js';
import { ADAPTERS, type RunningApp } from '../http/apps.js';
import { bearer } from '../helpers/keys.js';

const TOTAL = Number(process.env.SOAK_REQUESTS ?? 10_000);
// A first, smaller round warms every framework's and module's one-time caches, so that the
// heap is compared between two states that differ only by the measured round.
const WARMUP = 1_000;
const CONCURRENCY = 16;

interface Probe {
  category: string;
  app: 'main' | 'broken';
  method: string;
  path: string;
  headers: Record<string, string>;
  expected: number[];
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const unhandled: string[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(String(reason).slice(0, 80)));
process.on('uncaughtException', (error) => unhandled.push(`uncaught ${error.name}`));

const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const resources = () => process.getActiveResourcesInfo().filter((name) => name !== 'TTYWrap').sort();

/** Probes for one adapter: every status, valid, wrong, malformed, faults. */
async function probesFor(store: MemoryKeyStore): Promise<Probe[]> {
  const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
  const issue = async (label: string, input: object = {}) =>
    (await manager.issue({ accountId: `acct_${label}`, environment: 'sandbox', ...input })).key;
  const get = (category: string, headers: Record<string, string>, expected: number[]): Probe => ({ category, app: 'main', method: 'GET', path: '/v1/whoami', headers, expected });

  const valid = await issue('valid');
  const admin = await issue('admin', { keyType: 'admin_api' });
  const probes: Probe[] = [
    get('valid', bearer(valid), [200]),
    get('valid in X-API-Key', { 'x-api-key': valid }, [200]),
    { category: 'valid POST', app: 'main', method: 'POST', path: '/v1/sms', headers: bearer(valid), expected: [202] },
    { category: 'wrong key type', app: 'main', method: 'POST', path: '/v1/sms', headers: bearer(admin), expected: [403] },
    { category: 'health', app: 'main', method: 'GET', path: '/healthz', headers: {}, expected: [200] },
    get('missing', {}, [401]),
    get('scheme only', { authorization: 'Bearer' }, [401]),
    get('garbage', { authorization: 'Bearer not-a-key' }, [401]),
    get('overlong', { authorization: `Bearer ${'A'.repeat(600)}` }, [401]),
    get('two keys', { ...bearer(valid), 'x-api-key': admin }, [401]),
    get('unknown id', bearer(generateApiKey('sandbox').key), [401]),
    get('store down', bearer(valid), [503]),
  ];
  probes[probes.length - 1]!.app = 'broken';
  for (const status of KEY_STATUSES.filter((s) => s !== 'allowed')) {
    probes.push(get(`status ${status}`, bearer(await issue(status, { status })), [403]));
  }
  const deleted = await issue('deleted');
  const revoked = await issue('revoked');
  const rows = store.allRows();
  await manager.softDelete(rows.find((r) => r.account_id === 'acct_deleted')!.id);
  await manager.revoke(rows.find((r) => r.account_id === 'acct_revoked')!.id);
  probes.push(get('deleted', bearer(deleted), [401]), get('revoked', bearer(revoked), [401]));
  const corrupted = await issue('corrupted');
  const corruptedId = store.allRows().find((r) => r.account_id === 'acct_corrupted')!.id;
  await store.modify(corruptedId, () => ({ key_hash: '$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234' }));
  probes.push(get('corrupted hash', bearer(corrupted), [500]));
  for (let n = 0; n < 20; n++) {
    const head = valid.slice(0, 20) + String(n).padStart(32, 'W');
    // Past the throttle's limit of ten per lookup id, wrong keys not yet seen get 429.
    probes.push(get('wrong secret', bearer(head + checksumOf(head)), [401, 429]));
  }
  return probes;
}

function send(agent: Agent, baseUrl: string, probe: Probe): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(probe.path, baseUrl), { method: probe.method, headers: probe.headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

async function soak(total: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const targets: { probes: Probe[]; urls: Record<Probe['app'], string> }[] = [];
  const closers: (() => Promise<void>)[] = [];
  for (const adapter of ADAPTERS) {
    const store = new MemoryKeyStore();
    const probes = await probesFor(store);
    const auth: ApiKeyAuth = createApiKeyAuth({ store, storeTimeoutMs: 200 });
    const brokenStore = Object.assign(Object.create(store) as MemoryKeyStore, {
      findByLookupId: async () => {
        throw new Error('ECONNRESET');
      },
    });
    const broken = createApiKeyAuth({ store: brokenStore });
    const apps: RunningApp[] = [await adapter.start(auth), await adapter.start(broken)];
    targets.push({ probes, urls: { main: apps[0]!.url, broken: apps[1]!.url } });
    closers.push(async () => {
      await Promise.all(apps.map((app) => app.close()));
      await Promise.all([auth.close(), broken.close()]);
    });
  }

  const statusCounts: Record<string, number> = {};
  const mismatches: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const target = targets[i % targets.length]!;
      const probe = target.probes[Math.floor(i / targets.length) % target.probes.length]!;
      const status = await send(agent, target.urls[probe.app], probe);
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
      if (!probe.expected.includes(status) && mismatches.length < 10) mismatches.push(`${probe.category}: ${status}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  for (const close of closers) await close();
  agent.destroy();
  return { statusCounts, mismatches };
}

await soak(WARMUP);
await new Promise((resolve) => setTimeout(resolve, 100));
const resourcesBefore = resources();
const heapStart = heapAfterGc();
const result = await soak(TOTAL);
await new Promise((resolve) => setTimeout(resolve, 100));
const heapEnd = heapAfterGc();
const resourcesAfter = resources();

process.stdout.write(
  `${JSON.stringify({
    requests: Object.values(result.statusCounts).reduce((a, b) => a + b, 0),
    statusCounts: result.statusCounts,
    mismatches: result.mismatches,
    unhandled,
    resourcesBefore,
    resourcesAfter,
    heapStart,
    heapEnd,
  })}\n`,
);
