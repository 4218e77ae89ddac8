/**
 * The relay's on-disk stores under its data directory: the mailbox LevelDB (whose lock keeps a second relay out of
 * the directory: DataDirLockedError) and the LevelDB of the DHT records it serves.
 */
import { openStore, type StoreBackend, StoreLockedError } from '@parley/store'
import { LevelDatastore } from 'datastore-level'
import { DataDirLockedError } from './errors.ts'

/** Opens the mailbox LevelDB, telling "another relay holds this directory" apart from other failures. */
export async function openMailboxStore(path: string): Promise<StoreBackend> {
  try {
    return await openStore({ kind: 'level', path })
  } catch (err) {
    if (err instanceof StoreLockedError) throw new DataDirLockedError(path)
    throw err
  }
}

/** Opens the DHT record LevelDB (the mailbox store's lock already keeps a second relay out of the data directory). */
export async function openDhtRecordStore(path: string): Promise<LevelDatastore> {
  const store = new LevelDatastore(path)
  await store.open()
  return store
}
