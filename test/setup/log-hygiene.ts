/**
 * Log hygiene for the whole suite: anything written to console.* or to process.stdout/stderr
 * from a test worker that looks like a keyward key (API_KEY_PATTERN) or holds a secret a test
 * registered with forbidInOutput() fails that test, and is replaced by a notice so that the
 * secret never reaches the test output or CI logs.
 */
import { formatWithOptions } from 'node:util';
import { afterEach } from 'vitest';
import { forbidInOutput, inspectOutput, SUITE_PASSWORDS, takeCaught } from '../helpers/output-guard.js';

forbidInOutput(...SUITE_PASSWORDS);

const NOTICE = '[log-hygiene: output withheld, it looked like a keyward key or a registered secret]\n';
const GUARDED = Symbol.for('keyward.test.log-hygiene');

type Writer = typeof process.stdout.write;

function guardStream(stream: NodeJS.WriteStream, name: string): void {
  const write = stream.write as Writer & { [GUARDED]?: true };
  if (write[GUARDED]) return;
  const guarded = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : String(chunk);
    const safe = inspectOutput(text, name) ? NOTICE : chunk;
    return (write as (...args: unknown[]) => boolean).call(this, safe, ...rest);
  } as Writer & { [GUARDED]?: true };
  guarded[GUARDED] = true;
  stream.write = guarded;
}

const METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
for (const method of METHODS) {
  const original = console[method] as ((...args: unknown[]) => void) & { [GUARDED]?: true };
  if (original[GUARDED]) continue;
  const guarded = ((...args: unknown[]) => {
    const text = formatWithOptions({ depth: 6 }, ...args);
    if (inspectOutput(text, `console.${method}`)) return original.call(console, NOTICE.trimEnd());
    return original.apply(console, args);
  }) as typeof original;
  guarded[GUARDED] = true;
  console[method] = guarded;
}
guardStream(process.stdout, 'process.stdout');
guardStream(process.stderr, 'process.stderr');

afterEach(() => {
  const caught = takeCaught();
  if (caught.length > 0) {
    throw new Error(`log hygiene: this test wrote key-like or secret output to ${[...new Set(caught)].join(', ')}`);
  }
});
