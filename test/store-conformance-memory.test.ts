import { describe, it } from 'vitest';
import { MemoryKeyStore } from 'keyward';
import { runStoreConformance } from 'keyward/store-conformance';

runStoreConformance({ describe, it }, {
  name: 'MemoryKeyStore',
  createStore: () => new MemoryKeyStore(),
  // A synchronous method, as MemoryKeyStore's is: the suite takes an array or a promise.
  readAllRows: (store) => store.allRows(),
  // The memory store has no storage to share with a second instance.
  singleProcess: true,
});
