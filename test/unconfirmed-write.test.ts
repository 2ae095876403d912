/**
 * After a write the store did not confirm, the row read again tells "never landed" from "another
 * request changed the same fields meanwhile" (see provesNotWritten).
 */
import { describe, expect, it } from 'vitest';
import type { ApiKeyRow } from 'keyward';
import { provesNotWritten } from '../src/unconfirmed-write.js';

/** A row as a store hands it over, with only the fields these cases read. */
const row = (fields: Partial<ApiKeyRow>) => fields as ApiKeyRow;

describe('provesNotWritten', () => {
  it('proves it when a field the patch changes still holds its old value', () => {
    expect(provesNotWritten(row({ status: 'allowed' }), row({ status: 'allowed' }), { status: 'suspended' })).toBe(true);
  });

  it('does not when a field the patch changes holds the patch\'s value, though another still holds its old one', () => {
    const patch = { webhook_url: 'https://new.example.com/in', webhook_basic_auth_username: 'a' };
    const before = row({ webhook_url: 'https://old.example.com/in', webhook_basic_auth_username: 'u0' });
    expect(provesNotWritten(row({ webhook_url: 'https://new.example.com/in', webhook_basic_auth_username: 'u0' }), before, patch)).toBe(false);
  });

  it('does not when every field the patch changes holds a third value', () => {
    expect(provesNotWritten(row({ status: 'locked' }), row({ status: 'allowed' }), { status: 'suspended' })).toBe(false);
  });

  it('reads a field a store left out as null, on either side', () => {
    const patch = { webhook_url: 'https://hooks.example.com/in' };
    expect(provesNotWritten(row({ webhook_url: null }), row({}), patch)).toBe(true);
    expect(provesNotWritten(row({}), row({ webhook_url: null }), patch)).toBe(true);
    expect(provesNotWritten(row({ webhook_url: 'https://other.example.com/in' }), row({}), patch)).toBe(false);
  });

  it('does not when the patch changes nothing and the row now holds other values', () => {
    expect(provesNotWritten(row({ status: 'locked' }), row({ status: 'allowed' }), { status: 'allowed' })).toBe(false);
  });

  it('reads a Date and the text of its time as one value, either way round', () => {
    const at = new Date('2026-12-06T12:00:00Z');
    const patch = { revoked_at: new Date('2026-12-06T13:00:00Z') };
    expect(provesNotWritten(row({ revoked_at: at }), row({ revoked_at: at.toISOString() as unknown as Date }), patch)).toBe(true);
    expect(provesNotWritten(row({ revoked_at: at.toISOString() as unknown as Date }), row({ revoked_at: at }), patch)).toBe(true);
  });

  it('reads a status as keyward does: revoked and revoqued are one value', () => {
    expect(provesNotWritten(row({ status: 'revoked' as ApiKeyRow['status'] }), row({ status: 'revoqued' }), { status: 'allowed' })).toBe(true);
  });
});
