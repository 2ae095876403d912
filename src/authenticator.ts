import type { ApiKeyAuth } from './api-key-auth.js';
import { Argon2Pool, workerFailureMessage } from './argon2-pool.js';
import { InThreadArgon2 } from './in-thread-argon2.js';
import { resolveAuthOptions, type ApiKeyAuthOptions } from './auth-options.js';
import { AttemptThrottle } from './attempt-throttle.js';
import { Pipeline } from './auth-pipeline.js';
import { DecisionReporter } from './decision-reporter.js';
import { describeError } from './describe-error.js';
import { heldBackLine, LogSampler, type SampledLines } from './log-sampler.js';
import { completeLogger } from './logger.js';
import { Rehasher } from './rehash.js';
import { RefusalFactory } from './responses.js';
import { NO_REQUIREMENT } from './route-options.js';
import { SecretVerifier } from './secret-verifier.js';
import { isThenable } from './thenable.js';
import { UsageRecorder } from './usage-recorder.js';
import { validMillis } from './valid-date.js';
import { VerificationMemo } from './verification-memo.js';

/**
 * Creates the framework-agnostic authenticator that every adapter runs. Options are checked
 * here, once; a mistake is an error at startup, never an open route.
 *
 * @param options - see {@link ApiKeyAuthOptions}; only `store` is required.
 * @returns the authenticator.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` for a missing store or a bad option.
 * @throws {Error} with the Argon2 pool on when its worker module is not beside keyward's code
 *   (keyward bundled into the app).
 * @example
 * ```ts
 * const auth = createApiKeyAuth({ store: new MemoryKeyStore() });
 * // Not `{ headers: req.headers }`: that hides a second Authorization header and the client address.
 * const result = await auth.authenticate(new NodeCredentialRequest(req, req.url), { keyType: 'sms_api' });
 * ```
 */
export function createApiKeyAuth(options: ApiKeyAuthOptions): ApiKeyAuth {
  const settings = resolveAuthOptions(options);
  const logger = completeLogger(settings.logger);
  // Once it exists, anyone can repeat a fault at request rate (a full queue, a database
  // outage, forged keys aimed at a corrupt row), and a failing hook, a row with an unknown
  // status or a failing rehash at the rate of requests: each kind of line is written once a
  // second at most, and how many were held back when the second is over.
  const lines: SampledLines = {
    error: new LogSampler(1_000, heldBackLine(logger.error)),
    warn: new LogSampler(1_000, heldBackLine(logger.warn)),
  };
  const refusals = new RefusalFactory(settings.realm, settings.retryAfterSeconds, settings.errorBody, (failure, cause) => {
    if (!lines.warn.admit('error_body_failed')) return;
    const fields = { event: 'keyward.error_body_failed', failure, ...(cause === undefined ? {} : { error: describeError(cause) }) };
    logger.warn(fields, `keyward: errorBody ${failure}; the refusal was sent with the default body`);
  });
  const memo = settings.memo ? new VerificationMemo(settings.memo) : undefined;
  const pool = settings.argon2Pool
    ? new Argon2Pool(settings.argon2Pool, (error) => {
        if (!lines.error.admit('argon2_worker_error')) return;
        logger.error({ event: 'keyward.argon2_worker_error', error: describeError(error) }, workerFailureMessage(error));
      })
    : undefined;
  let closed = false;
  // Without a pool, on the event loop: one at a time, and none once closed (503, retry later).
  const inThread = pool ? undefined : new InThreadArgon2();
  const run = pool?.run ?? inThread!.run;
  const verifier = new SecretVerifier(memo, run, settings.pepper, () => (pool ?? inThread!).busy);
  const usage = new UsageRecorder(settings.store, settings.usageFlushIntervalMs, settings.storeTimeoutMs, logger);
  const throttle = settings.throttle
    ? new AttemptThrottle(settings.throttle, () => validMillis(settings.clock))
    : undefined;
  const rehasher = settings.rehashOnSuccess
    ? new Rehasher(settings.store, { params: settings.argon2, pepper: settings.pepper }, logger, {
        run: pool?.runInBackground ?? inThread!.run,
        // None starts once close() has begun: it would only find the pool closing.
        idle: () => !closed && (pool ?? inThread!).pending === 0,
        writeTimeoutMs: settings.storeTimeoutMs,
        failureLog: lines.warn,
        rehashed: (memoKey, upgraded) => memo?.set(memoKey, upgraded, true),
      })
    : undefined;
  const pipeline = new Pipeline(settings, new DecisionReporter(settings, logger, lines), refusals, verifier, usage, throttle, rehasher);

  return {
    authenticate: (request, requirement = NO_REQUIREMENT) => {
      const decided = pipeline.run(request, requirement);
      return isThenable(decided) ? decided : Promise.resolve(decided);
    },
    decide: (request, requirement = NO_REQUIREMENT) => pipeline.run(request, requirement),
    flushUsage: () => usage.flush(),
    close: async () => {
      closed = true;
      pipeline.closed = true;
      inThread?.close();
      // Running computations finish (waiting ones get 503, even those behind a rehash still
      // running, and that rehash writes its hash), then the decisions under way end and
      // record their uses, and only then is usage flushed for the last time.
      await Promise.all([pool?.close(), rehasher?.settle()]);
      await pipeline.settled();
      await usage.close();
      lines.error.flush();
      lines.warn.flush();
    },
  };
}
