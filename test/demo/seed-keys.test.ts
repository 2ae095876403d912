import { afterAll, describe, expect, it } from 'vitest';
import { createApiKeyAuth, createKeyManager, MemoryKeyStore } from 'keyward';
import { seedDemoKeys } from '../../examples/demo/seed-keys.js';
import { TEST_ARGON2 } from '../fixtures/argon2-vectors.js';

describe("the demo's seeded keys", () => {
  const store = new MemoryKeyStore();
  const auth = createApiKeyAuth({ store, environments: ['sandbox'] });
  afterAll(() => auth.close());

  it('include an allowed key of another type, refused 403 ERR_API_KEY_WRONG_TYPE where sms_api is asked for and let in where no type is', async () => {
    const keys = await seedDemoKeys(createKeyManager({ store, argon2: TEST_ARGON2 }));
    const otherType = keys.find((entry) => entry.label === 'other_type')!.key;
    const request = { headers: { authorization: `Bearer ${otherType}` } };

    const onSms = await auth.authenticate(request, { keyType: 'sms_api' });
    expect(onSms.ok ? undefined : [onSms.error.code, onSms.error.status]).toEqual(['ERR_API_KEY_WRONG_TYPE', 403]);
    const onWhoami = await auth.authenticate(request);
    expect(onWhoami.ok ? onWhoami.context.keyType : undefined).toBe('admin_api');
  });
});
