/**
 * The demo SMS gateway: `npm run demo [-- --framework express|koa|fastify]`.
 *
 * Serves `POST /v1/sms`, `GET /v1/whoami` and `GET /healthz` on 127.0.0.1:$PORT (default
 * 3000), backed by a MemoryKeyStore (or PostgreSQL when DATABASE_URL is set) holding one
 * sandbox key per status, printed at start.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiKeyAuth, createKeyManager, type ApiKeyAuth } from 'keyward';
import { createDecisionLog } from './decision-log.js';
import { openDemoStore } from './demo-store.js';
import { listenExpressDemo } from './express-app.js';
import { listenFastifyDemo } from './fastify-app.js';
import { listenKoaDemo } from './koa-app.js';
import { seedDemoKeys } from './seed-keys.js';

/** Each framework's demo: the same routes, started on host:port. */
const DEMO_APPS = {
  express: listenExpressDemo,
  koa: listenKoaDemo,
  fastify: listenFastifyDemo,
} satisfies Record<string, (auth: ApiKeyAuth, port: number, host: string) => Promise<Server>>;
type Framework = keyof typeof DEMO_APPS;
const FRAMEWORKS = Object.keys(DEMO_APPS) as Framework[];

const host = '127.0.0.1';
const port = portFromEnv(process.env.PORT);
const framework = frameworkFromArgs(process.argv.slice(2));

const { store, close: closeStore } = await openDemoStore().catch((error: unknown) => {
  // No server there, no such database, a refused login: one line, as for a port in use.
  const reason = error instanceof Error ? error.message : String(error);
  console.error(`cannot open the PostgreSQL store at DATABASE_URL (${reason}): point it at a database you can reach, or unset it for the memory store`);
  process.exit(2);
});
const manager = createKeyManager({ store });
const auth = createApiKeyAuth({
  store,
  environments: ['sandbox', 'production'],
  usageFlushIntervalMs: 1_000,
  onDecision: createDecisionLog((line) => console.log(line)),
});

const keys = await seedDemoKeys(manager);
const server = await DEMO_APPS[framework](auth, port, host).catch((error: NodeJS.ErrnoException) => {
  if (error.code !== 'EADDRINUSE') throw error;
  console.error(`port ${port} is in use: set PORT to a free one (PORT=0 takes any)`);
  process.exit(2);
});
// The port listened on, which PORT=0 leaves to the system.
const base = `http://${host}:${(server.address() as AddressInfo).port}`;

const SHUTDOWN_DEADLINE_MS = 10_000;
// Before the first line is printed: writes to a pipe are synchronous, so whoever reads the
// pid from it may send SIGTERM before the next statement runs.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void shutdown(signal));

const storeName = process.env.DATABASE_URL ? 'PostgreSQL' : 'memory';
// The pid lets one demo of several be stopped: tsx, its parent, exits with it.
console.log(`keyward demo gateway (${framework}, ${storeName} store) listening on ${base}, pid ${process.pid} (kill -TERM ${process.pid} stops it)`);
for (const { label, key } of keys) console.log(`demo key ${label}: ${key}`);
const allowed = keys.find((entry) => entry.label === 'allowed')!.key;
// The command on a line of its own, so the whole line can be pasted.
console.log('try it:');
console.log(
  `curl -i -X POST ${base}/v1/sms -H 'Authorization: Bearer ${allowed}' ` +
    `-H 'Content-Type: application/json' -d '{"to":"+15550100","body":"hello"}'`,
);

async function shutdown(signal: string): Promise<void> {
  console.log(`${signal} received, shutting down`);
  server.closeIdleConnections();
  // A client that never finishes its request would hold close() past a usual grace period.
  const deadline = setTimeout(() => server.closeAllConnections(), SHUTDOWN_DEADLINE_MS).unref();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  clearTimeout(deadline);
  await auth.close();
  await closeStore();
  process.exit(0);
}

/**
 * `--framework koa` or `--framework=koa`; Express without one. Anything else ends the demo
 * with a usage line rather than quietly serving Express.
 */
function frameworkFromArgs(args: string[]): Framework {
  let value: string | undefined = 'express';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--framework') value = args[++i];
    else if (arg.startsWith('--framework=')) value = arg.slice('--framework='.length);
    else usage(`unknown argument ${JSON.stringify(arg)}`);
  }
  if (!FRAMEWORKS.includes(value as Framework)) usage(`--framework must be one of ${FRAMEWORKS.join(', ')}`);
  return value as Framework;
}

/** PORT as a TCP port (0 for any free one), 3000 when unset. */
function portFromEnv(text: string | undefined): number {
  if (text === undefined || text === '') return 3000;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) usage(`PORT must be a whole number from 0 to 65535, not ${JSON.stringify(text)}`);
  return port;
}

function usage(problem: string): never {
  console.error(`${problem}\nusage: npm run demo [-- --framework express|koa|fastify]   (PORT=3000 by default)`);
  process.exit(2);
}
