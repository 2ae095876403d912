import type { ApiKeyAuthOptions } from 'keyward';

/**
 * Options that keep Argon2 on the test's own thread, where a `vi.mock('hash-wasm')` spy sees
 * every run. Tests that count Argon2 runs spread these into createApiKeyAuth.
 *
 * Empty while Argon2 runs in-thread by default; once the worker pool lands, this becomes
 * `{ argon2Pool: false }` (a spy in the test thread cannot see runs in worker threads).
 */
export const IN_THREAD_ARGON2: Partial<ApiKeyAuthOptions> = {};
