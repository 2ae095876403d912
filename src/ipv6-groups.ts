// Reading IPv6 addresses: their groups, and the IPv4 address some forms carry. Shared by the
// attempt throttle's client keys and the webhook URL's host check.

/** The eight 16-bit groups of a valid IPv6 address (one ending in a dotted quad too). */
export function ipv6Groups(address: string): number[] {
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [Number.parseInt(group, 16)];
          const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = address.split('::');
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The IPv4 address an IPv6 address carries, or undefined: mapped (`::ffff:a.b.c.d`),
 * translated (`::ffff:0:a.b.c.d`), NAT64's `64:ff9b::/96`, compatible (`::a.b.c.d`, but not
 * `::` or `::1`), a Teredo client's own (2001::/32, stored inverted), and 6to4's site address
 * (2002::/16).
 *
 * @param groups - from {@link ipv6Groups}.
 */
export function carriedIpv4(groups: readonly number[]): string | undefined {
  const [g0, g1, g2, , g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  const zeroUpTo = (end: number) => groups.slice(0, end).every((group) => group === 0);
  if (zeroUpTo(5) && g5 === 0xffff) return ipv4Of(g6, g7); // mapped
  if (zeroUpTo(4) && g4 === 0xffff && g5 === 0) return ipv4Of(g6, g7); // translated
  if (g0 === 0x64 && g1 === 0xff9b && groups.slice(2, 6).every((group) => group === 0)) return ipv4Of(g6, g7); // NAT64
  if (zeroUpTo(6) && (g6 !== 0 || g7 > 1)) return ipv4Of(g6, g7); // compatible; not :: or ::1
  if (g0 === 0x2001 && g1 === 0) return ipv4Of(g6 ^ 0xffff, g7 ^ 0xffff); // Teredo: the client's own address
  if (g0 === 0x2002) return ipv4Of(g1, g2); // 6to4: the site's IPv4 address
  return undefined;
}

/** The dotted IPv4 address of two 16-bit groups, the high one first. */
export function ipv4Of(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}
