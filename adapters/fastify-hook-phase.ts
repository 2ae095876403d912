import { ApiKeyAuthError } from 'keyward';

/**
 * Whether a hook was called in a phase after the route handler (`preSerialization` or
 * `onSend`): there the handler has already run, unauthenticated. Such phases, and
 * `preParsing`, pass a payload before `done`; only `preParsing`'s is a stream.
 *
 * @param third - the hook's third argument (`done`, or the payload).
 * @param fourth - its fourth argument (`done` after a payload, or nothing).
 */
export function ranAfterHandler(third: unknown, fourth: unknown): boolean {
  return typeof fourth === 'function' && !isStream(third);
}

/** The error of a hook that ran after the route handler. */
export function misplacedHook(factory: string): ApiKeyAuthError {
  return new ApiKeyAuthError(
    'ERR_OPTIONS_INVALID',
    `${factory}: the hook ran after the route handler (preSerialization or onSend); authenticate in onRequest, preParsing, preValidation or preHandler.`,
  );
}

function isStream(payload: unknown): boolean {
  return typeof (payload as { pipe?: unknown } | null)?.pipe === 'function';
}
