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
  return outdoes(params, stored.params) || stored.salt.length < SALT_BYTES || stored.hash.length < HASH_BYTES || stored.pepperId !== currentPepperId;
}

/**
 * The parameters a rehash writes: the policy's where they outdo the stored hash's (the order
 * of {@link fallsShortOfPolicy}), the stored hash's own otherwise. A hash rewritten for its
 * pepper, salt or output alone keeps stronger parameters than a gateway's policy, so a gateway
 * with a lighter `argon2` than the app that issued the key never lowers memory.
 *
 * @param stored - the parameters of the stored hash.
 * @param policy - the parameters new hashes are written with.
 * @returns the stronger of the two, by memory first, then iterations.
 * @example
 * ```ts
 * // An app that rehashes on needsRehash writes what rehashOnSuccess would.
 * const parsed = parseStoredHash(row.key_hash);
 * if (parsed.ok && needsRehash(row.key_hash, params, 'p2')) {
 *   await rewrite(row, await hashSecret(secret, rehashParams(parsed.value.params, params), { id: 'p2', secret: rowPepper(p2, row) }));
 * }
 * ```
 */
export function rehashParams(stored: Readonly<Argon2Params>, policy: Readonly<Argon2Params>): Readonly<Argon2Params> {
  return outdoes(policy, stored) ? policy : stored;
}

/** Whether `a` takes more memory than `b`, or as much memory and more iterations. */
function outdoes(a: Readonly<Argon2Params>, b: Readonly<Argon2Params>): boolean {
  return a.memoryKiB > b.memoryKiB || (a.memoryKiB === b.memoryKiB && a.iterations > b.iterations);
}
