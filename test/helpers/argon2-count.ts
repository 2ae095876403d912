import type { ApiKeyAuthOptions } from 'keyward';

/**
 * Options that keep Argon2 on the test's own thread, where a `vi.mock('hash-wasm')` spy sees
 * every run (a spy in the test thread cannot see runs in the pool's worker threads). Tests
 * that count Argon2 runs spread these into createApiKeyAuth.
 */
export const IN_THREAD_ARGON2: Partial<ApiKeyAuthOptions> = { argon2Pool: false };
