/**
 * The developer-portal example: `npm run portal`.
 *
 * Serves the API-keys page on http://127.0.0.1:$PORT (default 3001) and the demo SMS gateway
 * on $GATEWAY_PORT (default PORT + 1), both over one in-memory key store. Demo only: there is
 * no login, and every visitor acts as the account `acct_portal_demo`.
 */
import { startPortal } from './portal.js';

const port = portFrom('PORT', process.env.PORT, 3001);
const gatewayPort = portFrom('GATEWAY_PORT', process.env.GATEWAY_PORT, port === 0 || port === 65_535 ? 0 : port + 1);

const portal = await startPortal({ port, gatewayPort }).catch((error: unknown) => {
  // A port in use is the usual cause: one line, not a stack trace.
  const { code, message } = error as { code?: string; message?: string };
  console.error(`keyward portal could not start: ${code === 'EADDRINUSE' ? `${message} (set PORT or GATEWAY_PORT)` : String(message ?? error)}`);
  process.exit(2);
});
// Before the first line is printed: writes to a pipe are synchronous, so whoever reads the
// pid from it may send SIGTERM before the next statement runs.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void shutdown(signal));

// The pid, as the demo prints it: `npm run` and tsx are parents, and npm does not pass SIGTERM on.
console.log(`keyward portal (demo account, no login): ${portal.portalUrl}  pid ${process.pid} (kill -TERM ${process.pid} stops it)`);
console.log(`keyward demo gateway:                    ${portal.gatewayUrl}  (POST /v1/sms, GET /v1/whoami)`);

async function shutdown(signal: string): Promise<void> {
  console.log(`${signal} received, shutting down`);
  await portal.close();
  process.exit(0);
}

function portFrom(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`${name} must be a port number from 0 to 65535`);
    process.exit(2);
  }
  return port;
}
