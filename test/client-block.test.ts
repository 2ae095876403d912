import { describe, expect, it } from 'vitest';
import { clientCounterKey } from '../src/client-block.js';

describe('clientCounterKey', () => {
  it.each([
    ['a global IPv6 address, as its /64', '2001:db8:7:9:1::5', '2001:db8:7:9:0:0:0:0/64'],
    ['the same /64 in upper case and with leading zeros', '2001:0DB8:0007:0009:ffff::2', '2001:db8:7:9:0:0:0:0/64'],
    ['a bracketed IPv6 address with a port', '[2001:db8:1:2::3]:443', '2001:db8:1:2:0:0:0:0/64'],
    ['an IPv4-mapped address', '::ffff:203.0.113.7', '203.0.113.7'],
    ['an IPv4-mapped address in hex', '::ffff:cb00:7107', '203.0.113.7'],
    ['an IPv4-mapped address written out', '0:0:0:0:0:ffff:203.0.113.7', '203.0.113.7'],
    ['an IPv4-translated address', '::ffff:0:203.0.113.7', '203.0.113.7'],
    ['an IPv4-compatible address', '::203.0.113.7', '203.0.113.7'],
    ['a NAT64 address', '64:ff9b::203.0.113.7', '203.0.113.7'],
    ['an IPv4 address with a port', '203.0.113.7:5678', '203.0.113.7'],
    ['a 6to4 address, as its site\'s IPv4 address', '2002:cb00:7107:2::1', '203.0.113.7'],
    ['the IPv6 loopback, as itself', '::1', '0:0:0:0:0:0:0:1'],
    ['the unspecified address, as itself', '::', '0:0:0:0:0:0:0:0'],
    ['a link-local address, without its zone', 'fe80::1%eth0', 'fe80:0:0:0:0:0:0:1'],
    ['a unique local address, as itself', 'fd00::7', 'fd00:0:0:0:0:0:0:7'],
    ['a Teredo address, as its client\'s IPv4 address', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '192.0.2.45'],
    ['an IPv4 address', '203.0.113.7', '203.0.113.7'],
    ['a bracketed IPv4 address with a port', '[203.0.113.7]:443', '203.0.113.7'],
    ['a bracketed IPv4 address', '[203.0.113.7]', '203.0.113.7'],
    ['anything else', 'client-42', 'client-42'],
  ])('counts %s', (_name, address, key) => {
    expect(clientCounterKey(address)).toBe(key);
  });

  it('keeps IPv4 clients in every IPv6 form apart from each other and from loopback', () => {
    const keys = ['::ffff:198.51.100.1', '::ffff:0:198.51.100.2', '64:ff9b::198.51.100.3', '::198.51.100.4', '::1', '::'].map(clientCounterKey);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('counts a global IPv6 address by the prefix length it is given', () => {
    expect(clientCounterKey('2001:db8:7:9:1::5', 128)).toBe('2001:db8:7:9:1:0:0:5/128');
    expect(clientCounterKey('2001:db8:7:9:1::5', 56)).toBe('2001:db8:7:0:0:0:0:0/56');
    expect(clientCounterKey('2001:db8:7:ff:1::5', 60)).toBe('2001:db8:7:f0:0:0:0:0/60');
  });

  it('cuts an overlong address to its first 100 characters', () => {
    expect(clientCounterKey(`fe80::1%${'x'.repeat(200)}`)).toHaveLength(100);
  });
});
