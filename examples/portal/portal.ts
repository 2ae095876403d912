import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore } from 'keyward';
import { createDecisionLog } from '../demo/decision-log.js';
import { listenExpressDemo } from '../demo/express-app.js';
import type { PortalAccount } from './api.js';
import { createPortalApp } from './app.js';
import { answerClientError, refuseConnect, refuseExpectation } from './site-errors.js';

/** The one merchant of the demo. There is no login: whoever opens the page acts as it. */
export const DEMO_ACCOUNT: PortalAccount = Object.freeze({
  accountId: 'acct_portal_demo',
  environment: 'sandbox',
});

/** Options of {@link startPortal}. */
export interface StartPortalOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** Port of the page and its API; 0 picks a free one. @default 3001 */
  port?: number;
  /** Port of the demo gateway; 0 picks a free one. @default port + 1, or 0 when port is 0 */
  gatewayPort?: number;
  /** How often the gateway writes "Last used". @default 1000 */
  usageFlushIntervalMs?: number;
  /** Where log lines go. @default console.log */
  log?: (line: string) => void;
}

/** A running portal and gateway. */
export interface RunningPortal {
  portalUrl: string;
  gatewayUrl: string;
  /** Stops both servers and flushes pending usage. */
  close(): Promise<void>;
}

/**
 * Starts the portal page and the demo gateway in one process, over one `MemoryKeyStore`: a
 * key generated in the page authenticates at the gateway at once, and a regenerate kills the
 * old key there at once. They listen on two ports, as a portal backend and a gateway would be
 * two services that share a database.
 *
 * @param options - see {@link StartPortalOptions}.
 * @returns the URLs and `close`.
 * @example
 * ```ts
 * const portal = await startPortal({ port: 0 });
 * console.log(portal.portalUrl, portal.gatewayUrl);
 * await portal.close();
 * ```
 */
export async function startPortal(options: StartPortalOptions = {}): Promise<RunningPortal> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 3001;
  const gatewayPort = options.gatewayPort ?? (port === 0 ? 0 : port + 1);
  const usageFlushIntervalMs = options.usageFlushIntervalMs ?? 1_000;
  const log = options.log ?? console.log;

  const store = new MemoryKeyStore();
  // Demo only: a fresh sealing key per start. A real portal loads its keys from a secrets
  // manager, or the saved passwords cannot be opened after a restart.
  const manager = createKeyManager({ store, webhookKeys: { current: 'demo', keys: { demo: randomBytes(32) } } });
  const auth = createApiKeyAuth({
    store,
    environments: [DEMO_ACCOUNT.environment],
    usageFlushIntervalMs,
    // The demo gateway's log, at most ten lines of a kind per second, each line prefixed.
    onDecision: createDecisionLog((line) => log(`gateway ${line}`)),
  });

  const gateway = await listenExpressDemo(auth, gatewayPort, host);
  if (gateway.address() === null) {
    // Express 5 hands a failed listen (say, port in use) to the callback instead of throwing.
    await auth.close();
    throw new Error(`the demo gateway could not listen on ${host}:${gatewayPort} (port in use?)`);
  }
  const gatewayUrl = urlOf(gateway, host);
  const app = createPortalApp({ manager, account: DEMO_ACCOUNT, gatewayUrl, usageFlushIntervalMs }, log);
  const portal = await listen(app, port, host).catch(async (error: unknown) => {
    await stop(gateway);
    await auth.close();
    throw error;
  });
  // What Node refuses before the app sees it gets the portal's headers too: what its parser
  // refuses, a CONNECT, an Expect it does not meet.
  portal.on('clientError', answerClientError);
  portal.on('connect', refuseConnect);
  portal.on('checkExpectation', refuseExpectation);

  return {
    portalUrl: `${urlOf(portal, host)}/`,
    gatewayUrl,
    async close() {
      await Promise.all([stop(portal), stop(gateway)]);
      await auth.close();
    },
  };
}

/**
 * Starts the portal's server. `requireHostHeader: false` lets a request without `Host` reach
 * the app, whose Host check refuses it with the portal's headers, instead of Node's bare 400.
 */
function listen(app: RequestListener, port: number, host: string): Promise<Server> {
  const server = createServer({ requireHostHeader: false }, app);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

function stop(server: Server): Promise<void> {
  server.closeIdleConnections();
  // A client that never finishes its request would hold close() past a usual grace period.
  const deadline = setTimeout(() => server.closeAllConnections(), 10_000).unref();
  return new Promise((resolve) =>
    server.close(() => {
      clearTimeout(deadline);
      resolve();
    }),
  );
}

function urlOf(server: Server, host: string): string {
  const { port } = server.address() as AddressInfo;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
