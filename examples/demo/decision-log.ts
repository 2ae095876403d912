import type { AuthDecision } from 'keyward';

/**
 * The demo's decision log: one line per decision, but at most `perSecond` lines of each kind
 * (outcome, status and reason) in any one second, so a flood of forged keys cannot flood the
 * terminal. How many lines of a kind were held back is added to its next line.
 *
 * @param write - where a line goes (`console.log` in the demo).
 * @param perSecond - lines of one kind let through per second.
 * @param now - the clock, in milliseconds.
 * @returns the `onDecision` hook.
 */
export function createDecisionLog(
  write: (line: string) => void,
  perSecond = 10,
  now: () => number = Date.now,
): (decision: AuthDecision) => void {
  // Kinds are a closed set (outcomes × reasons), so this stays small.
  const windows = new Map<string, { openedAt: number; written: number; heldBack: number }>();
  return (decision) => {
    const kind = `${decision.outcome} ${decision.status} ${decision.reason}`;
    let window = windows.get(kind);
    let heldBefore = 0;
    if (window === undefined || now() - window.openedAt >= 1_000) {
      heldBefore = window?.heldBack ?? 0;
      window = { openedAt: now(), written: 0, heldBack: 0 };
      windows.set(kind, window);
    }
    if (window.written >= perSecond) {
      window.heldBack++;
      return;
    }
    window.written++;
    const who = decision.keyId ?? decision.lookupId ?? '-';
    const note = heldBefore > 0 ? ` (${heldBefore} more like it held back)` : '';
    write(`auth ${kind} key=${who}${note}`);
  };
}
