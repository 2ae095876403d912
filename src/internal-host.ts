import { BlockList, isIPv4 } from 'node:net';

/**
 * Addresses no merchant's public receiver has: this machine, private and shared networks,
 * link-local (cloud metadata services answer on 169.254.169.254), multicast and reserved.
 * IPv4 addresses written as IPv6 (`::ffff:127.0.0.1`) are matched by the IPv4 rules.
 */
const INTERNAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 3],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  INTERNAL.addSubnet(network, prefix, 'ipv6');
}

/**
 * Whether a URL's host, as the WHATWG URL parser normalized it (so `127.1` and `0x7f.1` are
 * `127.0.0.1` by now, and an IPv6 address is in brackets), names this machine or an internal
 * network: `localhost`, a name under `.localhost`, or an address in one of the ranges above.
 * A name that resolves to such an address is not caught: only the address a delivery connects
 * to can tell, so a sender checks it there.
 *
 * @param hostname - `URL.hostname`.
 */
export function isInternalHost(hostname: string): boolean {
  const name = hostname.replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name.startsWith('[')) return INTERNAL.check(name.slice(1, -1), 'ipv6');
  return isIPv4(name) && INTERNAL.check(name, 'ipv4');
}
