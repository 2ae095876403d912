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
    ['a key body in lower case', `body ${KEY.slice(8).toLowerCase()}`, 'body …'],
    ['a key in hexadecimal', `hex ${Buffer.from(KEY).toString('hex')}`, 'hex …'],
    ['a key percent-encoded byte by byte', `url ${[...Buffer.from(KEY)].map((byte) => `%${byte.toString(16)}`).join('')}`, 'url …'],
    ['the password of a connection string', 'connect ECONNREFUSED postgres://app:hunter2@db.internal:5432/keys', 'connect ECONNREFUSED postgres://app:…@db.internal:5432/keys'],
    ['a URL password holding an unescaped @, as drivers read it', 'postgres://app:pa@ss@db/keys', 'postgres://app:…@db/keys'],
    ['a URL password after a dash or a digit', '-postgres://app:hunter2@db and 2redis://u:pw@cache', '-postgres://app:…@db and 2redis://u:…@cache'],
    ['a URL password with escapes and no user', 'redis://:p%40ss:w0rd@cache:6379 and mysql://u:x@h', 'redis://:…@cache:6379 and mysql://u:…@h'],
  ])('withholds %s', (_name, text, expected) => {
    expect(withSecretsWithheld(text)).toBe(expected);
  });

  it.each([
    ['option names a person writes', 'usageFlushIntervalMs maxFailuresPerClient argon2Pool'],
    ['an address and a port', 'connect ECONNREFUSED 127.0.0.1:5432'],
    ['a short hexadecimal id and an upper-case request id', 'id 9f86d081884c7d65 request 7ZKQ3M0NX2H8Y4PB1C6T'],
    ['a UUID', 'row 0b8e3c9e-4f2a-4c1d-9a7e-2f5d8c3b1a60'],
    ['a word of one letter case', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    ['a URL with a port and an address in its query', 'GET https://hooks.example.com:8443/in?notify=ops@example.com failed'],
    ['a URL with a user and no password', 'postgres://app@db.internal/keys'],
    ['a URL ending the text with its port', 'connect ECONNREFUSED https://db.internal:8443'],
  ])('leaves %s alone', (_name, text) => {
    expect(withSecretsWithheld(text)).toBe(text);
  });
});

describe('describeError', () => {
  it('withholds the start of a URL password that the cut for length leaves without its @', () => {
    // Withheld runs shrink the text, so what lay past the 300 characters shown moves into view;
    // the cut at 600 (of "Error: " and the message) falls four characters into the password,
    // after a character no run of base62 holds.
    const runs = `${KEY.slice(8, 28)} `.repeat(27);
    const message = `${runs}zzzzzz postgres://app:pw-s3cret@db/keys`;
    expect('Error: '.length + message.indexOf('pw-s3cret') + 4).toBe(600);

    const described = describeError(new Error(message));

    expect(described).toBe(`Error: ${'… '.repeat(27)}zzzzzz postgres://app:……`);
  });

  it('withholds what follows the user of a URL that the cut for length leaves, an @ in the password included', () => {
    const runs = `${KEY.slice(8, 28)} `.repeat(27);
    const message = `${runs}postgres://app:xx@yy-yy!y-yyyy!zz@db/keys`;
    expect('Error: '.length + message.indexOf('xx@yy') + 11).toBe(600);

    expect(describeError(new Error(message))).toBe(`Error: ${'… '.repeat(27)}postgres://app:……`);
  });

  it('withholds the password of a connection string a store\'s error quotes, keeping its code', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED postgres://gateway:s3cret-pw@10.0.0.7:5432/keys'), { code: 'ECONNREFUSED' });

    expect(describeError(error)).toBe('Error ECONNREFUSED: connect ECONNREFUSED postgres://gateway:…@10.0.0.7:5432/keys');
  });

  it('escapes line breaks, terminal escapes and bidirectional controls', () => {
    expect(describeError(new Error('a\nb\r\u001b[31mc\u202ed\u2028e'))).toBe('Error: a\\u000ab\\u000d\\u001b[31mc\\u202ed\\u2028e');
  });

  it('escapes zero-width characters, a byte-order mark, an Arabic letter mark and lone surrogates', () => {
    expect(describeError(new Error('a\u200bb\ufeffc\u061cd\ud800e'))).toBe('Error: a\\u200bb\\ufeffc\\u061cd\\ud800e');
  });

  it('never cuts through a surrogate pair', () => {
    const described = describeError(new Error(`${'x '.repeat(146)}\u{1f4e8}\u{1f4e8}${'y '.repeat(50)}`));
    expect(described).not.toMatch(/\p{Cs}/u);
    expect(described.endsWith('…')).toBe(true);
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
