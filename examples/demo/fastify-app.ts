import type { Server } from 'node:http';
import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ApiKeyAuth } from 'keyward';
import { fastifyApiKeyAuth } from 'keyward/fastify';
import {
  acceptSms,
  answerHeaders,
  assertUtf8Body,
  bodyErrorReply,
  health,
  MAX_REQUEST_BODY_BYTES,
  notFound,
  parseJsonBody,
  unreadableBody,
  unreadableCoding,
  whoami,
  type DemoReply,
} from './sms.js';

/** The demo gateway's routes on Fastify: the same answers as the Express demo. */
export function createFastifyDemo(auth: ApiKeyAuth): FastifyInstance {
  // Express matches paths in any letter case and with a trailing slash; so does this demo.
  // Every answer: see answerHeaders.
  const answer = (request: FastifyRequest, reply: FastifyReply, demoReply: DemoReply) =>
    reply.headers(answerHeaders(request.raw)).code(demoReply.status).send(demoReply.body);
  const app = fastify({
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
    // Also the limit of the body an unknown route's 404 reads (its context keeps Fastify's
    // default of 1 MiB otherwise, whatever the JSON parser below says).
    bodyLimit: MAX_REQUEST_BODY_BYTES,
    // A path Fastify cannot decode (`%ZZ`) is a route that does not exist, as on Express and
    // Koa; Fastify's own 400 would quote the whole URL back, an api_key in its query too. The
    // other framework errors (a route constraint, a path parameter's length) cannot happen on
    // these routes, which have neither: one would be a fault of the demo's.
    frameworkErrors: (error, request, reply) => answer(request, reply, error.code === 'FST_ERR_BAD_URL' ? notFound() : unreadableBody(undefined)),
  });

  // The body rules of express.json(): JSON bodies only, others are left unread.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MAX_REQUEST_BODY_BYTES }, (_request, bytes, done) => {
    try {
      assertUtf8Body(bytes as Buffer);
    } catch (refusal) {
      return done(refusal as Error, undefined);
    }
    const parsed = parseJsonBody((bytes as Buffer).toString('utf8'));
    if (parsed.ok) done(null, parsed.value);
    else done(Object.assign(new Error('request body is not JSON'), { statusCode: 400 }), undefined);
  });
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  app.setNotFoundHandler((request, reply) => answer(request, reply, notFound()));
  // A body that is not JSON, or too large, is the client's mistake, not a server fault.
  app.setErrorHandler((error, request, reply) => answer(request, reply, bodyErrorReply(error)));

  app.get('/healthz', (request, reply) => answer(request, reply, health()));

  // The plugin authenticates in onRequest, before the body is read: a refused request costs
  // no body parse. Each context below holds the routes of one key requirement.
  app.register(async (sms) => {
    await sms.register(fastifyApiKeyAuth, { auth, keyType: 'sms_api' });
    // Checked before the body is parsed, as the Express and Koa demos do.
    sms.post('/v1/sms', {
      preParsing: (request, reply, payload, done) => {
        const refusal = unreadableCoding(request.headers);
        if (refusal) return void answer(request, reply, refusal);
        done(null, payload);
      },
    }, (request, reply) => answer(request, reply, acceptSms(request.body, request.apiKey!)));
  });
  app.register(async (api) => {
    await api.register(fastifyApiKeyAuth, { auth });
    api.get('/v1/whoami', (request, reply) => answer(request, reply, whoami(request.apiKey!)));
  });
  return app;
}

/** Starts the Fastify demo on host:port. */
export async function listenFastifyDemo(auth: ApiKeyAuth, port: number, host: string): Promise<Server> {
  const app = createFastifyDemo(auth);
  await app.listen({ port, host });
  return app.server;
}
