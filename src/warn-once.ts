/** The warnings already emitted, by code and message. */
const emitted = new Set<string>();

/**
 * Emits a process warning the first time this code and message come, and never again: a
 * mounting mistake fails every request it gets, and one line tells the operator.
 *
 * @param code - the warning's code, such as `KEYWARD_WRONG_FRAMEWORK`.
 * @param message - what is wrong and what to do; it never holds a key or a password.
 * @internal Shared with keyward's other entry points; not public API, and may change in any release.
 */
export function warnOnce(code: string, message: string): void {
  const key = `${code}\n${message}`;
  if (emitted.has(key)) return;
  emitted.add(key);
  process.emitWarning(message, { code });
}
