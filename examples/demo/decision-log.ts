import type { AuthDecision } from 'keyward';

/** What the decision log remembers about one kind of decision. */
interface KindLog {
  /** When each line written in the last second was written, oldest first. */
  writtenAt: number[];
  /** Lines held back since the last line of this kind was written. */
  heldBack: number;
  /** The pending summary of the held-back lines, if any: at most one per kind. */
  summary?: NodeJS.Timeout;
}

/**
 * The demo's decision log: one line per decision, but at most `perSecond` lines of each kind
 * (outcome, status and reason) in any 1,000 ms, so a flood of forged keys cannot flood the
 * terminal. How many lines of a kind were held back is added to its next line, or, when no
 * decision of that kind comes once there is room again, written as a line of its own.
 *
 * @param write - where a line goes (`console.log` in the demo).
 * @param perSecond - lines of one kind let through per second.
 * @param now - the clock, in milliseconds; monotonic by default, so a step of the wall clock
 *   (an NTP correction) neither holds lines back nor lets a burst through.
 * @returns the `onDecision` hook.
 */
export function createDecisionLog(
  write: (line: string) => void,
  perSecond = 10,
  now: () => number = () => performance.now(),
): (decision: AuthDecision) => void {
  // Kinds are a closed set (outcomes × reasons), so this stays small.
  const kinds = new Map<string, KindLog>();

  const hasRoom = (log: KindLog, at: number): boolean => {
    while (log.writtenAt.length > 0 && at - log.writtenAt[0]! >= 1_000) log.writtenAt.shift();
    return log.writtenAt.length < perSecond;
  };

  // Without this, the count of a flood's last second would wait for the next line of its kind,
  // which may never come. Unref'd, so a pending summary never keeps the process running.
  const scheduleSummary = (kind: string, log: KindLog): void => {
    if (log.summary !== undefined) return;
    log.summary = setTimeout(() => {
      log.summary = undefined;
      if (log.heldBack === 0) return; // a line of this kind has carried the count
      const at = now();
      if (!hasRoom(log, at)) return scheduleSummary(kind, log);
      log.writtenAt.push(at);
      write(`auth ${kind} (${log.heldBack} more like it held back)`);
      log.heldBack = 0;
    }, log.writtenAt[0]! + 1_000 - now());
    log.summary.unref();
  };

  return (decision) => {
    const kind = `${decision.outcome} ${decision.status} ${decision.reason}`;
    let log = kinds.get(kind);
    if (log === undefined) kinds.set(kind, (log = { writtenAt: [], heldBack: 0 }));
    const at = now();
    if (!hasRoom(log, at)) {
      log.heldBack++;
      scheduleSummary(kind, log);
      return;
    }

    log.writtenAt.push(at);
    // A refusal before the row is found names only the (public) lookup id.
    const who = decision.keyId ? `key=${decision.keyId}` : `lookup=${decision.lookupId ?? '-'}`;
    const note = log.heldBack > 0 ? ` (${log.heldBack} more like it held back)` : '';
    log.heldBack = 0;
    write(`auth ${kind} ${who}${note}`);
  };
}
