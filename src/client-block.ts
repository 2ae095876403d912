import { isIPv4, isIPv6 } from 'node:net';

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
  return isIPv6(bare) ? ipv6Key(groupsOf(bare), ipv6PrefixLength) : host;
}

/** The host of `a.b.c.d:port` or `[v6]:port`; anything else as it is. */
function withoutPort(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(address);
  if (bracketed) return bracketed[1]!;
  const ipv4WithPort = /^([\d.]+):\d{1,5}$/.exec(address);
  return ipv4WithPort && isIPv4(ipv4WithPort[1]!) ? ipv4WithPort[1]! : address;
}

/** The eight 16-bit groups of a valid IPv6 address. */
function groupsOf(address: string): number[] {
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

function ipv6Key(groups: number[], prefixLength: number): string {
  const [g0, g1, g2, , g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  const ipv4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  const zeroUpTo = (end: number) => groups.slice(0, end).every((group) => group === 0);
  if (zeroUpTo(5) && g5 === 0xffff) return ipv4(g6, g7); // mapped
  if (zeroUpTo(4) && g4 === 0xffff && g5 === 0) return ipv4(g6, g7); // translated
  if (g0 === 0x64 && g1 === 0xff9b && groups.slice(2, 6).every((group) => group === 0)) return ipv4(g6, g7); // NAT64
  if (zeroUpTo(6) && (g6 !== 0 || g7 > 1)) return ipv4(g6, g7); // compatible; not :: or ::1
  if (g0 === 0x2001 && g1 === 0) return ipv4(g6 ^ 0xffff, g7 ^ 0xffff); // Teredo: the client's own address
  if (g0 === 0x2002) return ipv4(g1, g2); // 6to4: the site's IPv4 address
  const hex = (list: number[]) => list.map((group) => group.toString(16)).join(':');
  if ((g0 & 0xe000) !== 0x2000) return hex(groups); // not global unicast
  const masked = groups.map((group, index) => group & maskOf(prefixLength - index * 16));
  return `${hex(masked)}/${prefixLength}`;
}

/** The bits of one 16-bit group that a prefix with `bits` bits left to cover keeps. */
function maskOf(bits: number): number {
  if (bits >= 16) return 0xffff;
  return bits <= 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
}
