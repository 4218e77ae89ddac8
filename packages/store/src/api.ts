/** What both entry points export: types, errors, limits, the memory backend and the power-cut test wrapper. */
import type { Datastore } from 'interface-datastore'

export * from './constants.ts'
export * from './errors.ts'
export { type AbortOptions, DEFAULT_SCRYPT_PARAMS, type ScryptParams } from './kdf.ts'
export type { Entry, RandomSource } from './keys.ts'
export { AtomicMemoryDatastore } from './memory.ts'
export type { BasePassphraseOptions, PassphrasePrompt } from './passphrase.ts'
export { PowerCutDatastore } from './power-cut.ts'
export type { ProfileBatch, ProfileStore, ProfileStoreOptions, QueryOptions } from './profile-store.ts'

/** Where a profile lives: in memory (tests), in a LevelDB directory (Node) or in an IndexedDB database (browsers). */
export type StoreLocation = { kind: 'memory' } | { kind: 'level'; path: string } | { kind: 'idb'; name: string }

/** An opened backend: any interface-datastore Datastore that can be closed. */
export type StoreBackend = Datastore & { close(): Promise<void> }
