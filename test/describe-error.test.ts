import { describe, expect, it } from 'vitest';
import { describeError } from '../src/describe-error.js';
import { quotedName } from '../src/options.js';
import { withSecretsWithheld } from '../src/secret-like.js';

const KEY = `sk_live_${'kqz3AbC9dEfG'}${'Xy7Pq2Rs8Tu4Vw6Za1Bc3De5Fg7Hi9Jk'}oU0iQ2`;

describe('withSecretsWithheld', () => {
  it.each([
    ['a key, kept up to its prefix', `key ${KEY} end`, 'key sk_live_… end'],
    ['a key with a percent-encoded prefix', `sk%5Ftest%5F${KEY.slice(8)}`, 'sk%5Ftest%5F…'],
    ['a key body without its prefix', `body ${KEY.slice(8)}.`, 'body ….'],
    ['a piece of a secret 16 characters long', `part ${KEY.slice(24, 40)}`, 'part …'],
  ])('withholds %s', (_name, text, expected) => {
    expect(withSecretsWithheld(text)).toBe(expected);
  });

  it.each([
    ['option names a person writes', 'usageFlushIntervalMs maxFailuresPerClient argon2Pool'],
    ['an address and a port', 'connect ECONNREFUSED 127.0.0.1:5432'],
    ['a hexadecimal digest and an upper-case request id', 'sha 9f86d081884c7d659a2feaa0c55ad015 id 7ZKQ3M0NX2H8Y4PB1C6T'],
    ['a word of one letter case', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  ])('leaves %s alone', (_name, text) => {
    expect(withSecretsWithheld(text)).toBe(text);
  });
});

describe('describeError', () => {
  it('escapes line breaks, terminal escapes and bidirectional controls', () => {
    expect(describeError(new Error('a\nb\r\u001b[31mc\u202ed\u2028e'))).toBe('Error: a\\u000ab\\u000d\\u001b[31mc\\u202ed\\u2028e');
  });

  it('cuts a long message at 300 characters', () => {
    const described = describeError(new Error('word '.repeat(100)));
    expect(described).toHaveLength(301);
    expect(described.endsWith('…')).toBe(true);
  });

  it('keeps the error\'s own code and withholds a key in a non-error thrown value', () => {
    expect(describeError(Object.assign(new Error('no table'), { code: '42P01' }))).toBe('Error 42P01: no table');
    expect(describeError(`rejected ${KEY}`)).toBe('rejected sk_live_…');
  });
});

describe('quotedName', () => {
  it('shows none of a key body given as an option name, with or without its prefix', () => {
    for (const name of [KEY, KEY.slice(8), KEY.slice(20), `x${KEY.slice(20, 44)}`]) {
      const quoted = quotedName(name);
      expect(quoted.replace(/sk_live_/, '')).not.toMatch(/[0-9A-Za-z]{6}/);
    }
  });

  it('shows a misspelt option name as it was written', () => {
    expect(quotedName('usageFlushIntervalMz')).toBe('"usageFlushIntervalMz"');
  });
});
