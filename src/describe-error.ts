// A module of its own, importing only own-field.ts (which imports nothing): the postgres
// entry point bundles it without pulling in a second copy of the core's classes.
import { ownField } from './own-field.js';

/**
 * An error's name, code and message, for operators' logs (never for clients). Never throws:
 * what is thrown can be anything, including an object without a prototype or an Error whose
 * `message` is a getter that throws, and describing it must not become a second fault.
 */
export function describeError(error: unknown): string {
  try {
    if (!(error instanceof Error)) return String(error);
    // The error's own code only: one read through the prototype chain could be planted.
    const code = ownField(error as { code?: unknown }, 'code');
    return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}`;
  } catch {
    return 'an error that cannot be described';
  }
}
