/**
 * A client that resets its connection right after sending leaves Node no address to read
 * (`req.ip`, `ctx.ip`, `request.ip` and `remoteAddress` all come back empty). Such clients
 * must still meet a per-client limit: before, they met only each lookup id's, so one address
 * got that many Argon2 runs for every live lookup id it knew.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore, type ApiKeyAuth } from 'keyward';
import { TEST_ARGON2 } from '../fixtures/argon2-vectors.js';
import { forgeSecret } from '../helpers/keys.js';
import { ADAPTERS, type RunningApp } from './apps.js';

/** Sends the requests pipelined on one connection, then resets it without reading a byte. */
function sendThenReset(url: string, keys: string[]): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      const requests = keys.map((key) => `GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n\r\n`).join('');
      socket.write(requests, () => socket.resetAndDestroy());
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
}

describe.each(ADAPTERS)('$name: clients that reset their connection to hide their address', (adapter) => {
  let app: RunningApp | undefined;
  let auth: ApiKeyAuth | undefined;
  afterEach(async () => {
    await app?.close();
    await auth?.close();
  });

  it('share one per-client limit: forgeries spread over many lookup ids cost no more Argon2 runs than it allows', async () => {
    const store = new MemoryKeyStore();
    const manager = createKeyManager({ store, argon2: TEST_ARGON2 });
    const keys: string[] = [];
    for (let n = 0; n < 6; n++) keys.push((await manager.issue({ accountId: `acct_${n}`, environment: 'sandbox' })).key);
    let argon2Failures = 0;
    auth = createApiKeyAuth({
      store,
      environments: ['sandbox'],
      argon2Pool: false,
      throttle: { maxFailuresPerKey: 3, maxFailuresPerClient: 5 },
      onDecision: (decision) => void (decision.reason === 'secret_mismatch' && argon2Failures++),
    });
    app = await adapter.start(auth);

    // Three forgeries for each of six lookup ids: 18 Argon2 runs if only the per-key limit held.
    for (let round = 0; round < 3; round++) {
      await sendThenReset(app.url, keys.map((key) => forgeSecret(key, 'QRSTUVWXYZ'[round]!)));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    expect(argon2Failures).toBeLessThanOrEqual(5);
  });
});
