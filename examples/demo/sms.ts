import { randomUUID } from 'node:crypto';
import type { ApiKeyContext } from 'keyward';

/** A framework-free answer: each demo app writes it with its own response API. */
export interface DemoReply {
  status: number;
  body: unknown;
}

const MAX_BODY_LENGTH = 1_600;

/**
 * `POST /v1/sms`: accepts `{ "to", "body" }` and pretends to queue the message.
 *
 * @param payload - the parsed JSON body.
 * @param apiKey - the authenticated key's context.
 */
export function acceptSms(payload: unknown, apiKey: ApiKeyContext): DemoReply {
  const { to, body } = (payload ?? {}) as { to?: unknown; body?: unknown };
  if (typeof to !== 'string' || !/^\+?[0-9]{6,15}$/.test(to)) {
    return invalidRequest('"to" must be a phone number such as +15550100.');
  }
  if (typeof body !== 'string' || body.length === 0 || body.length > MAX_BODY_LENGTH) {
    return invalidRequest(`"body" must be a non-empty string of at most ${MAX_BODY_LENGTH} characters.`);
  }
  return {
    status: 202,
    body: { id: `msg_${randomUUID().replaceAll('-', '')}`, status: 'queued', to, environment: apiKey.environment },
  };
}

/** `GET /v1/whoami`: the key context, nothing secret. */
export function whoami(apiKey: ApiKeyContext): DemoReply {
  return { status: 200, body: { apiKey } };
}

/** `GET /healthz`: unauthenticated liveness. */
export function health(): DemoReply {
  return { status: 200, body: { status: 'ok' } };
}

function invalidRequest(message: string): DemoReply {
  return { status: 400, body: { error: { code: 'ERR_INVALID_REQUEST', message } } };
}
