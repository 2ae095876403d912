import { createHash } from 'node:crypto';

/**
 * A fixed 32-byte webhook sealing key for tests, another for each seed. keyward refuses key
 * material of one byte repeated, and the same bytes under two ids.
 *
 * @param seed - tells the keys apart.
 */
export function testSealingKey(seed: number): Buffer {
  return createHash('sha256').update(`keyward test sealing key ${seed}`).digest();
}
