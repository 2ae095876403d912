import { BlockList, isIPv4 } from 'node:net';

/**
 * IPv4 addresses no merchant's public receiver has: this machine, private and shared networks,
 * link-local (cloud metadata services answer on 169.254.169.254), IETF protocol assignments,
 * benchmarking, multicast and reserved.
 */
const INTERNAL_IPV4: readonly (readonly [string, number])[] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
];

/**
 * The IPv6 ones: unspecified and loopback, unique local, link-local, site-local (deprecated,
 * still routed inside some networks), multicast, and the local-use NAT64 prefix. IPv4
 * addresses written as IPv6 (`::ffff:127.0.0.1`) are matched by the IPv4 rules; so are those
 * other IPv6 forms embed (see {@link embeddedIpv4}).
 */
const INTERNAL_IPV6: readonly (readonly [string, number])[] = [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['64:ff9b:1::', 48],
];

const INTERNAL = new BlockList();
for (const [network, prefix] of INTERNAL_IPV4) INTERNAL.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of INTERNAL_IPV6) INTERNAL.addSubnet(network, prefix, 'ipv6');

/**
 * Whether a URL's host, as the WHATWG URL parser normalized it (so `127.1` and `0x7f.1` are
 * `127.0.0.1` by now, and an IPv6 address is in brackets, in its shortest form), names this
 * machine or an internal network: `localhost`, a name under `.localhost`, or an address in one
 * of the ranges above. A name that resolves to such an address is not caught: only the
 * address a delivery connects to can tell, so a sender checks it there.
 *
 * @param hostname - `URL.hostname`.
 */
export function isInternalHost(hostname: string): boolean {
  const name = hostname.replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name.startsWith('[')) {
    const address = name.slice(1, -1);
    if (INTERNAL.check(address, 'ipv6')) return true;
    const ipv4 = embeddedIpv4(address);
    return ipv4 !== undefined && INTERNAL.check(ipv4, 'ipv4');
  }
  return isIPv4(name) && INTERNAL.check(name, 'ipv4');
}

/**
 * The IPv4 address an IPv6 one carries, in the forms that reach it through a translator or a
 * tunnel: IPv4-compatible (`::a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), the well-known
 * NAT64 prefix (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`). IPv4-mapped addresses
 * (`::ffff:a.b.c.d`) the block list matches itself.
 *
 * @param address - an IPv6 address as the URL parser writes it (lower case, `::` for the
 *   longest run of zero groups, no dotted quad).
 */
function embeddedIpv4(address: string): string | undefined {
  const groups = groupsOf(address);
  const zero = (from: number, to: number) => groups.slice(from, to).every((group) => group === 0);
  const quad = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  if (zero(0, 6) || (zero(0, 4) && groups[4] === 0xffff && groups[5] === 0)) return quad(groups[6]!, groups[7]!);
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zero(2, 6)) return quad(groups[6]!, groups[7]!);
  if (groups[0] === 0x2002) return quad(groups[1]!, groups[2]!);
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address written in hexadecimal groups and `::`. */
function groupsOf(address: string): number[] {
  const [head = '', tail] = address.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16)));
  const before = parse(head);
  const after = tail === undefined ? [] : parse(tail);
  return [...before, ...new Array<number>(8 - before.length - after.length).fill(0), ...after];
}
