/**
 * Vitest global setup: output hygiene for the main process, where the reporter prints a
 * failed assertion's message and diff (`Received: "sk_live_…"`). test/setup/log-hygiene.ts
 * guards the test workers only. A test that fails has failed already, so here a key-like text
 * or a suite password is masked rather than failing anything: the rest of the report stays
 * readable and the secret never reaches a terminal or a CI log. A key split by colour codes,
 * as a diff highlights it, is found too (the codes are taken out of a chunk that holds one).
 */
import { maskApiKey } from '../../src/key-format.js';
import { SUITE_PASSWORDS } from '../helpers/output-guard.js';

// The suite passwords as a Basic header carries them, base64 of `user:password`, for the
// users the suite configures: a failed assertion may print such a header.
const SUITE_SECRETS = [
  ...SUITE_PASSWORDS,
  ...SUITE_PASSWORDS.flatMap((password) => ['hook-relay', ''].map((user) => Buffer.from(`${user}:${password}`).toString('base64').replace(/=+$/, ''))),
];

// A key under its prefix, or a key's body under any look-alike one (`SK_LIVE_`, `sk_prod_`):
// tests of refused keys show fixture keys so.
const ANY_KEY = /[a-z]{2}_[a-z]{4}_[0-9A-Za-z]{50}/gi;
// Colour and cursor codes: CSI, any parameters, one final letter.
const TERMINAL_CODES = /\x1b\[[0-9;?]*[A-Za-z]/g;

type Writer = typeof process.stdout.write;

/** The text with every key-like part and suite password masked, or undefined when it has none. */
export function masked(text: string): string | undefined {
  const plain = text.replace(TERMINAL_CODES, '');
  const leaks = ANY_KEY.test(plain) || SUITE_SECRETS.some((secret) => plain.includes(secret));
  ANY_KEY.lastIndex = 0;
  if (!leaks) return undefined;
  let safe = plain.replace(ANY_KEY, (key) => `${maskApiKey(key)} [masked by reporter-hygiene]`);
  for (const secret of SUITE_SECRETS) safe = safe.replaceAll(secret, '[secret masked by reporter-hygiene]');
  return safe;
}

function guard(stream: NodeJS.WriteStream): () => void {
  const write = stream.write;
  stream.write = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
    const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : undefined;
    const safe = text === undefined ? undefined : masked(text);
    return (write as (...args: unknown[]) => boolean).call(this, safe ?? chunk, ...rest);
  } as Writer;
  return () => {
    stream.write = write;
  };
}

export default function setup(): () => void {
  const restores = [guard(process.stdout), guard(process.stderr)];
  return () => {
    for (const restore of restores) restore();
  };
}
