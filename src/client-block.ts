import { isIPv4, isIPv6 } from 'node:net';
import { carriedIpv4, ipv6Groups } from './ipv6-groups.js';

/** Longest client address kept as a counter key; a proxy header can hold anything. */
const MAX_ADDRESS_LENGTH = 100;

/**
 * The attempt throttle's counter key for a client address.
 *
 * - A global unicast IPv6 address (2000::/3, Teredo's 2001::/32 aside) counts as its block
 *   of `ipv6PrefixLength` bits (a /64 by default, the usual smallest block a subscriber is
 *   given): counted one by one, a client with a /64 would have as many fresh allowances as
 *   it likes. Hosts that hand each customer one address out of a shared /64 want 128.
 * - An IPv6 address that carries an IPv4 address (mapped `::ffff:a.b.c.d`, translated,
 *   compatible, NAT64's `64:ff9b::/96`, 6to4's `2002::/16`, or a Teredo client's) counts as
 *   that IPv4 address, so such clients never share a counter, and an IPv4 host gains
 *   nothing from the IPv6 blocks its address gives it.
 * - Any other IPv6 address (loopback, link-local, unique local) counts as itself.
 * - An address with a port (`203.0.113.7:5678`, `[2001:db8::1]:443`, as some proxies write
 *   it) counts without the port; anything else counts as it is, cut to 100 characters.
 *
 * @param address - the client address as the app reads it.
 * @param ipv6PrefixLength - the bits of a global IPv6 address that name one client.
 * @returns the key its failures are counted under.
 * @example
 * ```ts
 * clientCounterKey('2001:db8:7:9:1::5'); // '2001:db8:7:9:0:0:0:0/64'
 * clientCounterKey('::ffff:203.0.113.7'); // '203.0.113.7'
 * ```
 */
export function clientCounterKey(address: string, ipv6PrefixLength = 64): string {
  if (address.length > MAX_ADDRESS_LENGTH) return address.slice(0, MAX_ADDRESS_LENGTH);
  // Neither IPv6 nor bracketed nor with a port: counts as it is. Most addresses are plain
  // IPv4 ones, and this runs for every request a throttled client sends.
  if (!address.includes(':') && !address.includes('[')) return address;
  const host = withoutPort(address);
  const bare = host.split('%')[0]!.toLowerCase(); // an IPv6 zone id names the server's interface
  return isIPv6(bare) ? ipv6Key(ipv6Groups(bare), ipv6PrefixLength) : host;
}

/** The host of `a.b.c.d:port` or `[v6]:port`; anything else as it is. */
function withoutPort(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(address);
  if (bracketed) return bracketed[1]!;
  const ipv4WithPort = /^([\d.]+):\d{1,5}$/.exec(address);
  return ipv4WithPort && isIPv4(ipv4WithPort[1]!) ? ipv4WithPort[1]! : address;
}

function ipv6Key(groups: number[], prefixLength: number): string {
  const ipv4 = carriedIpv4(groups);
  if (ipv4 !== undefined) return ipv4;
  const hex = (list: number[]) => list.map((group) => group.toString(16)).join(':');
  if ((groups[0]! & 0xe000) !== 0x2000) return hex(groups); // not global unicast
  const masked = groups.map((group, index) => group & maskOf(prefixLength - index * 16));
  return `${hex(masked)}/${prefixLength}`;
}

/** The bits of one 16-bit group that a prefix with `bits` bits left to cover keeps. */
function maskOf(bits: number): number {
  if (bits >= 16) return 0xffff;
  return bits <= 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
}
