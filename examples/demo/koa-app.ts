import { createServer, type Server } from 'node:http';
import Koa, { type Context, type Middleware } from 'koa';
import type { ApiKeyAuth } from 'keyward';
import { koaApiKeyAuth } from 'keyward/koa';
import {
  acceptSms,
  answerHeaders,
  assertUtf8Body,
  bodyErrorReply,
  declareEmptyBody,
  health,
  MAX_REQUEST_BODY_BYTES,
  notFound,
  parseJsonBody,
  unreadableCoding,
  whoami,
  type DemoReply,
} from './sms.js';

/** The demo gateway's routes on Koa: the same answers as the Express demo. */
export function createKoaDemo(auth: ApiKeyAuth): Koa {
  const app = new Koa();
  // Koa prints the stack of every error it is told of, and a client that resets its connection
  // is one: a flood of resets would flood the terminal. Its listener is replaced.
  app.on('error', createErrorLog(console.error));
  // Every answer: see answerHeaders.
  const answer = (ctx: Context, reply: DemoReply) => {
    ctx.set(answerHeaders(ctx.req));
    ctx.status = reply.status;
    ctx.body = reply.body;
  };

  // A body that is not JSON, or too large, is the client's mistake, not a server fault.
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      answer(ctx, bodyErrorReply(error));
    }
  });

  // Authentication runs before the body is read: a refused request costs no body parse.
  const routes: Record<string, Middleware[]> = {
    'GET /healthz': [(ctx) => answer(ctx, health())],
    'POST /v1/sms': [
      koaApiKeyAuth(auth, { keyType: 'sms_api' }),
      async (ctx) => answer(ctx, unreadableCoding(ctx.req.headers) ?? acceptSms(await readJson(ctx), ctx.state.apiKey!)),
    ],
    'GET /v1/whoami': [koaApiKeyAuth(auth), (ctx) => answer(ctx, whoami(ctx.state.apiKey!))],
  };

  app.use(async (ctx) => {
    const chain = routes[routeKey(ctx)];
    if (!chain) return answer(ctx, notFound());
    const run = async (index: number): Promise<void> => {
      await chain[index]?.(ctx, () => run(index + 1));
    };
    await run(0);
  });
  return app;
}

/** Method and path as Express matches them: HEAD as GET, any letter case, a trailing slash. */
function routeKey(ctx: Context): string {
  const method = ctx.method === 'HEAD' ? 'GET' : ctx.method;
  const path = ctx.path.length > 1 ? ctx.path.replace(/\/$/, '') : ctx.path;
  return `${method} ${path.toLowerCase()}`;
}

/**
 * Reads a JSON body as `express.json()` does: only with a JSON content type (otherwise
 * `undefined`), at most {@link MAX_REQUEST_BODY_BYTES}, UTF-8.
 *
 * @throws an error with `status` 413 (too large) or 400 (not JSON), for the error middleware.
 */
async function readJson(ctx: Context): Promise<unknown> {
  declareEmptyBody(ctx.req.headers);
  if (!ctx.request.is('application/json')) return undefined;
  const tooLarge = () => Object.assign(new Error('request body too large'), { status: 413 });
  if (Number(ctx.get('content-length')) > MAX_REQUEST_BODY_BYTES) throw tooLarge();

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BODY_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  const bytes = Buffer.concat(chunks);
  assertUtf8Body(bytes);
  const parsed = parseJsonBody(bytes.toString('utf8'));
  if (!parsed.ok) throw Object.assign(new Error('request body is not JSON'), { status: 400 });
  return parsed.value;
}

/** Starts the Koa demo on host:port. */
export function listenKoaDemo(auth: ApiKeyAuth, port: number, host: string): Promise<Server> {
  const server = createServer(createKoaDemo(auth).callback());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** Errors of a client that went away mid-answer: no fault of the demo's. */
const CLIENT_GONE: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/**
 * The demo's Koa `error` listener: a client that went away (a reset, a body cut short, bytes
 * Node's parser refused) is no server fault and is not written; any other error is written as
 * one line, at most once a second.
 *
 * @param write - where a line goes (`console.error` in the demo).
 * @param now - the clock, in milliseconds.
 */
export function createErrorLog(write: (line: string) => void, now: () => number = Date.now): (error: unknown) => void {
  let writtenAt = -Infinity;
  return (error) => {
    const { code, expose, message } = (error ?? {}) as { code?: unknown; expose?: unknown; message?: unknown };
    if (expose === true || (typeof code === 'string' && (CLIENT_GONE.has(code) || code.startsWith('HPE_')))) return;
    const at = now();
    if (at - writtenAt < 1_000) return;
    writtenAt = at;
    write(`koa error: ${typeof message === 'string' ? message : String(error)}`);
  };
}
