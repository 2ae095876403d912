import { ApiKeyAuthError, warnOnce } from 'keyward';

/**
 * Whether a hook was called in a phase after the route handler, where the handler has already
 * run, unauthenticated: `preSerialization` or `onSend`, which pass a payload before `done`
 * (as `preParsing` does, but only `preParsing`'s is a stream), or `onResponse`, which passes
 * what `onRequest` passes but comes once the reply has been sent.
 *
 * @param reply - the hook's reply (avvio's options object when the hook is wrongly registered
 *   as a plugin, which has no `sent`).
 * @param third - the hook's third argument (`done`, or the payload).
 * @param fourth - its fourth argument (`done` after a payload, or nothing).
 */
export function ranAfterHandler(reply: unknown, third: unknown, fourth: unknown): boolean {
  return (typeof fourth === 'function' && !isStream(third)) || (reply as { sent?: unknown } | undefined)?.sent === true;
}

/**
 * The error of a hook that ran after the route handler. Its message is also emitted once as a
 * process warning, code `KEYWARD_MISPLACED_HOOK`: in `onResponse` the error reaches only
 * Fastify's log, which is off by default, and the route stays open without a word.
 */
export function misplacedHook(factory: string): ApiKeyAuthError {
  const error = new ApiKeyAuthError(
    'ERR_OPTIONS_INVALID',
    `${factory}: the hook ran after the route handler (preSerialization, onSend or onResponse); authenticate in onRequest, preParsing, preValidation or preHandler.`,
  );
  warnOnce('KEYWARD_MISPLACED_HOOK', error.message);
  return error;
}

function isStream(payload: unknown): boolean {
  return typeof (payload as { pipe?: unknown } | null)?.pipe === 'function';
}
