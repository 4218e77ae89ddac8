/**
 * The Node on-disk backend: LevelDB through datastore-level, with every write synced. datastore-level writes with
 * LevelDB's default `sync: false`, which returns once the data is in the OS page cache: an acknowledged write could
 * vanish in a power cut. Here put, delete and batch pass `sync: true` (fsync before the promise resolves), except a
 * batch committed with `durability: 'relaxed'`.
 * Node entry only (classic-level is a native addon).
 */
import { LevelDatastore } from 'datastore-level'
import type { Batch, Key } from 'interface-datastore'
import { DeleteFailedError, OpenFailedError, PutFailedError } from 'interface-store'
import { StoreLockedError } from './errors.ts'
import type { AbortOptions } from './kdf.ts'
import type { BackendCommitOptions } from './write-queue.ts'

type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string }

const SYNC = { sync: true } as const
const RELAXED = { sync: false } as const

/** LevelDatastore whose writes resolve only after LevelDB synced them to disk. Batches are atomic (LevelDB WAL). */
export class DurableLevelDatastore extends LevelDatastore {
  /** Opens the database; StoreLockedError when another process holds it (datastore-level would drop that cause). */
  override async open(): Promise<void> {
    try {
      await this.db.open({ createIfMissing: true })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') throw new StoreLockedError()
      throw new OpenFailedError(String(err))
    }
  }

  override async put(key: Key, value: Uint8Array, options: AbortOptions = {}): Promise<Key> {
    options.signal?.throwIfAborted()
    try {
      await this.db.put(key.toString(), value, SYNC)
    } catch (err) {
      throw new PutFailedError(String(err))
    }
    return key
  }

  override async delete(key: Key, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    try {
      await this.db.del(key.toString(), SYNC)
    } catch (err) {
      throw new DeleteFailedError(String(err))
    }
  }

  override batch(): Batch {
    let ops: Op[] | undefined = []
    return {
      put: (key, value) => {
        ops?.push({ type: 'put', key: key.toString(), value })
      },
      delete: (key) => {
        ops?.push({ type: 'del', key: key.toString() })
      },
      commit: async (options: BackendCommitOptions = {}) => {
        options.signal?.throwIfAborted()
        const pending = ops ?? []
        ops = undefined
        try {
          // A relaxed batch skips its own fsync: it reaches the disk with the next synced write (write-queue.ts).
          await this.db.batch(pending, options.durability === 'relaxed' ? RELAXED : SYNC)
        } catch (err) {
          throw new PutFailedError(String(err))
        }
      }
    }
  }
}

/** Opens (creating if missing) a synced LevelDB datastore at `path`. */
export async function openLevelDatastore(path: string): Promise<DurableLevelDatastore> {
  const store = new DurableLevelDatastore(path)
  await store.open()
  return store
}
