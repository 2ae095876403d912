// A module of its own, with no imports: the postgres entry point bundles it without pulling
// in a second copy of the core's classes.

/** An error's name, code and message, for operators' logs (never for clients). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return `${error.name}${typeof code === 'string' ? ` ${code}` : ''}: ${error.message}`;
}
