import { isIPv6 } from 'node:net';

/** Longest client address kept as a counter key; a proxy header can hold anything. */
const MAX_ADDRESS_LENGTH = 100;

/**
 * The attempt throttle's counter key for a client address. An IPv6 address counts as its
 * /64, the block a single subscriber is usually given: counted one by one, a client with a
 * /64 would have as many fresh allowances as it likes. An IPv4-mapped IPv6 address (how a
 * dual-stack server sees an IPv4 client) counts as that IPv4 address. Anything else counts
 * as it is, cut to 100 characters.
 *
 * @param address - the client address as the app reads it.
 * @returns the key its failures are counted under.
 * @example
 * ```ts
 * clientCounterKey('2001:db8:7:9:1::5'); // '2001:db8:7:9::/64'
 * clientCounterKey('::ffff:203.0.113.7'); // '203.0.113.7'
 * ```
 */
export function clientCounterKey(address: string): string {
  const bare = address.split('%')[0]!.toLowerCase(); // without an IPv6 zone id
  if (address.length <= MAX_ADDRESS_LENGTH && isIPv6(bare)) {
    const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare);
    return mapped ? mapped[1]! : block64(bare);
  }
  return address.length > MAX_ADDRESS_LENGTH ? address.slice(0, MAX_ADDRESS_LENGTH) : address;
}

/** The /64 of a valid IPv6 address, its first four groups written without leading zeros. */
function block64(address: string): string {
  const [head = '', tail] = address.split('::');
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':'));
  // An embedded IPv4 address at the end takes the room of two groups.
  const width = (groups: string[]) => groups.reduce((sum, group) => sum + (group.includes('.') ? 2 : 1), 0);
  const left = groupsOf(head);
  const right = tail === undefined ? [] : groupsOf(tail);
  const zeros = tail === undefined ? [] : Array<string>(8 - width(left) - width(right)).fill('0');
  const first4 = [...left, ...zeros, ...right].slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16));
  return `${first4.join(':')}::/64`;
}
