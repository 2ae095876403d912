/**
 * With `forwardErrors`, the app's error handler writes the refusal. Many such handlers set only
 * a status and a body; the challenge and `Retry-After` must reach the client all the same, on
 * every framework (Koa's adapter set them before throwing; Express's and Fastify's did not).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createApiKeyAuth, generateApiKey, type ApiKeyAuth } from 'keyward';
import { send } from '../helpers/http-client.js';
import { InstrumentedStore } from '../helpers/stores.js';
import { ADAPTERS, type RunningApp } from './apps.js';

describe.each(ADAPTERS)('$name with forwardErrors and a handler that sets only status and body', (adapter) => {
  let app: RunningApp | undefined;
  let auth: ApiKeyAuth | undefined;
  afterEach(async () => {
    await app?.close();
    await auth?.close();
  });

  it('still sends the challenge with a 401 and Retry-After with a 503', async () => {
    const store = new InstrumentedStore();
    auth = createApiKeyAuth({ store });
    app = await adapter.start(auth, { forwardErrors: true, handlerCopiesHeaders: false });

    const missing = await send(app.url, '/v1/whoami');
    expect([missing.status, missing.headers['www-authenticate']]).toEqual([401, 'Bearer realm="api"']);

    store.failure = new Error('database down');
    const down = await send(app.url, '/v1/whoami', { headers: { authorization: `Bearer ${generateApiKey('production').key}` } });
    expect([down.status, down.headers['retry-after']]).toEqual([503, '1']);
  });
});
