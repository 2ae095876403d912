import { beforeEach, describe, expect, it } from 'vitest';
import {
  MemoryKeyStore,
  assertWebhookPassword,
  basicAuthorizationHeader,
  createKeyManager,
  createSecretBox,
  generateApiKey,
  normalizeWebhookUrl,
  normalizeWebhookUsername,
  webhookAuthorizationFor,
  type ApiKeyRow,
  type KeyManager,
} from '../src/index.js';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { rejection, thrown } from './helpers/errors.js';
import { testSecretBytes } from './helpers/secret-bytes.js';

const SEALING = { current: 'k1', keys: { k1: testSecretBytes(1) } };

describe('normalizeWebhookUrl', () => {
  it.each([
    ['https://hooks.example.com/in', 'https://hooks.example.com/in'],
    ['HTTPS://Hooks.Example.COM:8443/in?shop=42', 'https://hooks.example.com:8443/in?shop=42'],
    ['https://hooks.example.com', 'https://hooks.example.com/'],
    ['https://b\u00fccher.example/in', 'https://xn--bcher-kva.example/in'],
    ['https://hooks.example.com:443/in', 'https://hooks.example.com/in'],
    ['https://hooks.example.com/a@b?to=x@y', 'https://hooks.example.com/a@b?to=x@y'],
    ['https://172.32.0.1/in', 'https://172.32.0.1/in'],
    ['https://[2001:db8::1]/in', 'https://[2001:db8::1]/in'],
    ['https://localhost.example.com/in', 'https://localhost.example.com/in'],
    ['https://[64:ff9b::8.8.8.8]/in', 'https://[64:ff9b::808:808]/in'],
    ['https://[2002:808:808::1]/in', 'https://[2002:808:808::1]/in'],
    ['https://[2001:4860::8888]/in', 'https://[2001:4860::8888]/in'],
    ['https://[2001:db8::5efe:808:808]/in', 'https://[2001:db8::5efe:808:808]/in'],
  ])('accepts %s and stores %s', (input, stored) => {
    expect(normalizeWebhookUrl(input)).toBe(stored);
  });

  // The README's list of what the WHATWG URL parser's normalized form changes.
  it.each([
    ['https:\\\\hooks.example.com\\a', 'https://hooks.example.com/a'],
    ['https:hooks.example.com/a', 'https://hooks.example.com/a'],
    ['https://hooks.example.com/a/../b', 'https://hooks.example.com/b'],
    ['https://hooks.example.com/%2e%2E/b', 'https://hooks.example.com/b'],
    ['https://0x8.8.8.8/', 'https://8.8.8.8/'],
    ['https://134744072/', 'https://8.8.8.8/'],
    ['https://8.526344/', 'https://8.8.8.8/'],
    ['https://exa%6Dple.com/', 'https://example.com/'],
    ['https://\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com/', 'https://example.com/'],
    ['https://exam\u00adple.com/', 'https://example.com/'],
    ['https://hooks.example.com:0443/in', 'https://hooks.example.com/in'],
    ['https://hooks.example.com/b\u00fccher', 'https://hooks.example.com/b%C3%BCcher'],
  ])('stores %s in the URL parser\'s normalized form %s', (input, stored) => {
    expect(normalizeWebhookUrl(input)).toBe(stored);
  });

  it.each([
    ['plain http', 'http://hooks.example.com/in', /must use https:\/\//],
    ['another scheme', 'ftp://hooks.example.com/in', /must use https:\/\//],
    ['a javascript: URL', 'javascript:alert(1)', /must use https:\/\//],
    ['credentials in the URL', 'https://relay:s3cret@hooks.example.com/in', /must not contain credentials/],
    ['a user name in the URL', 'https://relay@hooks.example.com/in', /must not contain credentials/],
    ['an empty user info', 'https://@hooks.example.com/in', /must not contain credentials/],
    ['an empty user name and password', 'https://:@hooks.example.com/in', /must not contain credentials/],
    ['an empty user info without slashes', 'https:@hooks.example.com/in', /must not contain credentials/],
    ['an empty user info after backslashes', 'https:\\\\@hooks.example.com/in', /must not contain credentials/],
    ['an empty user info in upper case', 'HTTPS://@hooks.example.com/in', /must not contain credentials/],
    ['localhost', 'https://localhost:8443/in', /must name a public host/],
    ['a name under .localhost, with a trailing dot', 'https://api.localhost./in', /must name a public host/],
    ['a loopback address in shorthand', 'https://127.1/in', /must name a public host/],
    ['a loopback address as one number', 'https://2130706433/in', /must name a public host/],
    ['a private address', 'https://10.1.2.3/in', /must name a public host/],
    ['a private address in 172.16/12', 'https://172.31.255.1/in', /must name a public host/],
    ['a cloud metadata address', 'https://169.254.169.254/latest/', /must name a public host/],
    ['an unspecified address', 'https://0.0.0.0/in', /must name a public host/],
    ['IPv6 loopback', 'https://[::1]/in', /must name a public host/],
    ['an IPv6 unique local address', 'https://[fd12:3456::1]/in', /must name a public host/],
    ['an IPv6 link-local address', 'https://[fe80::1]/in', /must name a public host/],
    ['IPv4 loopback written as IPv6', 'https://[::ffff:127.0.0.1]/in', /must name a public host/],
    ['an IPv4-compatible IPv6 address', 'https://[::10.0.0.1]/in', /must name a public host/],
    ['an IPv4-translated IPv6 address', 'https://[::ffff:0:169.254.169.254]/in', /must name a public host/],
    ['a NAT64 address carrying a private one', 'https://[64:ff9b::192.168.1.1]/in', /must name a public host/],
    ['a 6to4 address carrying loopback', 'https://[2002:7f00:1::1]/in', /must name a public host/],
    ['an IPv6 site-local address', 'https://[fec0::1]/in', /must name a public host/],
    ['a benchmarking address', 'https://198.18.0.1/in', /must name a public host/],
    ['a Teredo address', 'https://[2001::53aa:64c:0:0]/in', /must name a public host/],
    ['an IPv6 discard address', 'https://[100::1]/in', /must name a public host/],
    ['localhost with two trailing dots', 'https://localhost../in', /must name a public host/],
    ['an ISATAP address carrying the metadata address', 'https://[::5efe:169.254.169.254]/in', /must name a public host/],
    ['a global ISATAP address carrying loopback', 'https://[2001:db8::200:5efe:127.0.0.1]/in', /must name a public host/],
    ['an IPv6 benchmarking address', 'https://[2001:2::1]/in', /must name a public host/],
    ['not a URL at all', 'hooks.example.com/in', /not a valid absolute URL/],
    ['a scheme with no host', 'https://', /not a valid absolute URL/],
    ['an empty string', '', /required/],
    ['overly long', `https://hooks.example.com/${'a'.repeat(2048)}`, /at most 2048 characters/],
    ['short as typed but long once percent-encoded', `https://hooks.example.com/${'é'.repeat(700)}`, /at most 2048 characters once normalized \(non-ASCII characters are percent-encoded/],
    ['leading whitespace', ' https://hooks.example.com/in', /spaces, line breaks or control/],
    ['a line break the parser would drop', 'https://hooks.example.com/i\nn', /spaces, line breaks or control/],
    ['a tab', 'https://hooks.example.com/\tin', /spaces, line breaks or control/],
    ['an inner space', 'https://hooks.example.com/a b', /spaces, line breaks or control/],
    ['a NUL byte', 'https://hooks.example.com/\u0000', /spaces, line breaks or control/],
    ['a fragment', 'https://hooks.example.com/in#events', /#fragment/],
    ['an empty fragment', 'https://hooks.example.com/in#', /#fragment/],
  ])('refuses %s with ERR_WEBHOOK_INVALID', (_what, input, message) => {
    const error = thrown(() => normalizeWebhookUrl(input));

    expect(error.code).toBe('ERR_WEBHOOK_INVALID');
    expect(error.status).toBe(400);
    expect(error.message).toMatch(message);
  });

  it('refuses a value that is not a string', () => {
    for (const value of [undefined, null, 42, { href: 'https://hooks.example.com/' }]) {
      expect(thrown(() => normalizeWebhookUrl(value)).code).toBe('ERR_WEBHOOK_INVALID');
    }
  });

  it('never repeats credentials from the URL in its message', () => {
    const error = thrown(() => normalizeWebhookUrl('https://relay:s3cret@hooks.example.com/in'));

    expect(error.message).not.toContain('s3cret');
    expect(error.message).not.toContain('relay');
  });

  it.each([
    ['a lone high surrogate', 'https://a.example/\ud800'],
    ['a lone low surrogate', 'https://a.example/in\udc00x'],
    ['a lone surrogate in the host', 'https://a\ud83d.example/'],
  ])('refuses %s instead of storing it as U+FFFD, without repeating the URL', (_what, input) => {
    const error = thrown(() => normalizeWebhookUrl(input));

    expect(error.code).toBe('ERR_WEBHOOK_INVALID');
    expect(error.status).toBe(400);
    expect(error.message).toBe('"url" must be well-formed Unicode text.');
    expect(error.message).not.toContain('a.example');
  });

  it('accepts a surrogate pair (an emoji) in the path, percent-encoded as UTF-8', () => {
    expect(normalizeWebhookUrl('https://a.example/\ud83d\ude00')).toBe('https://a.example/%F0%9F%98%80');
  });

  it('accepts a URL of exactly 2048 characters', () => {
    const base = 'https://hooks.example.com/';
    const url = base + 'a'.repeat(2048 - base.length);

    expect(normalizeWebhookUrl(url)).toBe(url);
  });
});

describe('normalizeWebhookUsername', () => {
  it('treats null and an empty string as no username, and undefined as keeping the stored one, as setWebhook reads them', () => {
    expect(normalizeWebhookUsername(null)).toBeNull();
    expect(normalizeWebhookUsername('')).toBeNull();
    expect(normalizeWebhookUsername(undefined)).toBeUndefined();
  });

  it('accepts ASCII and non-ASCII usernames', () => {
    expect(normalizeWebhookUsername('hook-relay')).toBe('hook-relay');
    expect(normalizeWebhookUsername('Jos\u00e9 relay')).toBe('Jos\u00e9 relay');
  });

  it('keeps spaces at the ends of a username that is more than spaces', () => {
    expect(normalizeWebhookUsername('  hook relay ')).toBe('  hook relay ');
  });

  it.each([
    ['a colon (RFC 7617)', 'hook:relay', /must not contain ":"/],
    ['a control character', 'hook\u0007relay', /control characters/],
    ['a line break', 'hook\r\nrelay', /control characters/],
    ['more than 256 bytes', 'a'.repeat(257), /at most 256 bytes/],
    ['more than 256 bytes in UTF-8 though 129 characters', '\u00fc'.repeat(129), /at most 256 bytes/],
    ['more than 256 bytes once in normalization form C, the form it is sent in', '\u0958'.repeat(85), /at most 256 bytes in UTF-8, also in Unicode normalization form C/],
    ['a lone surrogate', 'hook\ud800', /well-formed Unicode/],
    ['a right-to-left override (U+202E)', 'hook\u202erelay', /invisible or blank-looking characters/],
    ['a Hangul filler (U+3164), which renders as nothing', 'hook\u3164relay', /invisible or blank-looking characters/],
    ['a combining grapheme joiner (U+034F)', 'hook\u034frelay', /invisible or blank-looking characters/],
    ['a variation selector (U+FE0F)', 'hook\ufe0frelay', /invisible or blank-looking characters/],
    ['a zero-width space (U+200B)', 'hook\u200brelay', /invisible or blank-looking characters/],
    ['a line separator (U+2028)', 'hook\u2028relay', /line or paragraph separators/],
    ['a paragraph separator (U+2029)', 'hook\u2029relay', /line or paragraph separators/],
    ['a Braille pattern blank (U+2800), which shows as a space yet is no whitespace', '\u2800', /invisible or blank-looking characters/],
    ['a noncharacter (U+FFFF)', 'hook\uffffrelay', /noncharacters/],
    ['a Khitan small script filler (U+16FE4)', '\u{16fe4}', /invisible or blank-looking characters/],
    ['a musical null notehead (U+1D159)', 'hook\u{1d159}', /invisible or blank-looking characters/],
    ['a noncharacter beyond the first plane (U+10FFFE)', 'hook\u{10fffe}', /noncharacters/],
    ['spaces alone', '   ', /must not be only whitespace: send null or "" to remove it/],
    ['no-break spaces alone (U+00A0)', '\u00a0\u00a0', /must not be only whitespace/],
    ['an ideographic space alone (U+3000)', '\u3000', /must not be only whitespace/],
  ])('refuses %s', (_what, input, message) => {
    const error = thrown(() => normalizeWebhookUsername(input));

    expect(error.code).toBe('ERR_WEBHOOK_INVALID');
    expect(error.message).toMatch(message);
  });

  it('refuses a value that is not a string', () => {
    expect(thrown(() => normalizeWebhookUsername(7)).code).toBe('ERR_WEBHOOK_INVALID');
  });

  // Every key card shows the URL and the username in clear.
  it.each([
    {
      field: 'url',
      normalize: normalizeWebhookUrl,
      holding: (key: string) => [
        `https://hooks.example.com/sms?api_key=${key}`,
        `https://hooks.example.com/${key.slice(8)}/in`,
        `https://hooks.example.com/sms?api_key=${key.replaceAll('_', '%5F')}`,
        `https://hooks.example.com/px${key}x`,
        // Escaped where the receiver undoes it: a body character, every character, a space.
        `https://hooks.example.com/sms?token=${key.slice(0, 9)}%${key.charCodeAt(9).toString(16)}${key.slice(10)}`,
        `https://hooks.example.com/sms?token=${[...key].map((character) => `%${character.charCodeAt(0).toString(16)}`).join('')}`,
        `https://hooks.example.com/sms?auth=Bearer%20${key}`,
        // The body run together with letters or an escaped digit at either end.
        `https://hooks.example.com/x${key.slice(8)}`,
        `https://hooks.example.com/%31${key.slice(8)}9/in`,
      ],
      kept: 'https://hooks.example.com/sk_live/in',
    },
    {
      field: 'username',
      normalize: normalizeWebhookUsername,
      holding: (key: string) => [key, `Bearer ${key}`, key.slice(8), `x${key}y`, key.replaceAll('_', '%5f'), `x${key.slice(8)}`, `${key.slice(8)}2`],
      kept: 'task_live_receiver1',
    },
  ])('refuses a $field holding an API key (whole, run together, encoded, or its body alone or run together) without repeating it', ({ field, normalize, holding, kept }) => {
    const { key } = generateApiKey('sandbox');
    for (const input of holding(key)) {
      const error = thrown(() => normalize(input));

      expect(error.code).toBe('ERR_WEBHOOK_INVALID');
      expect(error.message).toMatch(new RegExp(`"${field}" holds an API key`));
      expect(error.message).not.toContain(key.slice(8, 24));
    }
    expect(normalize(kept)).toBe(kept);
  });

  it('never repeats a refused invisible or separator character, or the text around it', () => {
    for (const input of ['zq7\u202exv9', 'zq7\u2028xv9']) {
      const error = thrown(() => normalizeWebhookUsername(input));

      expect(error.message).not.toMatch(/zq7|xv9|\u202e|\u2028/);
    }
  });
});

describe('assertWebhookPassword', () => {
  it('accepts colons and non-ASCII characters', () => {
    expect(assertWebhookPassword('p4ss:w0rd:x')).toBe('p4ss:w0rd:x');
    expect(assertWebhookPassword('p\u00e4ssw\u00f6rd')).toBe('p\u00e4ssw\u00f6rd');
  });

  it.each([
    ['an empty string', '', /non-empty string/],
    ['a number', 1234, /non-empty string/],
    ['a control character', 'zq7\u0000xv9', /control characters/],
    ['more than 1024 bytes', 'Qz'.repeat(513), /at most 1024 bytes/],
    // 1,023 bytes as typed, 2,046 in normalization form C, the form Basic auth sends it in.
    ['more than 1024 bytes once in normalization form C', '\u0958'.repeat(341), /at most 1024 bytes in UTF-8, also in Unicode normalization form C/],
  ])('refuses %s without repeating it', (_what, input, message) => {
    const error = thrown(() => assertWebhookPassword(input));

    expect(error.code).toBe('ERR_WEBHOOK_INVALID');
    expect(error.message).toMatch(message);
    if (typeof input === 'string' && input.length > 0) expect(error.message).not.toMatch(/zq7|Qz/);
  });
});

describe('KeyManager: webhook settings', () => {
  let store: MemoryKeyStore;
  let manager: KeyManager;
  let keyId: string;

  const row = () => store.allRows().find((r) => r.id === keyId)!;

  beforeEach(async () => {
    store = new MemoryKeyStore();
    manager = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: SEALING });
    keyId = (await manager.issue({ accountId: 'acct_1', environment: 'production' })).card.keyId;
  });

  it.each([
    ['7 letters', 'hunter7'],
    ['7 characters written with combining accents (14 code points, 7 once composed)', 'e\u0301'.repeat(7)],
    ['7 emoji (14 UTF-16 code units)', '\u{1F511}'.repeat(7)],
  ])('refuses a password of %s with ERR_WEBHOOK_INVALID and writes nothing', async (_what, password) => {
    const before = row();
    const error = await rejection(manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', password }));
    expect([error.code, error.status, error.message]).toEqual(['ERR_WEBHOOK_INVALID', 400, '"password" must be at least 8 characters long.']);
    expect(row()).toEqual(before);
  });

  it.each([
    ['8 letters', 'hunter78'],
    ['8 emoji', '\u{1F511}'.repeat(8)],
    ['8 characters written with combining accents', 'e\u0301'.repeat(8)],
  ])('stores a password of %s, the shortest it takes', async (_what, password) => {
    const card = await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', password });
    expect(card.webhook.basicAuthConfigured).toBe(true);
  });

  it.each([
    ['a BigInt', 10n],
    ['an object whose toJSON throws', { toJSON: () => { throw new RangeError('boom'); } }],
    ['a Date-like object that is no Date', Object.create(Date.prototype)],
  ])('answers a key id that is %s with ERR_KEY_NOT_FOUND, as the other verbs do, never a raw error', async (_what, id) => {
    for (const settings of [{ url: 'https://hooks.example.com/in' }, { url: 'https://hooks.example.com/in', password: 'p4ss:w0rd:x' }]) {
      const error = await rejection(manager.setWebhook(id as never, settings));
      expect([error.code, error.status]).toEqual(['ERR_KEY_NOT_FOUND', 404]);
    }
  });

  it('answers a stored row whose webhook URL is not text with ERR_WEBHOOK_SECRET (500), never a raw error or a store outage', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/in', password: 'p4ss:w0rd:x' });
    const corrupt = new MemoryKeyStore();
    await corrupt.insert({ ...row(), webhook_url: 5n as never });
    const onCorrupt = createKeyManager({ store: corrupt, argon2: TEST_ARGON2, webhookKeys: SEALING });

    for (const call of [
      () => onCorrupt.resealWebhookPassword(keyId),
      () => onCorrupt.webhookAuthorization(keyId),
      () => onCorrupt.setWebhook(keyId, { url: 'https://hooks.example.com/other' }),
    ]) {
      const error = await rejection(call());
      expect([error.code, error.status, error.expose]).toEqual(['ERR_WEBHOOK_SECRET', 500, false]);
    }
  });

  it('stores URL, username and a sealed password, and describes them without the password', async () => {
    const card = await manager.setWebhook(keyId, {
      url: 'https://Hooks.Example.com/in',
      username: 'hook-relay',
      password: 'p4ss:w0rd:x',
    });

    expect(card.webhook).toEqual({
      url: 'https://hooks.example.com/in',
      username: 'hook-relay',
      basicAuthConfigured: true,
    });
    expect((await manager.describe(keyId))!.webhook).toEqual(card.webhook);
    expect(row().webhook_url).toBe('https://hooks.example.com/in');
    expect(row().webhook_basic_auth_username).toBe('hook-relay');
    expect(row().webhook_basic_auth_password_sealed).toMatch(/^v1\.k1\./);
  });

  it('keeps the stored password when the password is left out, resealed for a new URL and untouched for the same one', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', password: 'first-pass' });
    const sealedForA = row().webhook_basic_auth_password_sealed;

    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay' });
    expect(row().webhook_basic_auth_password_sealed).toBe(sealedForA);
    const card = await manager.setWebhook(keyId, { url: 'https://hooks.example.com/b', username: 'relay' });

    expect(card.webhook.basicAuthConfigured).toBe(true);
    expect(row().webhook_url).toBe('https://hooks.example.com/b');
    expect(row().webhook_basic_auth_password_sealed).not.toBe(sealedForA);
    expect(await manager.webhookAuthorization(keyId)).toBe(basicAuthorizationHeader('relay', 'first-pass'));
  });

  it('does not open a password moved to another key\'s row, nor one left behind when the URL is changed by hand', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay', password: 'victim-pass' });
    const other = (await manager.issue({ accountId: 'acct_2', environment: 'production' })).card.keyId;
    await manager.setWebhook(other, { url: 'https://attacker.example.net/in', username: 'relay' });
    const victim = row();

    const moved = { ...store.allRows().find((r) => r.id === other)!, webhook_basic_auth_password_sealed: victim.webhook_basic_auth_password_sealed };
    const repointed = { ...victim, webhook_url: 'https://attacker.example.net/in' };

    for (const tampered of [moved, repointed]) {
      const error = await rejection(manager.webhookAuthorization(tampered));
      expect([error.code, error.status, error.message]).toEqual(['ERR_WEBHOOK_SECRET', 500, 'The webhook password cannot be opened: wrong key, sealed for another key or URL, or altered.']);
    }
  });

  it.each<[string, { url: string; username?: string }, string]>([
    ['a new URL with the password kept', { url: 'https://hooks.example.com/b' }, 'https://hooks.example.com/b'],
    ['a new username on the same URL', { url: 'https://hooks.example.com/a', username: 'relay' }, 'https://hooks.example.com/a'],
  ])('keeps a password that opens when %s races another save of a new URL and password', async (_what, settings, url) => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', password: 'first-pass' });
    const other = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: SEALING });
    const modify = store.modify.bind(store);
    let raced = false;
    // The other save lands after this call has begun, just before its own write.
    store.modify = async (id, change) => {
      if (!raced) {
        raced = true;
        await other.setWebhook(keyId, { url: 'https://hooks.example.com/c', password: 'second-pass' });
      }
      return modify(id, change);
    };

    await manager.setWebhook(keyId, settings);

    expect(row().webhook_url).toBe(url);
    expect(await manager.webhookAuthorization(keyId)).toBe(basicAuthorizationHeader(settings.username ?? '', 'second-pass'));
  });

  it('says what to do when a kept password opens neither for the row it is on nor for the new URL', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', password: 'first-pass' });
    const sealed = row().webhook_basic_auth_password_sealed;
    await store.modify(keyId, () => ({ webhook_url: 'https://attacker.example.net/in' }));

    const error = await rejection(manager.setWebhook(keyId, { url: 'https://hooks.example.com/b' }));

    // 409 and exposed: the one saving the form can fix it, so an app may show them the message.
    expect([error.code, error.status, error.expose, error.message]).toEqual([
      'ERR_WEBHOOK_SECRET',
      409,
      true,
      'The stored webhook password cannot be opened for this key and URL (altered, or written there by hand), so it cannot be kept: send the password again, or password: null to remove it.',
    ]);
    expect(row().webhook_basic_auth_password_sealed).toBe(sealed);
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', password: 'new-pass' });
    expect(await manager.webhookAuthorization(keyId)).toBe(basicAuthorizationHeader('', 'new-pass'));
  });

  it('keeps the password when the URL it was sealed for is saved again, after the row\'s URL was changed by hand', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', password: 'first-pass' });
    const sealed = row().webhook_basic_auth_password_sealed;
    await store.modify(keyId, () => ({ webhook_url: 'https://attacker.example.net/in' }));

    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a' });

    expect([row().webhook_url, row().webhook_basic_auth_password_sealed]).toEqual(['https://hooks.example.com/a', sealed]);
    expect(await manager.webhookAuthorization(keyId)).toBe(basicAuthorizationHeader('', 'first-pass'));
  });

  it.each([
    ['a colon', 'relay:ops', '"username" must not contain ":" (RFC 7617 reserves it as the separator)'],
    ['a line break', 'relay\nops', '"username" must not contain control characters'],
  ])('refuses to keep a stored username with %s written there by hand (409, naming the rule only), and keeps it when it is sent again', async (_name, written, rule) => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay', password: 'first-pass' });
    await store.modify(keyId, () => ({ webhook_basic_auth_username: written }));
    const before = row();

    const error = await rejection(manager.setWebhook(keyId, { url: 'https://hooks.example.com/a' }));

    expect([error.code, error.status, error.expose, error.message]).toEqual([
      'ERR_WEBHOOK_INVALID',
      409,
      true,
      `The stored webhook username breaks a rule (${rule}), so it cannot be kept: send the username again, or username: null to remove it.`,
    ]);
    expect(error.message).not.toContain(written);
    expect(row()).toEqual(before);
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay' });
    expect(await manager.webhookAuthorization(keyId)).toBe(basicAuthorizationHeader('relay', 'first-pass'));
  });

  it.each([
    ['a save that removes the password', { password: 'first-pass' }, { password: null }],
    ['a save on a row without a password', {}, {}],
  ])('keeps a stored username that breaks the rules, with no header to build: %s', async (_name, saved, extra) => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay', ...saved });
    await store.modify(keyId, () => ({ webhook_basic_auth_username: 'relay:ops' }));

    const card = await manager.setWebhook(keyId, { url: 'https://hooks.example.com/b', ...extra });

    expect([card.webhook.username, card.webhook.basicAuthConfigured]).toEqual(['relay:ops', false]);
    expect(await manager.webhookAuthorization(keyId)).toBeNull();
  });

  it('refuses to keep a stored value that is no sealed value at all, saying to send the password again', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', password: 'first-pass' });
    await store.modify(keyId, () => ({ webhook_basic_auth_password_sealed: 'not-a-sealed-value' }));

    const error = await rejection(manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay' }));

    expect([error.code, error.message]).toEqual([
      'ERR_WEBHOOK_SECRET',
      'The stored webhook password cannot be opened for this key and URL (altered, or written there by hand), so it cannot be kept: send the password again, or password: null to remove it.',
    ]);
  });

  it('builds the delivery header of a row whose username column was not read as one without a username', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', password: 'first-pass' });
    const { webhook_basic_auth_username: _left, ...withoutUsername } = row();

    expect(webhookAuthorizationFor(withoutUsername as ApiKeyRow, createSecretBox(SEALING))).toBe(basicAuthorizationHeader(null, 'first-pass'));
  });

  it('refuses to keep a password copied from another key onto the same URL, and leaves the row as it was', async () => {
    const other = await manager.issue({ accountId: 'acct_other', environment: 'sandbox' });
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', password: 'first-pass' });
    await manager.setWebhook(other.card.keyId, { url: 'https://hooks.example.com/a', password: 'other-pass' });
    const copied = store.allRows().find((stored) => stored.id === other.card.keyId)!.webhook_basic_auth_password_sealed;
    await store.modify(keyId, () => ({ webhook_basic_auth_password_sealed: copied }));

    const error = await rejection(manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay' }));

    expect([error.code, error.status]).toEqual(['ERR_WEBHOOK_SECRET', 409]);
    expect([row().webhook_basic_auth_username, row().webhook_basic_auth_password_sealed]).toEqual([null, copied]);
  });

  it('says which sealing key is missing, not "altered", when a kept password was sealed under a key id no longer configured', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', password: 'first-pass' });
    const rotatedTooSoon = createKeyManager({ store, argon2: TEST_ARGON2, webhookKeys: { current: 'k2', keys: { k2: testSecretBytes(2) } } });

    const error = await rejection(rotatedTooSoon.setWebhook(keyId, { url: 'https://hooks.example.com/b' }));

    expect([error.code, error.message]).toEqual(['ERR_WEBHOOK_SECRET', 'The webhook password was sealed with key id "k1", which is not configured: list that key in webhookKeys.keys again (then resealWebhookPassword moves it to the current key), or set the password again.']);
  });

  it('needs webhookKeys to move a stored password to a new URL', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', password: 'first-pass' });
    const keyless = createKeyManager({ store, argon2: TEST_ARGON2 });

    const error = await rejection(keyless.setWebhook(keyId, { url: 'https://hooks.example.com/b' }));

    expect([error.code, error.status]).toEqual(['ERR_WEBHOOK_SECRET', 500]);
    expect(row().webhook_url).toBe('https://hooks.example.com/a');
  });

  it('clears the password when it is null', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', password: 'first-pass' });

    const card = await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', password: null });

    expect(card.webhook.basicAuthConfigured).toBe(false);
    expect(row().webhook_basic_auth_password_sealed).toBeNull();
  });

  it('replaces the password with a freshly sealed one', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'u', password: 'first-pass' });
    const sealed = row().webhook_basic_auth_password_sealed;

    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'u', password: 'second-pass' });

    expect(row().webhook_basic_auth_password_sealed).not.toBe(sealed);
    expect(await manager.webhookAuthorization(keyId)).toBe(
      `Basic ${Buffer.from('u:second-pass').toString('base64')}`,
    );
  });

  it('clears the username when it is null or empty', async () => {
    for (const username of [null, '']) {
      await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay' });
      const card = await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username });
      expect(card.webhook.username).toBeNull();
      expect(row().webhook_basic_auth_username).toBeNull();
    }
  });

  it('keeps the username, as it keeps the password, when it is left out or undefined, so a new URL alone leaves deliveries authenticated as before', async () => {
    for (const settings of [{ url: 'https://hooks.example.com/b' }, { url: 'https://hooks.example.com/b', username: undefined }]) {
      await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay', password: 'keep-me-please' });
      const card = await manager.setWebhook(keyId, settings);
      expect(card.webhook).toEqual({ url: 'https://hooks.example.com/b', username: 'relay', basicAuthConfigured: true });
      expect(await manager.webhookAuthorization(keyId)).toBe(`Basic ${Buffer.from('relay:keep-me-please').toString('base64')}`);
    }
  });

  it('writes nothing when any field is invalid', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay', password: 'keep-me-please' });
    const before = row();

    for (const settings of [
      { url: 'http://hooks.example.com/b', username: 'other', password: 'new-pass' },
      { url: 'https://hooks.example.com/b', username: 'a:b', password: 'new-pass' },
      { url: 'https://hooks.example.com/b', username: 'other', password: '' },
    ]) {
      const error = await rejection(manager.setWebhook(keyId, settings));
      expect(error.code).toBe('ERR_WEBHOOK_INVALID');
    }
    expect(row()).toEqual(before);
  });

  it('refuses a username with a right-to-left override or a line separator and stores nothing', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay', password: 'keep-me-please' });
    const before = row();

    for (const username of ['relay\u202eyaler', 'relay\u2028two']) {
      const error = await rejection(manager.setWebhook(keyId, { url: 'https://hooks.example.com/b', username }));
      expect(error.code).toBe('ERR_WEBHOOK_INVALID');
      expect(error.status).toBe(400);
    }
    expect(row()).toEqual(before);
  });

  it('refuses a URL with a lone surrogate and stores nothing', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay', password: 'keep-me-please' });
    const before = row();

    for (const url of ['https://a.example/\ud800', 'https://a.example/\udfff']) {
      const error = await rejection(manager.setWebhook(keyId, { url, username: 'other', password: 'new-pass' }));
      expect(error.code).toBe('ERR_WEBHOOK_INVALID');
      expect(error.status).toBe(400);
      expect(error.message).not.toContain('a.example');
    }
    expect(row()).toEqual(before);
  });

  it('requires a URL to enable webhooks', async () => {
    const error = await rejection(manager.setWebhook(keyId, { username: 'relay' } as never));

    expect(error.code).toBe('ERR_WEBHOOK_INVALID');
    expect(error.message).toMatch(/"url" is required/);
  });

  it('refuses a misspelt field name with a did-you-mean, and stores nothing', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay', password: 'keep-me-please' });
    const before = row();

    const error = await rejection(
      manager.setWebhook(keyId, { url: 'https://hooks.example.com/b', usernmae: 'other' } as never),
    );

    expect(error.code).toBe('ERR_WEBHOOK_INVALID');
    expect(error.status).toBe(400);
    expect(error.message).toBe('setWebhook: unknown option (its name is not repeated, as it could be a secret). Did you mean "username"?');
    expect(row()).toEqual(before);
  });

  it('refuses a misspelt field held by a prototype of the caller\'s, and keeps the old username', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay', password: 'keep-me-please' });
    const before = row();
    const settings = Object.assign(Object.create({ usernmae: 'other' }), { url: 'https://hooks.example.com/b' });

    const error = await rejection(manager.setWebhook(keyId, settings));

    expect(error.code).toBe('ERR_WEBHOOK_INVALID');
    expect(error.message).toBe('setWebhook: unknown option (its name is not repeated, as it could be a secret). Did you mean "username"?');
    expect(row()).toEqual(before);
  });

  it('refuses an unknown field name even next to valid ones, repeating neither its value nor its name', async () => {
    const error = await rejection(
      manager.setWebhook(keyId, { url: 'https://hooks.example.com/b', password: 'pw-zq7-long', webhook_secret: 'zq7-secret' } as never),
    );

    expect(error.code).toBe('ERR_WEBHOOK_INVALID');
    expect(error.message).toBe('setWebhook: unknown option (its name is not repeated, as it could be a secret). The options are url, username, password.');
    expect(row().webhook_url).toBeNull();
  });

  it('never repeats a password that an object built wrong holds as a field name', async () => {
    const password = 'Pa55-word-VERY-secret-0123456789';
    const error = await rejection(manager.setWebhook(keyId, { url: 'https://hooks.example.com/b', username: 'relay', [password]: 1 } as never));

    expect(error.code).toBe('ERR_WEBHOOK_INVALID');
    expect(error.message).not.toContain(password.slice(0, 8));
  });

  it('refuses settings that are not an object', async () => {
    expect((await rejection(manager.setWebhook(keyId, null as never))).code).toBe('ERR_WEBHOOK_INVALID');
    const list = await rejection(manager.setWebhook(keyId, ['https://hooks.example.com/a'] as never));
    expect(list.code).toBe('ERR_WEBHOOK_INVALID');
    expect(list.message).toBe('Webhook settings must be { url, username?, password? }.');
  });

  it('refuses to store a password without sealing keys, and writes nothing', async () => {
    const bare = createKeyManager({ store, argon2: TEST_ARGON2 });

    const error = await rejection(bare.setWebhook(keyId, { url: 'https://hooks.example.com/a', password: 'pw-at-least-8' }));

    expect(error.code).toBe('ERR_OPTIONS_INVALID');
    expect(row().webhook_url).toBeNull();
  });

  it('stores URL and username without sealing keys when no password is given', async () => {
    const bare = createKeyManager({ store, argon2: TEST_ARGON2 });

    const card = await bare.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay' });

    expect(card.webhook).toEqual({ url: 'https://hooks.example.com/a', username: 'relay', basicAuthConfigured: false });
  });

  it('clears URL, username and password with clearWebhook', async () => {
    await manager.setWebhook(keyId, { url: 'https://hooks.example.com/a', username: 'relay', password: 'pw-at-least-8' });

    const card = await manager.clearWebhook(keyId);

    expect(card.webhook).toEqual({ url: null, username: null, basicAuthConfigured: false });
    expect(row()).toMatchObject({
      webhook_url: null,
      webhook_basic_auth_username: null,
      webhook_basic_auth_password_sealed: null,
    });
  });

  it('answers ERR_KEY_NOT_FOUND for a key that is not live', async () => {
    await manager.revoke(keyId);

    const error = await rejection(manager.setWebhook(keyId, { url: 'https://hooks.example.com/a' }));

    expect(error.code).toBe('ERR_KEY_NOT_FOUND');
    expect((await rejection(manager.clearWebhook(keyId))).code).toBe('ERR_KEY_NOT_FOUND');
  });
});
