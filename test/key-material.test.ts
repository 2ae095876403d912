import { describe, expect, it } from 'vitest';
import { isOneByteRepeated, isOneByteRepeatedThenZeros } from '../src/key-material.js';
import { testSecretBytes } from './helpers/secret-bytes.js';

const bytes = (...values: number[]) => Uint8Array.from(values);

describe('isOneByteRepeatedThenZeros', () => {
  it.each([
    ['one byte repeated', bytes(0x41, 0x41, 0x41), true],
    ['one byte repeated, then zeros', bytes(0x41, 0x41, 0, 0), true],
    ['zeros only', bytes(0, 0, 0), true],
    ['a zero inside the repeated bytes', bytes(0x41, 0, 0x41, 0), false],
    ['another byte before the zero tail', bytes(0x41, 0x42, 0, 0), false],
    ['random bytes, then zeros', Buffer.concat([testSecretBytes(1), Buffer.alloc(8)]), false],
  ])('answers %s with %s', (_name, material, expected) => {
    expect(isOneByteRepeatedThenZeros(material)).toBe(expected);
  });

  it('catches what isOneByteRepeated catches', () => {
    for (const material of [bytes(7, 7, 7, 7), bytes(0, 0), bytes(0xff)]) {
      expect([isOneByteRepeated(material), isOneByteRepeatedThenZeros(material)]).toEqual([true, true]);
    }
  });
});
