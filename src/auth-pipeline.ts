// The authentication of one request, steps 1 to 8: read and parse the credential, find the
// row, check it, verify the secret, then status, expiry, key type, and success.
import { performance } from 'node:perf_hooks';
import type { AuthResult, DecisionReason, RouteRequirement } from './api-key-auth.js';
import { AuthFailure } from './auth-failure.js';
import type { ResolvedAuthOptions } from './auth-options.js';
import type { AttemptThrottle, Attempt } from './attempt-throttle.js';
import type { DecisionReporter, Facts } from './decision-reporter.js';
import { describeError } from './describe-error.js';
import { extractCredential, type CredentialRequest } from './extract.js';
import { KEY_LENGTH, parseApiKey, partsOfAcceptedKey, type ParsedApiKey } from './key-format.js';
import { mayLog } from './logger.js';
import type { StoredHashFault } from './phc.js';
import type { Rehasher } from './rehash.js';
import { sameBoundFields } from './row-binding.js';
import type { Refusal, RefusalFactory } from './responses.js';
import { readRequirement } from './route-options.js';
import { checkRow, idOf, readRow, type RowView } from './row-check.js';
import { costNoArgon2Run, type SecretCheck, type SecretVerifier } from './secret-verifier.js';
import { raceWithin, SharedDeadline, TIMED_OUT } from './shared-deadline.js';
import { normalizeStatus } from './statuses.js';
import type { ApiKeyRow, KeyStore } from './store.js';
import { StoreFailure } from './store-failure.js';
import { isThenable } from './thenable.js';
import type { UsageRecorder } from './usage-recorder.js';
import { expiryState, validMillis } from './valid-date.js';
import type { MemoSubject } from './verification-memo.js';

/** What a fault log says of a request that is no object, or whose headers are no object. */
const NOT_A_REQUEST = 'keyward: decide() and authenticate() need a request object whose headers, when it has any, are an object, such as new NodeCredentialRequest(req, req.url).';

function isHeadersOrNone(headers: unknown): boolean {
  return headers === undefined || headers === null || typeof headers === 'object';
}

/** A value now, or a promise of it once something had to be waited for. */
type Pending<T> = T | Promise<T>;

/** The request's credential, read and parsed, handed from one pipeline step to the next. */
interface Presented extends ParsedApiKey {
  request: CredentialRequest;
  requirement: RouteRequirement;
  credential: string;
  /** The credential's memo key, or undefined without a memo or for text of another length. */
  memoKey: string | undefined;
  /** The row and stored hash the credential had matched here when the request came, if any. */
  matched: MemoSubject | undefined;
  /** Built when the attempt throttle first needs it. */
  attempt: Attempt | undefined;
  /** A match Argon2 computed for this request, and the row it was computed for. */
  verified: { row: RowView; check: SecretCheck } | undefined;
  /** How long this request has waited for the store so far, in milliseconds. */
  storeWaitedMs: number;
}

export class Pipeline {

  constructor(
    private readonly settings: ResolvedAuthOptions,
    private readonly reporter: DecisionReporter,
    private readonly refusals: RefusalFactory,
    private readonly verifier: SecretVerifier,
    private readonly usage: UsageRecorder,
    private readonly throttle?: AttemptThrottle,
    private readonly rehasher?: Rehasher,
  ) {
    this.storeDeadline = new SharedDeadline(settings.storeTimeoutMs);
  }

  /**
   * Whether anything reads decisions that are not faults right now: an onDecision hook, or a
   * logger whose debug level is on. Without either, such a decision is not built at all.
   */
  private decisionsWatched(): boolean {
    return this.settings.onDecision !== undefined || mayLog(this.settings.logger, 'debug');
  }

  /**
   * Bounds every first store lookup of a request with one shared timer rather than a timer
   * per request (a second lookup, rare, has its own: see {@link findRow}).
   */
  private readonly storeDeadline: SharedDeadline;

  /**
   * Most decisions need no waiting: a malformed key, a 429, or a memo hit on a store that
   * answers from memory. Only a pending store lookup or an Argon2 run has to be awaited, so
   * the pipeline runs synchronously until it meets one, and a decision made without waiting
   * costs no promise chain (a measurable part of a memo hit inside an HTTP server).
   */
  run(request: CredentialRequest, requirement: RouteRequirement): Pending<AuthResult> {
    try {
      let read = this.requirements.get(requirement);
      if (read === undefined) {
        const checked = readRequirement(requirement);
        // A requirement keyward cannot read must not turn into none: 500, never a pass.
        if (typeof checked === 'string') return this.internal(new TypeError(checked));
        this.requirements.set(requirement, (read = checked));
      }
      // An app's integration mistake (no request, or headers that are no object) is a fault to
      // fix, not a client without a key: 500, logged, as for a requirement keyward cannot read.
      // Headers left out or null (an API Gateway event without any) are no headers: a 401.
      if (typeof request !== 'object' || request === null || !isHeadersOrNone(request.headers)) {
        return this.internal(new TypeError(NOT_A_REQUEST));
      }
      const decided = this.readAndFind(request, read);
      return isThenable(decided) ? this.tracked(decided.catch((error: unknown) => this.internal(error))) : decided;
    } catch (error) {
      return this.internal(error);
    }
  }

  /**
   * Each requirement object as it was read and checked on its first use, frozen: an adapter
   * passes the same object on every request, so it is read once, and nothing done to it
   * later (a field changed or misspelt, a getter that changes its answer) can reach a decision.
   */
  private readonly requirements = new WeakMap<object, RouteRequirement>();

  /**
   * Set by the authenticator's close(): from then on the Argon2 runners refuse all work, and
   * a refusal says the authenticator was closed rather than that the queue is full.
   */
  closed = false;

  /** Decisions still waiting (for a store query or an Argon2 run), for close(). */
  private readonly underWay = new Set<Promise<AuthResult>>();

  private tracked(decision: Promise<AuthResult>): Promise<AuthResult> {
    this.underWay.add(decision);
    // The decision never rejects (faults become refusals), so neither does this.
    void decision.finally(() => this.underWay.delete(decision));
    return decision;
  }

  /**
   * Resolves once the decisions waiting now have ended: their successes have recorded their
   * uses. Decisions that start later are not waited for, so a server still taking requests
   * cannot hold close() open.
   */
  async settled(): Promise<void> {
    await Promise.all(this.underWay);
  }

  /** 500 for a failure of keyward's own or the app's code; `facts` name the key where known. */
  private internal(error: unknown, facts: Facts = {}): AuthResult {
    return this.refuse(this.refusals.internal(error), 'internal_error', { ...facts, detail: describeError(error) });
  }

  /** 503: the store could not give the row (an error, a timeout, a row that threw when read). */
  private storeFault(failure: StoreFailure, lookupId: string): AuthResult {
    const reason = failure.timedOut ? 'store_timeout' : 'store_error';
    return this.refuse(this.refusals.unavailable(failure.cause), reason, { lookupId, detail: describeError(failure.cause) });
  }

  /** Steps 1 to 3: read and parse the credential, then find the row. */
  private readAndFind(request: CredentialRequest, requirement: RouteRequirement): Pending<AuthResult> {
    // 1. Read the credential.
    const extracted = extractCredential(request, this.settings.carriers);
    if (!extracted.ok) {
      const error = extracted.reason === 'missing' ? this.refusals.missing() : this.refusals.invalid();
      return this.refuse(error, extracted.reason, {});
    }

    // 2. Parse the key; nothing malformed reaches the store or Argon2. A key that has matched
    // here is the very text that passed this check then (its memo key is an HMAC of the whole
    // text), so it is only taken apart: the check could only agree, and it is the dearest
    // part of a memo hit's own work. Text of any other length never costs an HMAC.
    const credential = extracted.credential;
    const memoKey = credential.length === KEY_LENGTH ? this.verifier.memoKeyOf(credential) : undefined;
    const matched = this.verifier.matched(memoKey);
    let key: ParsedApiKey;
    if (matched !== undefined) {
      key = partsOfAcceptedKey(credential);
    } else {
      const parsed = parseApiKey(credential);
      if (!parsed.ok) return this.refuse(this.refusals.invalid(), parsed.reason, {});
      key = parsed.key;
    }
    const { lookupId, environment, secret } = key;
    if (!this.settings.environments.has(environment)) {
      return this.refuse(this.refusals.invalid(), 'environment_not_accepted', { lookupId, environment });
    }

    // A client over its attempt limit gets 429 before the store is asked, unless it presents
    // a key that has verified here: under a flood of forgeries the store sees no query for
    // them, and a key this instance verified still passes (its row is read as always).
    // Every field is set here, even those still unknown: one left out would be read from
    // Object.prototype, which a polluted app could have given an `attempt` or a `verified`.
    const presented: Presented = { request, requirement, credential, environment, lookupId, secret, memoKey, matched, attempt: undefined, verified: undefined, storeWaitedMs: 0 };
    if (this.throttle && matched === undefined) {
      const wait = this.throttle.waitFor(this.attemptOf(presented));
      if (wait > 0) return this.refuse(this.refusals.tooManyAttempts(wait), 'too_many_attempts', { lookupId, environment });
    }

    // 3. Find the live row.
    return this.lookUp(presented);
  }

  /** Finds the row of the presented lookup id, and goes on with it. */
  private lookUp(presented: Presented): Pending<AuthResult> {
    const found = this.findRow(presented);
    return isThenable(found) ? found.then((row) => this.withRow(row, presented)) : this.withRow(found, presented);
  }

  /** Steps 3 (the row found) to 5: check the row, then verify the secret against its hash. */
  private withRow(found: ApiKeyRow | null | StoreFailure, presented: Presented): Pending<AuthResult> {
    const { lookupId, environment } = presented;
    if (StoreFailure.is(found)) return this.storeFault(found, lookupId);
    if (found === null) return this.refuse(this.refusals.invalid(), 'unknown_lookup_id', { lookupId });

    // Every step below reads this copy, so a row whose fields are computed (getters, a Proxy,
    // an ORM's lazy fields) cannot show one value to a check and another to the next. A throw
    // while reading them is the store failing to give the row.
    let row: RowView;
    try {
      row = readRow(found);
    } catch (error) {
      return this.storeFault(new StoreFailure(error), lookupId);
    }
    const rowProblem = checkRow(row, lookupId);
    if (rowProblem === 'not_live') {
      return this.refuse(this.refusals.invalid(), 'unknown_lookup_id', { lookupId });
    }
    if (rowProblem === 'lookup_id_case_differs') {
      // The presented lookup id does not exist as sent: the generic 401, not a 500 any client
      // could call up at will. The store still has to be fixed, so the operator hears of it.
      this.reporter.caseInsensitiveStoreSeen(row);
      return this.refuse(this.refusals.invalid(), 'unknown_lookup_id', { lookupId, detail: rowProblem });
    }
    if (rowProblem !== undefined) {
      const error = this.refusals.fault('ERR_STORED_ROW_INVALID', 'stored row invalid');
      return this.refuse(error, 'stored_row_invalid', { lookupId, keyId: idOf(row), detail: rowProblem });
    }
    const facts: Facts = { keyId: row.id, accountId: row.account_id, lookupId, environment };

    // 4. The row's environment must be the prefix's.
    if (row.environment !== environment) {
      return this.refuse(this.refusals.invalid(), 'environment_mismatch', facts);
    }

    // 5. Verify the secret. An answer the memo holds costs no Argon2 run, so it skips the
    // throttle: a key this instance already verified passes even during an attack, and the
    // common case pays no throttle bookkeeping. Otherwise, past the failure limit, the check
    // gets 429 instead of another Argon2 run.
    const { credential, secret, memoKey, verified } = presented;
    if (verified !== undefined && !sameBoundFields(row, verified.row)) {
      // Read again after the Argon2 run, the lookup id names another key (or this key now names
      // another account): the match was for the row as it was.
      return this.refuse(this.refusals.invalid(), 'unknown_lookup_id', { ...facts, detail: 'row replaced during verification' });
    }
    // A corrupt row may lack key_hash: only a match in hand is compared with it.
    const known = verified !== undefined && verified.row.key_hash === row.key_hash ? verified.check : this.verifier.recall(memoKey, row, presented.matched);
    if (known !== undefined) return this.withCheck(known, row, facts, presented);

    // A key that has matched here before, or in this very request (its row rehashed since,
    // say), is no forger's guess: it is checked again without the throttle.
    const matchedBefore = verified !== undefined || this.verifier.hasMatched(memoKey);
    const attempt = this.throttle && !matchedBefore ? this.attemptOf(presented) : undefined;
    const wait = attempt ? this.throttle!.enter(attempt) : 0;
    if (wait > 0) return this.refuse(this.refusals.tooManyAttempts(wait), 'too_many_attempts', facts);
    let checked: ReturnType<SecretVerifier['check']>;
    try {
      checked = this.verifier.check(credential, secret, row, memoKey);
    } catch (error) {
      // An attempt entered is always left, or the throttle would count it in flight for good.
      if (attempt) this.throttle!.leave(attempt);
      return this.internal(error, facts);
    }
    if (!isThenable(checked)) {
      // Answered without a computation: a stored-hash fault, or 503 from a full pool.
      if (attempt) this.throttle!.leave(attempt);
      return this.afterArgon2(checked, row, facts, presented);
    }
    return checked
      .finally(() => attempt && this.throttle!.leave(attempt))
      // A failed computation (a worker that cannot load, say) is logged with the key it was for.
      .then((check) => this.afterArgon2(check, row, facts, presented), (error: unknown) => this.internal(error, facts));
  }

  /**
   * A key that matched after an Argon2 run is decided on its row as it is now, read again:
   * the run may have waited in the queue, and a revoke, regenerate or status change that
   * resolved meanwhile must apply to this request too. Memo hits need no second read, as
   * they read the row after any such change. Once per request.
   */
  private afterArgon2(check: SecretCheck, row: RowView, facts: Facts, presented: Presented): Pending<AuthResult> {
    if (!check.ok || !check.matches || presented.verified) return this.withCheck(check, row, facts, presented);
    presented.verified = { row, check };
    return this.lookUp(presented);
  }

  /** Steps 5 (the verification's answer) to 8. */
  private withCheck(check: SecretCheck, row: RowView, facts: Facts, presented: Presented): AuthResult {
    if (!check.ok) {
      // A full Argon2 queue says nothing about the key: 503 with Retry-After, never 401.
      if (check.fault === 'overloaded') {
        if (this.closed) return this.refuse(this.refusals.closed(), 'closed', facts);
        return this.refuse(this.refusals.overloaded(), 'overloaded', facts);
      }
      return this.storedHashFault(check.fault, facts);
    }
    if (!check.matches) {
      // The client as the throttle counts it (read now, if no step has yet): a failure counted
      // without its address would go to the limit every client without one shares.
      if (!costNoArgon2Run(check)) this.throttle?.recordFailure(presented.lookupId, this.attemptOf(presented).client);
      return this.refuse(this.refusals.invalid(), 'secret_mismatch', facts);
    }
    // The secret is verified: its hash may be rewritten to the current policy whatever the
    // key's status, so that a suspended, expired or other-type key moves off an old pepper
    // too (it could never be removed otherwise).
    this.rehasher?.schedule(row, presented.secret, presented.memoKey);

    // 6. Status, then expiry: only now, for a caller who holds the key.
    const status = normalizeStatus(row.status);
    if (status !== 'allowed') {
      if (status === undefined) this.reporter.unknownStatusSeen(row, facts);
      const keyStatus = status ?? 'unknown';
      return this.refuse(this.refusals.inactive(status), 'inactive_status', { ...facts, keyStatus });
    }
    // In milliseconds: a Date per request costs a call into V8's runtime, and the time is
    // only compared and noted.
    const now = validMillis(this.settings.clock);
    const expiry = expiryState(row.expires_at, now);
    // checkRow has refused an unreadable expiry (500 ERR_STORED_ROW_INVALID) on this very
    // copy of the row, so none comes here; should one ever, it is refused, never let through.
    if (expiry === 'passed' || expiry === 'unreadable') {
      return this.refuse(this.refusals.inactive('expired'), 'expired_at', { ...facts, keyStatus: 'expired' });
    }

    // 7. Key type, where the route asks for one.
    const { requirement, lookupId, environment } = presented;
    if (requirement.keyType !== undefined && row.key_type !== requirement.keyType) {
      return this.refuse(this.refusals.wrongType(requirement.keyType), 'wrong_key_type', facts);
    }

    // 8. Success.
    this.usage.record(row.id, lookupId, now);
    if (this.decisionsWatched()) this.reporter.report({ outcome: 'allowed', status: 200, reason: 'authenticated', ...facts });
    return {
      ok: true,
      context: { keyId: row.id, accountId: row.account_id, keyType: row.key_type, environment },
    };
  }

  /**
   * The live row, null, or why the store gave neither in time. A store that answers from
   * memory is not waited for: a row in hand cannot hang, so only a pending answer races the
   * store timeout. A request's reads share that timeout: the second, after an Argon2 run, gets
   * what the first left of it, so a refusal comes within `storeTimeoutMs` of store waiting.
   */
  private findRow(presented: Presented): Pending<ApiKeyRow | null | StoreFailure> {
    const timeoutMs = this.settings.storeTimeoutMs;
    const leftMs = timeoutMs - presented.storeWaitedMs;
    // A first read that answered only as its time ran out leaves none: the second is not
    // sent, as its answer would come too late (and hold a connection during an incident).
    if (leftMs <= 0) return storeTimedOut(timeoutMs, 0);
    let answer: ReturnType<KeyStore['findByLookupId']>;
    let pending: boolean;
    try {
      answer = this.settings.store.findByLookupId(presented.lookupId);
      // Inside the try: an answer whose `then` getter throws is the store's fault too.
      pending = isThenable(answer);
    } catch (error) {
      // A store that throws instead of rejecting.
      return new StoreFailure(error);
    }
    if (!pending) return (answer as ApiKeyRow | null) ?? null;
    const startedAt = performance.now();
    const raced = leftMs === timeoutMs ? this.storeDeadline.race(answer) : raceWithin(answer, leftMs);
    return raced.then(
      (row) => {
        presented.storeWaitedMs += performance.now() - startedAt;
        return row === TIMED_OUT ? storeTimedOut(timeoutMs, leftMs) : (row ?? null);
      },
      (error: unknown) => new StoreFailure(error),
    );
  }

  /** The attempt as the throttle counts it, built once per request. */
  private attemptOf(presented: Presented): Attempt {
    // The memo key tells keys apart as well as the key does, and holds nothing of it.
    const credential = presented.memoKey ?? presented.credential;
    return (presented.attempt ??= { lookupId: presented.lookupId, client: this.clientOf(presented.request), credential });
  }

  /** The app's reading of the client address; anything but a non-empty string counts as none. */
  private clientOf(request: CredentialRequest): string | undefined {
    const address: unknown = this.settings.clientAddress(request);
    if (typeof address === 'string' && address.length > 0) return address;
    // A promise (from a function that is not async yet returns one) is no address either; it
    // is observed, so that its rejection cannot end the process.
    if (isThenable(address)) address.then(undefined, (error: unknown) => this.reporter.clientAddressFailed(error));
    return undefined;
  }

  private storedHashFault(fault: StoredHashFault, facts: Facts): AuthResult {
    const error = this.refusals.fault('ERR_STORED_HASH_INVALID', 'stored hash unparseable');
    return this.refuse(error, 'stored_hash_unparseable', { ...facts, detail: fault });
  }

  private refuse(refusal: Refusal, reason: DecisionReason, facts: Facts): AuthResult {
    const outcome = refusal.status >= 500 ? 'fault' : 'refused';
    // Faults are always logged; refusals only built for someone who reads them.
    if (outcome === 'fault' || this.decisionsWatched()) {
      this.reporter.report({ outcome, status: refusal.status, code: refusal.code, reason, ...facts });
    }
    return new AuthFailure(refusal);
  }

}

/** A store read that ran out of time: the whole timeout, or what a first read left of it. */
function storeTimedOut(timeoutMs: number, leftMs: number): StoreFailure {
  if (leftMs <= 0) return new StoreFailure(new Error(`findByLookupId was not asked again: the first read used all of ${timeoutMs} ms`), true);
  const within = leftMs === timeoutMs ? `${timeoutMs} ms` : `the ${Math.round(leftMs)} ms its first read left of ${timeoutMs} ms`;
  return new StoreFailure(new Error(`findByLookupId did not answer within ${within}`), true);
}
