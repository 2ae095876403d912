import { HASH_BYTES, SALT_BYTES, type Argon2Params, type ParsedArgon2Hash } from './phc.js';

/**
 * Whether a stored hash falls short of the policy new hashes are written with: weaker
 * parameters, a shorter salt or output, or another pepper than the current one (or a pepper
 * where the policy has none). `rehashOnSuccess` and {@link needsRehash} both decide by it, so
 * a portal and the gateways never disagree about which hashes to rewrite.
 *
 * Parameters are weaker when the policy takes more memory, or as much memory and more
 * iterations: memory first, as it is what makes guessing dear on GPUs. Comparing each
 * parameter on its own would rewrite a stored m=46 MiB, t=1 down to a policy of m=19 MiB, t=2
 * (a trade OWASP lists as equal), and a gateway with the other policy would rewrite it back
 * on its next pass; in this order rewrites only go one way, so two gateway versions never take
 * turns rewriting a row, and memory is never lowered.
 *
 * @param stored - the parsed stored hash.
 * @param params - the parameters new hashes are written with.
 * @param currentPepperId - the id of the pepper new hashes are written with; none if undefined.
 * @returns true when the hash should be rewritten after the next successful verification.
 * @example
 * ```ts
 * fallsShortOfPolicy(parsed, DEFAULT_ARGON2_PARAMS, 'p2');
 * ```
 */
export function fallsShortOfPolicy(stored: ParsedArgon2Hash, params: Readonly<Argon2Params>, currentPepperId: string | undefined): boolean {
  const weaker =
    stored.params.memoryKiB < params.memoryKiB ||
    (stored.params.memoryKiB === params.memoryKiB && stored.params.iterations < params.iterations);
  return weaker || stored.salt.length < SALT_BYTES || stored.hash.length < HASH_BYTES || stored.pepperId !== currentPepperId;
}
