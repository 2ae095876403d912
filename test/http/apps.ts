import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express5 from 'express';
import express4 from 'express4';
import type { ApiKeyAuth, RouteOptions } from 'keyward';
import { expressApiKeyAuth } from 'keyward/express';

/** A running test app: its base URL, what its error handler saw, and how to stop it. */
export interface RunningApp {
  url: string;
  /** Errors that reached the framework's own error handling (with forwardErrors). */
  forwarded: unknown[];
  close(): Promise<void>;
}

/**
 * One framework under test. Every app serves the same routes:
 * - `GET /v1/whoami`: any live key; 200 `{ apiKey }`.
 * - `POST /v1/sms`: needs key type `sms_api`; 202 `{ apiKey }`.
 * - `GET /v1/admin`: needs key type `admin_api`; 200 `{ apiKey }`.
 * - `GET /healthz`: no key; 200.
 * With `forwardErrors`, refusals reach the app's error handler, which answers
 * `err.status` with `{ forwarded: code }` and copies `err.headers`.
 */
export interface AdapterUnderTest {
  name: string;
  start(auth: ApiKeyAuth, options?: Pick<RouteOptions, 'forwardErrors'>): Promise<RunningApp>;
}

type ExpressLike = typeof express5;

function expressAdapter(name: string, express: ExpressLike): AdapterUnderTest {
  return {
    name,
    async start(auth, options = {}) {
      const forwarded: unknown[] = [];
      const app = express();
      const route = (keyType?: string) => expressApiKeyAuth(auth, { ...options, ...(keyType ? { keyType } : {}) });
      app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
      app.get('/v1/whoami', route(), (req, res) => { res.json({ apiKey: req.apiKey }); });
      app.post('/v1/sms', route('sms_api'), (req, res) => { res.status(202).json({ apiKey: req.apiKey }); });
      app.get('/v1/admin', route('admin_api'), (req, res) => { res.json({ apiKey: req.apiKey }); });
      app.use((error: { status?: number; code?: string; headers?: Record<string, string> }, _req: express5.Request, res: express5.Response, _next: express5.NextFunction) => {
        forwarded.push(error);
        res.status(error.status ?? 500).set(error.headers ?? {}).json({ forwarded: error.code ?? 'unknown' });
      });
      return listen(app.listen(0, '127.0.0.1'), forwarded);
    },
  };
}

/** Resolves once the server listens, with its URL and a close that also drops keep-alives. */
export function listen(server: Server, forwarded: unknown[]): Promise<RunningApp> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        forwarded,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

export const express5Adapter = expressAdapter('express 5', express5);
export const express4Adapter = expressAdapter('express 4', express4 as unknown as ExpressLike);

/** Every adapter the conformance suites run against. */
export const ADAPTERS: readonly AdapterUnderTest[] = [express5Adapter, express4Adapter];
