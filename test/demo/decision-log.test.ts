import { describe, expect, it } from 'vitest';
import type { AuthDecision } from 'keyward';
import { createDecisionLog } from '../../examples/demo/decision-log.js';

const forged: AuthDecision = { outcome: 'refused', status: 429, reason: 'too_many_attempts', lookupId: 'AbCdEfGhIjKl' };
const allowed: AuthDecision = { outcome: 'allowed', status: 200, reason: 'authenticated', keyId: 'key_demo' };

describe('the demo decision log', () => {
  it('writes at most three lines of a kind per second and counts the rest on the next line', () => {
    let now = 1_000_000;
    const lines: string[] = [];
    const log = createDecisionLog((line) => lines.push(line), 3, () => now);

    for (let i = 0; i < 25; i++) log(forged);
    log(allowed);
    now += 1_000;
    log(forged);

    expect(lines).toEqual([
      'auth refused 429 too_many_attempts key=AbCdEfGhIjKl',
      'auth refused 429 too_many_attempts key=AbCdEfGhIjKl',
      'auth refused 429 too_many_attempts key=AbCdEfGhIjKl',
      'auth allowed 200 authenticated key=key_demo',
      'auth refused 429 too_many_attempts key=AbCdEfGhIjKl (22 more like it held back)',
    ]);
  });
});
