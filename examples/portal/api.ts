import { isUtf8 } from 'node:buffer';
import express from 'express';
import type { Environment, KeyManager } from 'keyward';
import { portalErrorHandler, PortalRequestError, sendError } from './api-errors.js';
import { cardJson, issuedJson } from './card-json.js';
import { closeAfterLargeUnreadBody, sameOriginWrites } from './request-guards.js';
import { webhookInput } from './webhook-input.js';

/** The merchant the page acts for. The demo has one fixed account and no login. */
export interface PortalAccount {
  accountId: string;
  environment: Environment;
}

/** Options of {@link createPortalApi}. */
export interface PortalApiOptions {
  /** keyward's key manager over the store the gateway reads. */
  manager: KeyManager;
  account: PortalAccount;
  /** Where the gateway listens, shown in the page's "try it" line. */
  gatewayUrl: string;
  /** The authenticator's flush interval: how far "Last used" may trail a call. */
  usageFlushIntervalMs: number;
}

/**
 * The portal's JSON API, mounted at `/portal/api`:
 *
 * - `GET /session`: the demo account, the gateway URL and the "Last used" lag.
 * - `GET /key`: `{ card }`, or `{ card: null }` for the empty state.
 * - `POST /key`: generates the key; 201 `{ key, card }` is the only time the cleartext is sent.
 * - `POST /key/regenerate`: rotates it; 200 `{ key, card }`, the old key is dead on return.
 * - `PUT /webhook`: saves the webhook form; 200 `{ card }`, never the password.
 * - `DELETE /webhook`: turns webhooks off; 200 `{ card }`.
 *
 * Errors use keyward's `{"error":{"code","message"}}` shape. Every answer is `no-store`, so
 * no cache keeps a cleartext. Writes must pass {@link sameOriginWrites}.
 *
 * @param options - see {@link PortalApiOptions}.
 * @param log - one line per lifecycle action, with the key id; never a key or a password.
 * @returns an Express router.
 * @example
 * ```ts
 * app.use('/portal/api', createPortalApi({ manager, account, gatewayUrl, usageFlushIntervalMs: 1000 }, console.log));
 * ```
 */
export function createPortalApi(options: PortalApiOptions, log: (line: string) => void): express.Router {
  const { manager, account } = options;
  const api = express.Router();

  // Also here, not only app-wide: an app that mounts this router alone keeps the rule.
  api.use(closeAfterLargeUnreadBody());
  api.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  // On each write route rather than router-wide, so the request log names the route a
  // refused write aimed at.
  const sameOrigin = sameOriginWrites();

  api.get('/session', (_req, res) => {
    res.json({
      account_id: account.accountId,
      environment: account.environment,
      demo: true,
      gateway_url: options.gatewayUrl,
      usage_flush_interval_ms: options.usageFlushIntervalMs,
    });
  });

  api.get('/key', async (_req, res) => {
    const card = await manager.describeAccount(account.accountId, account.environment);
    res.json({ card: card ? cardJson(card) : null });
  });

  api.post('/key', sameOrigin, async (_req, res) => {
    const issued = await manager.issue({ accountId: account.accountId, environment: account.environment });
    log(`portal key issued id=${issued.card.keyId}`);
    res.status(201).json(issuedJson(issued));
  });

  /** The account's key id, or a 404 answer when it has no key yet. */
  const liveKeyId = async (res: express.Response): Promise<string | undefined> => {
    const card = await manager.describeAccount(account.accountId, account.environment);
    if (!card) sendError(res, 404, 'ERR_KEY_NOT_FOUND', 'This account has no key yet; generate one first.');
    return card?.keyId;
  };

  api.post('/key/regenerate', sameOrigin, async (_req, res) => {
    const keyId = await liveKeyId(res);
    if (keyId === undefined) return;

    const issued = await manager.regenerate(keyId);
    log(`portal key regenerated id=${keyId}`);
    res.json(issuedJson(issued));
  });

  // The password arrives here once and is sealed by keyward; no answer ever carries it.
  api.put('/webhook', sameOrigin, refuseUnboundedOrLargeBody, express.json({ limit: MAX_BODY_BYTES, verify: refuseMalformedUtf8 }), async (req, res) => {
    const input = webhookInput(req.body);
    const keyId = await liveKeyId(res);
    if (keyId === undefined) return;

    const card = await manager.setWebhook(keyId, input);
    const password = input.password === undefined ? 'kept' : input.password === null ? 'removed' : 'set';
    log(`portal webhook saved id=${keyId} password=${password}`);
    res.json({ card: cardJson(card) });
  });

  api.delete('/webhook', sameOrigin, async (_req, res) => {
    const keyId = await liveKeyId(res);
    if (keyId === undefined) return;

    const card = await manager.clearWebhook(keyId);
    log(`portal webhook cleared id=${keyId}`);
    res.json({ card: cardJson(card) });
  });

  api.use((_req, res) => sendError(res, 404, 'ERR_NOT_FOUND', 'No such portal API route.'));
  api.use(portalErrorHandler(log));
  return api;
}

// The webhook form's body: a URL of at most 2,048 characters and two short credentials.
const MAX_BODY_BYTES = 8 * 1024;

/**
 * Refuses at once, closing the connection, a body the JSON parser would refuse only after
 * reading all of it: one declared over the limit (413), or one of no declared length (411, a
 * chunked body: the parser stops at the limit, then reads the rest to the end, however long,
 * before it answers). The page always sends a `Content-Length`.
 */
const refuseUnboundedOrLargeBody: express.RequestHandler = (req, res, next) => {
  // closeAfterLargeUnreadBody has already set `Connection: close` for a chunked body, and for
  // one declared over 64 KiB; one of 8 to 64 KiB would still be read and thrown away.
  if (req.headers['transfer-encoding'] !== undefined) {
    return sendError(res, 411, 'ERR_INVALID_REQUEST', 'The request body must have a Content-Length.');
  }
  if (Number(req.headers['content-length']) > MAX_BODY_BYTES) {
    res.set('Connection', 'close');
    return sendError(res, 413, 'ERR_INVALID_REQUEST', 'The request body is too large.');
  }
  next();
};

/**
 * Refuses a body that is not UTF-8, by its declared charset or by its bytes. Decoding would
 * replace each bad byte with U+FFFD, and keyward, which sees only the decoded text, would
 * store a URL, a username or a password other than the one sent, without a word.
 */
function refuseMalformedUtf8(_req: unknown, _res: unknown, body: Buffer, charset: string): void {
  // The JSON parser also decodes a body declared UTF-16 or UTF-32.
  if (charset !== 'utf-8' || !isUtf8(body)) throw new PortalRequestError('The request body must be UTF-8 text.');
}
