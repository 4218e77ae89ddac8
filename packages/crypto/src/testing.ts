/**
 * `@parley/crypto/testing`: helpers for tests, benchmarks, fixed vectors and the simulator — never for users.
 * A backend whose randomness follows from a seed, and a protocol store in memory.
 */
export { deterministicBackend } from './backend/deterministic.ts'
export { MemoryProtocolStore } from './storage/memory.ts'
