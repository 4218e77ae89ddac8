/**
 * `@parley/store/testing`: backends for tests, benchmarks and the simulator — never for users' profiles. An atomic
 * in-memory datastore, and a crash double that keeps exactly what was durably written (see power-cut.ts).
 * (`openStore({ kind: 'memory' })` on the main entry gives the same in-memory backend behind the StoreBackend type.)
 */
export { AtomicMemoryDatastore } from './memory.ts'
export { PowerCutDatastore } from './power-cut.ts'
