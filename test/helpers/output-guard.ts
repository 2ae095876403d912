// The key-format module alone, not 'keyward': the setup file imports this, and loading the
// whole package there would bind hash-wasm before a test file's vi.mock('hash-wasm') runs.
import { API_KEY_PATTERN } from '../../src/key-format.js';

/**
 * Shared state of the output guard (test/setup/log-hygiene.ts): secrets a test registered and
 * what was caught. Kept on globalThis so the setup file and the tests share one copy however
 * the module is loaded.
 */
interface GuardState {
  forbidden: Set<string>;
  caught: string[];
}

/** The webhook passwords of public-cases.md, used as configured passwords across the suite. */
export const SUITE_PASSWORDS: readonly string[] = ['p4ss:w0rd:x', 'pässwörd'];

const STATE_KEY = Symbol.for('keyward.test.output-guard');
const state: GuardState = ((globalThis as Record<symbol, GuardState>)[STATE_KEY] ??= { forbidden: new Set(), caught: [] });

/**
 * Registers secrets (a webhook password, a key's secret part) that must never be written to
 * the console or to stdout/stderr during the current test file.
 *
 * @param secrets - the values to watch for; empty strings are ignored.
 */
export function forbidInOutput(...secrets: string[]): void {
  for (const secret of secrets) if (secret.length > 0) state.forbidden.add(secret);
}

/**
 * Whether a piece of output looks like a keyward key or holds a registered secret; notes
 * where it was written if so.
 *
 * @param text - what was about to be written.
 * @param where - the channel, such as `console.log`.
 * @returns true when the text must not be written.
 */
export function inspectOutput(text: string, where: string): boolean {
  const leaks = API_KEY_PATTERN.test(text) || [...state.forbidden].some((secret) => text.includes(secret));
  if (leaks) state.caught.push(where);
  return leaks;
}

/** Takes what was caught since the last call. */
export function takeCaught(): string[] {
  return state.caught.splice(0);
}
