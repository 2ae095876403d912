/**
 * The suite-wide output guard (test/setup/log-hygiene.ts) and the redaction list keyward
 * ships for pino (public case C17).
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { createApiKeyAuth, createKeyManager, generateApiKey, KEYWARD_REDACT_PATHS } from 'keyward';
import { TEST_ARGON2 } from './fixtures/argon2-vectors.js';
import { forbidInOutput, inspectOutput, takeCaught } from './helpers/output-guard.js';
import { InstrumentedStore } from './helpers/stores.js';
import { masked } from './setup/reporter-hygiene.js';

/** A pino logger at debug level that writes its JSON lines into an array. */
function capturingPino(options: pino.LoggerOptions = {}) {
  const lines: string[] = [];
  const logger = pino({ level: 'debug', ...options }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

describe('the output guard', () => {
  it('withholds a key written to the console and reports it for the running test', () => {
    const key = generateApiKey('production').key;
    console.log('issued %s', key);
    expect(takeCaught()).toEqual(['console.log']);
  });

  it('withholds a key written straight to stderr', () => {
    process.stderr.write(Buffer.from(`oops ${generateApiKey('sandbox').key}\n`));
    expect(takeCaught()).toEqual(['process.stderr']);
  });

  it('withholds a registered secret such as a webhook password', () => {
    forbidInOutput('p4ss:w0rd:x');
    console.error({ webhook: { password: 'p4ss:w0rd:x' } });
    expect(takeCaught()).toEqual(['console.error']);
  });

  it('lets ordinary output and masked keys through', () => {
    expect(inspectOutput('key sk_live_kqz3…oU0i used by acct_42', 'console.log')).toBe(false);
    expect(takeCaught()).toEqual([]);
  });
});

describe('the reporter\'s guard (failed assertions print in the main process)', () => {
  it('masks a key even where colour codes split it, as a diff highlights one, and a suite password', () => {
    const { key } = generateApiKey('production');
    const highlighted = `Received: "\x1b[31m${key.slice(0, 20)}\x1b[7m${key.slice(20)}\x1b[27m\x1b[39m" and p4ss:w0rd:x`;

    const safe = masked(highlighted)!;

    expect(safe).toBe(`Received: "${key.slice(0, 12)}\u2026${key.slice(-4)} [masked by reporter-hygiene]" and [secret masked by reporter-hygiene]`);
  });

  it('masks a key\'s body under a look-alike prefix, and a suite password inside a Basic header', () => {
    const body = generateApiKey('production').key.slice(8);
    const header = `Basic ${Buffer.from('hook-relay:p4ss:w0rd:x').toString('base64')}`;

    const safe = masked(`refuses SK_LIVE_${body} and sk_prod_${body}; sent ${header}`)!;

    expect(safe).not.toContain(body);
    expect(safe).not.toContain(header.slice(6, 30));
    expect(safe).toBe('refuses [not a key] [masked by reporter-hygiene] and [not a key] [masked by reporter-hygiene]; sent Basic [secret masked by reporter-hygiene]==');
  });

  it('leaves text without a key or password alone', () => {
    expect(masked('\x1b[32m✓\x1b[39m 12 tests passed')).toBeUndefined();
  });
});

describe('KEYWARD_REDACT_PATHS with pino (C17)', () => {
  it('redacts the Authorization and X-API-Key headers of a request log line', () => {
    const key = generateApiKey('production').key;
    const { logger, lines } = capturingPino({ redact: [...KEYWARD_REDACT_PATHS] });
    logger.info({ req: { method: 'GET', url: '/v1/sms', headers: { authorization: `Bearer ${key}`, 'x-api-key': key, 'user-agent': 'curl' } } }, 'request');
    logger.info({ headers: { authorization: `Bearer ${key}` } }, 'bare headers');
    const written = lines.join('');
    expect(written).not.toContain(key.slice(8));
    const first = JSON.parse(lines[0]!);
    expect(first.req.headers).toEqual({ authorization: '[Redacted]', 'x-api-key': '[Redacted]', 'user-agent': 'curl' });
    expect(JSON.parse(lines[1]!).headers.authorization).toBe('[Redacted]');
  });

  it('logs keyward decisions through pino at debug level without any key material', async () => {
    const store = new InstrumentedStore();
    const { key } = await createKeyManager({ store, argon2: TEST_ARGON2 }).issue({ accountId: 'acct_1', environment: 'production' });
    const { logger, lines } = capturingPino();
    const auth = createApiKeyAuth({ store, logger });
    const forgedHead = key.slice(0, 20) + 'K'.repeat(32);
    try {
      for (const presented of [key, forgedHead + 'AAAAAA', 'sk_live_short', generateApiKey('production').key]) {
        await auth.authenticate({ headers: { authorization: `Bearer ${presented}` } });
      }
    } finally {
      await auth.close();
    }
    const written = lines.join('');
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(written).toContain(key.slice(8, 20));
    expect(written).not.toContain(key.slice(20, 52));
    expect(written).not.toContain('K'.repeat(32));
    expect(written).not.toMatch(/sk_(live|test)_[0-9A-Za-z]{50}/);
  });
});
