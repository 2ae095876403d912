import { describe, expect, it } from 'vitest';
import { KEY_STATUSES, normalizeStatus, statusLabel } from 'keyward';

describe('statusLabel', () => {
  it.each([
    ['allowed', 'ACTIVE'],
    ['expired', 'EXPIRED'],
    ['suspended', 'SUSPENDED'],
    ['revoked', 'SUSPENDED'],
  ])('labels the stored status %s as %s', (stored, label) => {
    expect(statusLabel(stored)).toBe(label);
  });

  it.each([null, undefined, 'Active', 'ALLOWED', 'toString', '__proto__', 5, {}])(
    'labels %s, a value keyward does not know, SUSPENDED, as such a key is refused, instead of throwing',
    (stored) => {
      expect(statusLabel(stored)).toBe('SUSPENDED');
    },
  );

  it('gives the same label for a status as stored and as normalizeStatus gives it', () => {
    for (const status of [...KEY_STATUSES, 'revoked']) expect(statusLabel(status)).toBe(statusLabel(normalizeStatus(status)));
  });
});
