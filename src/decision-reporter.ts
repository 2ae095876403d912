import type { AuthDecision } from './api-key-auth.js';
import type { ResolvedAuthOptions } from './auth-options.js';
import { describeError } from './describe-error.js';
import type { SampledLines } from './log-sampler.js';
import type { CompleteLogger } from './logger.js';
import { idOf, type RowView } from './row-check.js';
import { isThenable } from './thenable.js';

/** What a decision knows of the key, where a step has learnt it. */
export type Facts = Pick<AuthDecision, 'keyId' | 'accountId' | 'lookupId' | 'environment' | 'keyStatus' | 'detail'>;

/**
 * What the pipeline tells the operator and the app: each decision, to the log and to the
 * onDecision hook, and the warnings some requests call for, each kind at most once a second.
 */
export class DecisionReporter {
  constructor(
    private readonly settings: ResolvedAuthOptions,
    private readonly logger: CompleteLogger,
    private readonly lines: SampledLines,
  ) {}

  report(given: AuthDecision): void {
    // Every field its own, undefined where a step does not know it: a field left out would be
    // read from Object.prototype, by the lines below and by the app's hook.
    const decision: AuthDecision = { ...UNKNOWN_DECISION_FIELDS, ...given };
    if (decision.outcome === 'fault') {
      // Once a second per reason (per row and problem for a corrupt row); the hook still
      // sees each one.
      if (this.lines.error.admit(kindOfFault(decision))) this.logger.error({ event: 'keyward.auth', ...decision }, describeFault(decision));
    } else {
      this.logger.debug({ event: 'keyward.auth', ...decision }, `keyward: ${decision.reason}`);
    }
    try {
      const handled: unknown = this.settings.onDecision?.(decision);
      // An async hook's rejection, left unobserved, would end the process.
      if (isThenable(handled)) handled.then(undefined, (error: unknown) => this.hookFailed(error));
    } catch (error) {
      this.hookFailed(error);
    }
  }

  /**
   * A 403 for a status keyward does not know is a refusal, not a fault, but it means a row
   * was written wrong: the operator hears of it at warn (once a second per row at most),
   * whatever the debug level.
   */
  unknownStatusSeen(row: RowView, facts: Facts): void {
    if (!this.lines.warn.admit(`unknown_status:${row.id}`)) return;
    const stored = typeof row.status === 'string' ? row.status.slice(0, 40) : row.status === null ? null : typeof row.status;
    const fields = { event: 'keyward.unknown_status', ...facts, storedStatus: stored };
    this.logger.warn(fields, `keyward: key ${facts.keyId} has a status keyward does not know; refused with 403`);
  }

  /** Warns, once a second at most, that the store finds lookup ids whatever their letter case. */
  caseInsensitiveStoreSeen(row: RowView): void {
    if (!this.lines.warn.admit('store_ignores_case')) return;
    const fields = { event: 'keyward.store_ignores_case', keyId: idOf(row) };
    this.logger.warn(fields, 'keyward: the store found a row whose lookup_id differs from the one asked for in letter case only; lookups must be exact (a case-sensitive collation), see runStoreConformance');
  }

  clientAddressFailed(error: unknown): void {
    if (!this.lines.warn.admit('client_address_failed')) return;
    const fields = { event: 'keyward.client_address_failed', error: describeError(error) };
    this.logger.warn(fields, 'keyward: clientAddress gave a promise, which counts as no address, and it rejected; return the address itself');
  }

  private hookFailed(error: unknown): void {
    if (!this.lines.warn.admit('hook_failed')) return;
    this.logger.warn({ event: 'keyward.hook_failed', error: describeError(error) }, 'keyward: onDecision failed');
  }
}

/** The optional fields of a decision, none known yet. */
const UNKNOWN_DECISION_FIELDS = Object.freeze({
  code: undefined,
  detail: undefined,
  keyId: undefined,
  accountId: undefined,
  lookupId: undefined,
  environment: undefined,
  keyStatus: undefined,
});

/**
 * What fault lines are counted under: the reason, and for a corrupt row also what is wrong
 * with it and the row's own id, so each problem of each corrupt row is named at least once a
 * second. A row without a usable id counts under its problem alone: the lookup id is the
 * caller's choice, and a line per forged lookup id would be the very flood this prevents.
 */
function kindOfFault(decision: AuthDecision): string {
  const perRow = decision.reason === 'stored_hash_unparseable' || decision.reason === 'stored_row_invalid';
  if (!perRow) return decision.reason;
  return `${decision.reason}:${decision.detail ?? ''}${decision.keyId === undefined ? '' : `:${decision.keyId}`}`;
}

function describeFault(decision: AuthDecision): string {
  const subject = decision.keyId ? `key ${decision.keyId}` : `lookup id ${decision.lookupId ?? '-'}`;
  const what = decision.reason.replaceAll('_', ' ');
  const remedy = FAULT_REMEDIES.get(`${decision.reason}:${decision.detail ?? ''}`) ?? FAULT_REMEDIES.get(decision.reason) ?? '';
  return `keyward: ${what} for ${subject}${decision.detail ? ` (${decision.detail})` : ''}${remedy}`;
}

/**
 * What an operator can do, after the line's own facts: per reason and detail (a stored hash
 * that parses but cannot be used), or per reason.
 */
const FAULT_REMEDIES: ReadonlyMap<string, string> = new Map([
  // One line a second names whichever lookup id was sampled: the fault is the store's.
  ['store_error', ': the store could not give this row; while it fails, requests that need it get 503 with Retry-After (a line a second names whichever lookup id it sampled)'],
  ['closed', ': close() was called on this authenticator, which then computes no Argon2 hash; keys its memo does not hold get 503. Stop the server from taking requests before calling close() (see "Shutting down" in the README)'],
  ['store_timeout', ': the store did not answer in storeTimeoutMs; while it is slow, requests that need it get 503 with Retry-After (a line a second names whichever lookup id it sampled)'],
  ['stored_hash_unparseable:unknown_pepper', ': its keyid= names a pepper not in this gateway\'s pepper.secrets; give it that pepper (the one the key manager writes with), or regenerate the key if the pepper is gone'],
  ['stored_hash_unparseable:unpeppered', ': refuseUnpeppered is on and the hash has no pepper; regenerate the key, or turn refuseUnpeppered off until every key is peppered'],
]);
