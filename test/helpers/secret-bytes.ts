import { createHash } from 'node:crypto';

/**
 * Fixed 32 bytes of secret key material for tests (a webhook sealing key, a pepper), other
 * bytes for each seed. keyward refuses key material of one byte repeated, and the same bytes
 * under two ids.
 *
 * @param seed - tells the keys apart.
 */
export function testSecretBytes(seed: number): Buffer {
  return createHash('sha256').update(`keyward test secret ${seed}`).digest();
}
