import { describe, expect, it, vi } from 'vitest';

// A Node.js before 20.12 has no crypto.hash.
vi.mock('node:crypto', async (importOriginal) => ({ ...(await importOriginal<typeof import('node:crypto')>()), hash: undefined }));

describe('keyward on a Node.js without crypto.hash', () => {
  it('refuses to create an authenticator, naming the Node.js version it needs, instead of failing every request', async () => {
    const { createApiKeyAuth, MemoryKeyStore } = await import('../src/index.js');
    expect(() => createApiKeyAuth({ store: new MemoryKeyStore(), argon2Pool: false })).toThrow(
      'keyward needs Node.js 20.12 or later: crypto.hash is missing',
    );
  });
});
