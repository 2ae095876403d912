import { expect } from 'vitest';
import { ApiKeyAuthError } from 'keyward';

/** The ApiKeyAuthError a promise rejects with; fails the test if it resolves or rejects otherwise. */
export async function rejection(promise: Promise<unknown>): Promise<ApiKeyAuthError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ApiKeyAuthError);
  return error as ApiKeyAuthError;
}

/** The ApiKeyAuthError an action throws; fails the test if it returns or throws otherwise. */
export function thrown(action: () => unknown): ApiKeyAuthError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiKeyAuthError);
    return error as ApiKeyAuthError;
  }
  throw new Error('expected a throw');
}
