// A CommonJS app: its imports resolve to the "require" declarations (dist/*.d.cts), so every
// entry point's CommonJS types are checked too (see esm-app.mts for the usage).
import type { IncomingMessage } from 'node:http';
import express = require('express');
import { createApiKeyAuth, MemoryKeyStore, NodeCredentialRequest, type AuthResult } from 'keyward';
import { expressApiKeyAuth } from 'keyward/express';
import { fastifyApiKeyAuthHook } from 'keyward/fastify';
import { koaApiKeyAuth } from 'keyward/koa';
import { PostgresKeyStore } from 'keyward/postgres';
import { runStoreConformance } from 'keyward/store-conformance';

const auth = createApiKeyAuth({ store: new MemoryKeyStore() });
export const middleware = [expressApiKeyAuth(auth), koaApiKeyAuth(auth), fastifyApiKeyAuthHook(auth)];
export const stores = [PostgresKeyStore, runStoreConformance];
// The CommonJS declarations leave a path parameter to Express too (a string).
express().get('/v1/accounts/:accountId', expressApiKeyAuth(auth), (req, res) => {
  const accountId: string = req.params.accountId;
  res.json({ accountId });
});
export function decide(req: IncomingMessage): AuthResult | Promise<AuthResult> {
  return auth.decide(new NodeCredentialRequest(req, req.url));
}
