/**
 * @parley/store — persistence behind one interface (memory, LevelDB, IndexedDB) with the whole profile encrypted at
 * rest. Node entry: LevelDB on disk, scrypt and the record primitives from node:crypto, passphrases from a file,
 * the environment or a prompt.
 */
import type { Datastore } from 'interface-datastore'
import type { AbortOptions, StoreBackend, StoreLocation } from './api.ts'
import { UnsupportedBackendError } from './errors.ts'
import { nodeScrypt } from './kdf-node.ts'
import { openLevelDatastore } from './level.ts'
import { AtomicMemoryDatastore } from './memory.ts'
import { openProfileStore, type ProfileStore, type ProfileStoreOptions, type StorePlatform } from './profile-store.ts'
import { nodeRecordCrypto } from './record-crypto-node.ts'

export * from './api.ts'
export { type ResolvePassphraseOptions, resolvePassphrase } from './passphrase-node.ts'

const platform: StorePlatform = { scrypt: nodeScrypt, records: nodeRecordCrypto }

/** Opens the backend at `location`: `memory` or `level` in Node (`idb` is browser-only: UnsupportedBackendError). */
export async function openStore(location: StoreLocation, options: AbortOptions = {}): Promise<StoreBackend> {
  options.signal?.throwIfAborted()
  switch (location.kind) {
    case 'memory':
      return new AtomicMemoryDatastore()
    case 'level':
      return openLevelDatastore(location.path)
    default:
      throw new UnsupportedBackendError(location.kind, 'Node')
  }
}

/**
 * Opens the encrypted profile in `backend` (creating it with `{ create: true }` if there is none). Costs one scrypt
 * run (~0.5 s at the production cost). The returned store owns `backend`: its close() closes the backend. If opening
 * fails (WrongPassphraseError…), `backend` stays open and the caller's, so the user can simply retype.
 */
export function createProfileStore<N extends string>(
  backend: Datastore,
  passphrase: string,
  options: ProfileStoreOptions<N>
): Promise<ProfileStore<N>> {
  return openProfileStore(platform, backend, passphrase, options)
}
