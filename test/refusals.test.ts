import { describe, expect, it } from 'vitest';
import { RefusalFactory } from '../src/responses.js';

const refusals = new RefusalFactory('api', 1);
const frames = (error: Error) => (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at '));

describe('RefusalFactory', () => {
  // A flood of forged keys creates refusals by the thousand; capturing a stack for each one
  // was the costliest step of a refusal and tells nothing (it only points into keyward).
  it.each([
    ['missing', () => refusals.missing()],
    ['invalid', () => refusals.invalid()],
    ['inactive', () => refusals.inactive('suspended')],
    ['wrong type', () => refusals.wrongType('sms_api')],
    ['overloaded', () => refusals.overloaded()],
    ['too many attempts', () => refusals.tooManyAttempts(30)],
  ])('builds the %s refusal without stack frames', (_name, build) => {
    const error = build();
    expect(frames(error)).toEqual([]);
    expect(error.stack).toContain(error.message);
  });

  it('keeps the stack of faults, which point at a problem to fix', () => {
    expect(frames(refusals.unavailable(new Error('down'))).length).toBeGreaterThan(0);
    expect(frames(refusals.fault('ERR_STORED_ROW_INVALID', 'stored row invalid')).length).toBeGreaterThan(0);
  });

  it('leaves the process stack trace limit as it found it', () => {
    const before = Error.stackTraceLimit;
    refusals.tooManyAttempts(1);
    expect(Error.stackTraceLimit).toBe(before);
  });

  it('answers 429 with the Retry-After it was given', () => {
    const error = refusals.tooManyAttempts(42);
    expect([error.status, error.code, error.headers]).toEqual([429, 'ERR_TOO_MANY_ATTEMPTS', { 'retry-after': '42' }]);
  });
});
