/**
 * The card's dates as `GET /portal/api/key` sends them, over real HTTP, for the values a
 * store may hand over: a Date, none, and a value that holds no moment (an Invalid Date, text
 * no date reads from), which used to make the whole answer a 500.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryKeyStore, createKeyManager, type ApiKeyRow, type Environment, type KeyManager } from 'keyward';
import { createPortalApp } from '../../examples/portal/app.js';
import { TEST_ARGON2 } from '../fixtures/argon2-vectors.js';
import { send } from '../helpers/http-client.js';

const ACCOUNT = { accountId: 'acct_card_dates', environment: 'sandbox' } as const;

/** A store whose reads of the live row hand over some fields as a custom store might. */
class AlteredReads extends MemoryKeyStore {
  altered: Partial<Record<keyof ApiKeyRow, unknown>> = {};

  override async findLive(accountId: string, environment: Environment): Promise<ApiKeyRow | null> {
    const row = await super.findLive(accountId, environment);
    return row && ({ ...row, ...this.altered } as ApiKeyRow);
  }
}

let store: AlteredReads;
let manager: KeyManager;
let server: Server;
let logs: string[];

beforeEach(async () => {
  store = new AlteredReads();
  manager = createKeyManager({ store, argon2: TEST_ARGON2 });
  logs = [];
  const app = createPortalApp({ manager, account: ACCOUNT, gatewayUrl: 'http://127.0.0.1:9', usageFlushIntervalMs: 1_000 }, (line) => logs.push(line));
  server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
});

afterEach(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const readCard = async () => {
  const response = await send(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, '/portal/api/key');
  return { status: response.status, card: (JSON.parse(response.body) as { card?: Record<string, unknown> }).card };
};

const dates = (card: Record<string, unknown> | undefined) => ({
  created_at: card?.created_at,
  last_used_at: card?.last_used_at,
  expires_at: card?.expires_at,
  unreadable_dates: card?.unreadable_dates,
  status_lbl: card?.status_lbl,
});

describe('portal card dates', () => {
  it('sends expires_at as ISO 8601 in UTC, and null with no unreadable date for a key that never expires', async () => {
    await manager.issue({ ...ACCOUNT, expiresAt: new Date('2031-02-03T04:05:06.789+02:00') });

    const { status, card } = await readCard();

    expect(status).toBe(200);
    expect(dates(card)).toEqual({
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      last_used_at: null,
      expires_at: '2031-02-03T02:05:06.789Z',
      unreadable_dates: [],
      status_lbl: 'ACTIVE',
    });

    store.altered = { expires_at: null };
    expect(dates((await readCard()).card)).toMatchObject({ expires_at: null, unreadable_dates: [] });
  });

  it.each([
    ['an Invalid Date', new Date(Number.NaN)],
    ['text no date reads from', 'next tuesday'],
  ])('sends an expiry that is %s as null, named in unreadable_dates, on an EXPIRED card (no 500)', async (_what, value) => {
    await manager.issue(ACCOUNT);
    store.altered = { expires_at: value };

    const { status, card } = await readCard();

    expect(status).toBe(200);
    expect(dates(card)).toEqual({
      created_at: expect.stringMatching(/Z$/),
      last_used_at: null,
      expires_at: null,
      unreadable_dates: ['expires_at'],
      status_lbl: 'EXPIRED',
    });
    expect(logs.filter((line) => line.startsWith('portal fault'))).toEqual([]);
  });

  it('sends an unreadable created_at or last_used_at as null, named in unreadable_dates, not a 500', async () => {
    await manager.issue(ACCOUNT);
    store.altered = { created_at: new Date(Number.NaN), last_used_at: 'yesterday-ish' };

    const { status, card } = await readCard();

    expect(status).toBe(200);
    expect(dates(card)).toEqual({
      created_at: null,
      last_used_at: null,
      expires_at: null,
      unreadable_dates: ['created_at', 'last_used_at'],
      status_lbl: 'ACTIVE',
    });
  });

  it('reads a created_at a store hands over as text with a zone', async () => {
    await manager.issue(ACCOUNT);
    store.altered = { created_at: '2026-01-02 03:04:05+01', last_used_at: new Date('2026-03-04T05:06:07Z') };

    const { card } = await readCard();

    expect(dates(card)).toMatchObject({
      created_at: '2026-01-02T02:04:05.000Z',
      last_used_at: '2026-03-04T05:06:07.000Z',
      unreadable_dates: [],
    });
  });
});
