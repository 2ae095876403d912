import { createServer, type Server } from 'node:http';
import express from 'express';
import type { ApiKeyAuth } from 'keyward';
import { expressApiKeyAuth } from 'keyward/express';
import { acceptSms, answerHeaders, assertUtf8Body, bodyErrorReply, declareEmptyBody, health, MAX_REQUEST_BODY_BYTES, notFound, unreadableBody, unreadableCoding, whoami, type DemoReply } from './sms.js';

/** The demo gateway's routes on Express. */
export function createExpressDemo(auth: ApiKeyAuth): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // No ETag: the Koa and Fastify demos send none, and the three must answer alike.
  app.disable('etag');
  // Every answer: see answerHeaders.
  const answer = (req: express.Request, res: express.Response, reply: DemoReply) => {
    res.set(answerHeaders(req)).status(reply.status).json(reply.body);
  };

  app.get('/healthz', (req, res) => answer(req, res, health()));

  // Authentication runs before the JSON parser: a refused request costs no body parse.
  app.post(
    '/v1/sms',
    expressApiKeyAuth(auth, { keyType: 'sms_api' }),
    (req, res, next) => {
      const refusal = unreadableCoding(req.headers);
      if (refusal) answer(req, res, refusal);
      // express.json() would wait for the whole of a body declared too large before its 413.
      else if (req.is('application/json') && Number(req.headers['content-length']) > MAX_REQUEST_BODY_BYTES) answer(req, res, unreadableBody(413));
      else {
        declareEmptyBody(req.headers);
        next();
      }
    },
    express.json({ limit: MAX_REQUEST_BODY_BYTES, verify: (_req, _res, bytes, charset) => assertUtf8Body(bytes, charset) }),
    (req, res) => answer(req, res, acceptSms(req.body, req.apiKey!)),
  );
  app.get('/v1/whoami', expressApiKeyAuth(auth), (req, res) => answer(req, res, whoami(req.apiKey!)));

  app.use((req, res) => answer(req, res, notFound()));
  // A body that is not JSON, or too large, is the client's mistake, not a server fault.
  app.use((error: unknown, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    answer(req, res, bodyErrorReply(error));
  });
  return app;
}

/** Starts the Express demo on host:port. */
export function listenExpressDemo(auth: ApiKeyAuth, port: number, host: string): Promise<Server> {
  const app = createExpressDemo(auth);
  // Not app.listen(): Express 5 hands a listen error to the callback, which would report a
  // busy port as a successful start.
  const server = createServer(app);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
