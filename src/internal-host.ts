import { BlockList, isIPv4 } from 'node:net';
import { carriedIpv4, ipv4Of, ipv6Groups } from './ipv6-groups.js';

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
 * still routed inside some networks), multicast, the local-use NAT64 prefix, the discard
 * prefix, Teredo (a tunnel whose addresses hide the IPv4 one they reach) and benchmarking.
 * IPv4 addresses written as IPv6 (`::ffff:127.0.0.1`) are matched by the IPv4 rules; so are
 * those other IPv6 forms carry (see `carriedIpv4`), and an ISATAP address's (see
 * {@link isatapIpv4}).
 */
const INTERNAL_IPV6: readonly (readonly [string, number])[] = [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 32],
  ['2001:2::', 48],
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
  const name = hostname.replace(/\.+$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name.startsWith('[')) {
    const address = name.slice(1, -1);
    if (INTERNAL.check(address, 'ipv6')) return true;
    const groups = ipv6Groups(address);
    return [carriedIpv4(groups), isatapIpv4(groups)].some((ipv4) => ipv4 !== undefined && INTERNAL.check(ipv4, 'ipv4'));
  }
  return isIPv4(name) && INTERNAL.check(name, 'ipv4');
}

/**
 * The IPv4 address an ISATAP address's interface identifier (`0:5efe:a.b.c.d`, or `200:5efe`
 * for a global one) names, under any prefix: the router tunnels to it. Read here and not by the
 * throttle, whose client keys would otherwise merge the hosts of many sites that share one
 * private address.
 */
function isatapIpv4(groups: readonly number[]): string | undefined {
  if ((groups[4]! & 0xfdff) !== 0 || groups[5] !== 0x5efe) return undefined;
  return ipv4Of(groups[6]!, groups[7]!);
}
