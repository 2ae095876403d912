import type { AuthDecision } from './api-key-auth.js';
import { invalidOption } from './errors.js';
import type { CredentialCarriers } from './extract.js';
import { ENVIRONMENTS, type Environment } from './key-format.js';
import { assertLoggerShaped, type Logger } from './logger.js';
import {
  assertHeaderParameter,
  assertInteger,
  assertOptionalFunction,
  assertOptionalSyncFunction,
  assertOptionsObject,
  knownOptions,
  quotedName,
} from './options.js';
import { defaultErrorBody, type ErrorBodyFormatter } from './responses.js';
import type { KeyStore } from './store.js';
import type { VerificationMemoOptions } from './verification-memo.js';
import { systemClock } from './valid-date.js';
import {
  DEFAULT_ARGON2_NICE_INCREMENT,
  defaultArgon2MaxQueue,
  defaultArgon2Threads,
  type Argon2PoolOptions,
} from './argon2-pool.js';
import { resolveThrottleOptions, type AttemptThrottleLimits, type AttemptThrottleOptions } from './attempt-throttle.js';
import { resolvePepper, type PepperOptions, type PepperRing } from './pepper.js';
import { checkedArgon2Params, DEFAULT_ARGON2_PARAMS, type Argon2Params } from './phc.js';
import type { CredentialRequest } from './extract.js';

/** Options of {@link createApiKeyAuth}. */
export interface ApiKeyAuthOptions {
  /** Where keys live. Required. */
  store: KeyStore;
  /** Realm named in the `WWW-Authenticate` challenge. @default 'api' */
  realm?: string | undefined;
  /** Environments this gateway accepts; keys of others get the generic 401. @default both */
  environments?: readonly Environment[] | undefined;
  /**
   * Header that may carry a bare key besides `Authorization: Bearer`, or `false` to accept
   * the Bearer header only. @default 'x-api-key'
   */
  apiKeyHeader?: string | false | undefined;
  /**
   * Query parameter that may carry a key. Off by default: keys in URLs end up in access logs.
   * @default false
   */
  queryParameter?: string | false | undefined;
  /** How long a store lookup may take before the request gets 503. @default 2000 */
  storeTimeoutMs?: number | undefined;
  /** `Retry-After` seconds on 503 answers. @default 1 */
  retryAfterSeconds?: number | undefined;
  /** How often pending `last_used_at` updates are written. @default 60000 */
  usageFlushIntervalMs?: number | undefined;
  /** Bounds of the verification memo, or `false` to hash on every request. @default {} */
  memo?: VerificationMemoOptions | false | undefined;
  /**
   * The worker threads that run Argon2 off the event loop, or `false` to run it in-thread
   * (tests, one-off tools: it blocks the event loop about 50 ms per first-seen key).
   * @default {} (see {@link Argon2PoolOptions} for the thread and queue defaults)
   */
  argon2Pool?: Argon2PoolOptions | false | undefined;
  /**
   * Where decisions and faults are logged; pino's call shape. Needs at least one of the
   * `debug`, `info`, `warn` and `error` methods when passed. @default silent
   */
  logger?: Logger | undefined;
  /** Called with every decision and its internal reason. Never receives the key. */
  onDecision?: ((decision: AuthDecision) => void) | undefined;
  /**
   * Replaces the JSON body of refusals, server faults included: it must check `error.expose`
   * (see {@link ErrorBodyFormatter}). @default defaultErrorBody
   */
  errorBody?: ErrorBodyFormatter | undefined;
  /** The current time, for expiry checks and usage timestamps. @default () => new Date() */
  clock?: (() => Date) | undefined;
  /**
   * Limits on failed attempts per lookup id and per client address, or `false` for none.
   * @default {} (10 per key and 100 per client in 15 minutes; see AttemptThrottleOptions)
   */
  throttle?: AttemptThrottleOptions | false | undefined;
  /**
   * The client address failures are counted under. The default takes the framework's own
   * client IP, so behind a proxy set the framework's trust-proxy option (Express
   * `app.set('trust proxy', 1)`, Koa `{ proxy: true, maxIpsCount: 1 }`, Fastify `trustProxy`
   * with your proxies' addresses) to the proxies you run; without it every client behind the
   * proxy shares one counter. Or supply a function that reads your proxy's header. IPv6
   * clients are counted per /64 (see the README).
   * @default (request) => request.clientIp ?? request.remoteAddress
   */
  clientAddress?: ((request: CredentialRequest) => string | undefined) | undefined;
  /** Peppers to verify with; the same option as on the key manager. @default none */
  pepper?: PepperOptions | undefined;
  /** Parameters hashes are upgraded to by `rehashOnSuccess`. @default DEFAULT_ARGON2_PARAMS */
  argon2?: Argon2Params | undefined;
  /**
   * After a successful verification, rewrite a hash whose parameters are below `argon2` or
   * whose pepper is not the current one: one background Argon2 run and one compare-and-set
   * `store.modify` per key. Off by default, because it makes a gateway write to the store.
   * @default false
   */
  rehashOnSuccess?: boolean | undefined;
}

/** Options after defaults and checks. */
export interface ResolvedAuthOptions {
  store: KeyStore;
  realm: string;
  environments: ReadonlySet<Environment>;
  carriers: CredentialCarriers;
  storeTimeoutMs: number;
  retryAfterSeconds: number;
  usageFlushIntervalMs: number;
  memo: VerificationMemoOptions | false;
  argon2Pool: Required<Argon2PoolOptions> | false;
  logger: Logger | undefined;
  onDecision: ((decision: AuthDecision) => void) | undefined;
  errorBody: ErrorBodyFormatter;
  clock: () => Date;
  throttle: AttemptThrottleLimits | false;
  clientAddress: (request: CredentialRequest) => string | undefined;
  pepper: PepperRing | undefined;
  argon2: Readonly<Argon2Params>;
  rehashOnSuccess: boolean;
}

const OPTION_NAMES: readonly (keyof ApiKeyAuthOptions)[] = [
  'store',
  'realm',
  'environments',
  'apiKeyHeader',
  'queryParameter',
  'storeTimeoutMs',
  'retryAfterSeconds',
  'usageFlushIntervalMs',
  'memo',
  'argon2Pool',
  'logger',
  'onDecision',
  'errorBody',
  'clock',
  'throttle',
  'clientAddress',
  'pepper',
  'argon2',
  'rehashOnSuccess',
];

/** Request headers with a meaning of their own, which a key must never be read from. */
const STANDARD_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'accept', 'accept-encoding', 'accept-language', 'cache-control', 'connection', 'content-encoding',
  'content-length', 'content-type', 'cookie', 'expect', 'forwarded', 'from', 'host', 'if-match',
  'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since', 'keep-alive', 'max-forwards',
  'origin', 'pragma', 'proxy-authorization', 'range', 'referer', 'sec-fetch-site', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'user-agent', 'via', 'x-forwarded-for', 'x-forwarded-host',
  'x-forwarded-proto', 'x-real-ip',
  // Sent by browsers, or by no client at all (response headers), so a key there never arrives.
  'date', 'dnt', 'referrer', 'sec-fetch-dest', 'sec-fetch-mode', 'sec-fetch-user', 'set-cookie',
  'upgrade-insecure-requests', 'x-requested-with',
  // Set or rewritten by proxies and CDNs: the app cannot tell the client's from theirs.
  'cf-connecting-ip', 'fastly-client-ip', 'true-client-ip', 'x-client-ip', 'x-forwarded-port',
  'x-forwarded-prefix', 'x-forwarded-server', 'x-forwarded-uri', 'x-original-forwarded-for',
  'x-original-uri', 'x-original-url', 'x-rewrite-url',
  // Recorded by access logs and tracing systems by design: a key there would be kept by each.
  'b3', 'baggage', 'grpc-trace-bin', 'sentry-trace', 'traceparent', 'traceresponse', 'tracestate',
  'uber-trace-id', 'x-amzn-trace-id', 'x-b3-flags', 'x-b3-parentspanid', 'x-b3-sampled',
  'x-b3-spanid', 'x-b3-traceid', 'x-cloud-trace-context', 'x-correlation-id',
  'x-datadog-parent-id', 'x-datadog-trace-id', 'x-ot-span-context', 'x-request-id',
]);

/** The factory these options belong to: every message about them starts with its name. */
const FACTORY = 'createApiKeyAuth';

const STORE_METHODS = ['findByLookupId', 'findLive', 'findById', 'insert', 'modify', 'recordUsage'];

/**
 * Refuses a store passed where the options go (`createApiKeyAuth(store)`), which would
 * otherwise read as options without a store.
 *
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID`.
 */
export function refuseStoreAsOptions(given: object, factory: string): void {
  if (isStoreShaped(given)) invalidOption(`${factory} takes options, not the store itself: ${factory}({ store }).`);
}

function isStoreShaped(value: unknown): boolean {
  return typeof (value as { findByLookupId?: unknown } | null | undefined)?.findByLookupId === 'function';
}

/**
 * Applies defaults and checks every option once.
 *
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID` naming the option.
 */
export function resolveAuthOptions(given: ApiKeyAuthOptions): ResolvedAuthOptions {
  assertOptionsObject(given, FACTORY);
  refuseStoreAsOptions(given, FACTORY);
  const options = knownOptions(given, OPTION_NAMES, FACTORY);
  assertStore(options.store, FACTORY);

  const realm = options.realm ?? 'api';
  assertHeaderParameter(realm, 'realm', FACTORY);

  const environments = options.environments ?? ENVIRONMENTS;
  if (!Array.isArray(environments) || environments.length === 0) {
    invalidOption(`${FACTORY}: "environments" must be a non-empty array of "production" and "sandbox".`);
  }
  for (const environment of environments) {
    if (!ENVIRONMENTS.includes(environment)) {
      // Shown as any name from the app's config is: cut short, escaped, a pasted key cut at
      // its prefix; a value that is not text is named by its type only.
      const shown = typeof environment === 'string' ? quotedName(environment) : `a value of type ${typeof environment}`;
      invalidOption(`${FACTORY}: "environments" may hold "production" and "sandbox" only, not ${shown}.`);
    }
  }

  const headerName = carrierName(options.apiKeyHeader, 'x-api-key', 'apiKeyHeader');
  // Node lower-cases incoming header names.
  const apiKeyHeader = headerName && headerName.toLowerCase();
  if (apiKeyHeader === 'authorization') {
    invalidOption(`${FACTORY}: "apiKeyHeader" cannot be "authorization"; the Bearer scheme is always read from it.`);
  }
  if (apiKeyHeader && STANDARD_REQUEST_HEADERS.has(apiKeyHeader)) {
    // `cookie` would make the key a credential the browser sends on its own (cross-site
    // requests included), and every request with an ordinary cookie would be refused.
    invalidOption(`${FACTORY}: "apiKeyHeader" cannot be "${apiKeyHeader}", a header that browsers, proxies or tracing send or record for a purpose of its own; use a header of its own, such as "x-api-key".`);
  }
  const queryParameter = carrierName(options.queryParameter, false, 'queryParameter');

  const storeTimeoutMs = options.storeTimeoutMs ?? 2_000;
  assertInteger(storeTimeoutMs, 'storeTimeoutMs', 1, 60_000, FACTORY);
  const retryAfterSeconds = options.retryAfterSeconds ?? 1;
  assertInteger(retryAfterSeconds, 'retryAfterSeconds', 1, 3_600, FACTORY);
  const usageFlushIntervalMs = options.usageFlushIntervalMs ?? 60_000;
  assertInteger(usageFlushIntervalMs, 'usageFlushIntervalMs', 10, 24 * 3_600_000, FACTORY);

  let memo = options.memo ?? {};
  if (memo !== false) {
    if (typeof memo !== 'object') invalidOption(`${FACTORY}: "memo" must be an object or false.`);
    memo = knownOptions(memo, ['maxEntries', 'maxBytes'], FACTORY, { within: 'memo' });
    if (memo.maxEntries !== undefined) assertInteger(memo.maxEntries, 'memo.maxEntries', 1, 10_000_000, FACTORY);
    if (memo.maxBytes !== undefined) assertInteger(memo.maxBytes, 'memo.maxBytes', 1_024, 2 ** 32, FACTORY);
  }

  const argon2Pool = resolveArgon2Pool(options.argon2Pool);

  if (options.logger !== undefined) assertLoggerShaped(options.logger, FACTORY);
  assertOptionalFunction(options.onDecision, 'onDecision', FACTORY);
  assertOptionalFunction(options.errorBody, 'errorBody', FACTORY);
  assertOptionalSyncFunction(options.clock, 'clock', FACTORY);
  const throttle = resolveThrottleOptions(options.throttle, FACTORY);
  assertOptionalSyncFunction(options.clientAddress, 'clientAddress', FACTORY);
  const pepper = resolvePepper(options.pepper, FACTORY);
  const argon2 = checkedArgon2Params(options.argon2 ?? DEFAULT_ARGON2_PARAMS, 'argon2', FACTORY);
  const rehashOnSuccess = options.rehashOnSuccess ?? false;
  if (typeof rehashOnSuccess !== 'boolean') invalidOption(`${FACTORY}: "rehashOnSuccess" must be a boolean.`);

  return {
    store: options.store,
    realm,
    environments: new Set(environments),
    carriers: { apiKeyHeader, queryParameter },
    storeTimeoutMs,
    retryAfterSeconds,
    usageFlushIntervalMs,
    memo,
    argon2Pool,
    logger: options.logger,
    onDecision: options.onDecision,
    errorBody: options.errorBody ?? defaultErrorBody,
    clock: options.clock ?? systemClock,
    throttle,
    clientAddress: options.clientAddress ?? ((request) => request.clientIp ?? request.remoteAddress),
    pepper,
    argon2,
    rehashOnSuccess,
  };
}

/**
 * Checks that a store has every method of the {@link KeyStore} interface.
 *
 * @param factory - the factory it was given to; messages start with it.
 * @throws {ApiKeyAuthError} `ERR_OPTIONS_INVALID`.
 */
export function assertStore(store: unknown, factory: string): asserts store is KeyStore {
  if (typeof store === 'function' && isStoreShaped((store as { prototype?: unknown }).prototype)) {
    invalidOption(`${factory}: "store" is a class; pass an instance, such as new MemoryKeyStore().`);
  }
  if (typeof store !== 'object' || store === null) {
    invalidOption(`${factory}: "store" is required: pass a KeyStore such as new MemoryKeyStore().`);
  }
  const missing = STORE_METHODS.filter((name) => typeof (store as Record<string, unknown>)[name] !== 'function');
  if (missing.length > 0) invalidOption(`${factory}: "store" lacks the KeyStore method(s) ${missing.join(', ')}.`);
}

function resolveArgon2Pool(value: Argon2PoolOptions | false | undefined): Required<Argon2PoolOptions> | false {
  if (value === false) return false;
  const given = value ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    invalidOption(`${FACTORY}: "argon2Pool" must be an object or false.`);
  }
  const pool = knownOptions(given, ['threads', 'maxQueue', 'niceIncrement'], FACTORY, { within: 'argon2Pool' });
  const threads = pool.threads ?? defaultArgon2Threads();
  assertInteger(threads, 'argon2Pool.threads', 1, 256, FACTORY);
  const maxQueue = pool.maxQueue ?? defaultArgon2MaxQueue(threads);
  assertInteger(maxQueue, 'argon2Pool.maxQueue', 0, 100_000, FACTORY);
  const niceIncrement = pool.niceIncrement ?? DEFAULT_ARGON2_NICE_INCREMENT;
  assertInteger(niceIncrement, 'argon2Pool.niceIncrement', 0, 19, FACTORY);
  return { threads, maxQueue, niceIncrement };
}

function carrierName(value: unknown, fallback: string | false, name: string): string | false {
  if (value === undefined) return fallback;
  if (value === false) return false;
  if (typeof value !== 'string' || !/^[a-z0-9_-]{1,64}$/i.test(value)) {
    invalidOption(`${FACTORY}: "${name}" must be false or a name of letters, digits, "-" and "_".`);
  }
  return value;
}
