/**
 * @parley/store for browsers: the same API with IndexedDB on disk, scrypt from @noble/hashes and the record
 * primitives on WebCrypto. Imports nothing from Node or LevelDB; passphrases come from the UI (a string or a prompt).
 */
import type { Datastore } from 'interface-datastore'
import type { AbortOptions, StoreBackend, StoreLocation } from './api.ts'
import { UnsupportedBackendError } from './errors.ts'
import { openIdbDatastore } from './idb.ts'
import { nobleScrypt } from './kdf-noble.ts'
import { AtomicMemoryDatastore } from './memory.ts'
import { openProfileStore, type ProfileStore, type ProfileStoreOptions, type StorePlatform } from './profile-store.ts'
import { webRecordCrypto } from './record-crypto-web.ts'

export * from './api.ts'
export { resolvePassphrase } from './passphrase-browser.ts'

const platform: StorePlatform = { scrypt: nobleScrypt, records: webRecordCrypto }

/** Opens the backend at `location`: `memory` or `idb` in browsers (`level` is Node-only: UnsupportedBackendError). */
export async function openStore(location: StoreLocation, options: AbortOptions = {}): Promise<StoreBackend> {
  options.signal?.throwIfAborted()
  switch (location.kind) {
    case 'memory':
      return new AtomicMemoryDatastore()
    case 'idb':
      return openIdbDatastore(location.name)
    default:
      throw new UnsupportedBackendError(location.kind, 'this browser')
  }
}

/**
 * Opens the encrypted profile in `backend` (creating it with `{ create: true }` if there is none). Costs one scrypt
 * run (~1 s in JavaScript at the production cost). The returned store owns `backend`: its close() closes the
 * backend. If opening fails (WrongPassphraseError…), `backend` stays open and the caller's, so the user can retype.
 */
export function createProfileStore<N extends string>(
  backend: Datastore,
  passphrase: string,
  options: ProfileStoreOptions<N>
): Promise<ProfileStore<N>> {
  return openProfileStore(platform, backend, passphrase, options)
}
