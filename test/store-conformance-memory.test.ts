import { describe, it } from 'vitest';
import { MemoryKeyStore } from 'keyward';
import { runStoreConformance } from 'keyward/store-conformance';

runStoreConformance({ describe, it }, {
  name: 'MemoryKeyStore',
  createStore: () => new MemoryKeyStore(),
  readAllRows: async (store) => store.allRows(),
});
