/**
 * The profile store's write path: group commit, two durability levels, and fail-stop after a failed write.
 *
 * Group commit: one backend batch (one fsync on LevelDB) at a time; every write sealed while it is in flight joins
 * the next one, in the order it arrived. A burst of N durable writes then costs a few syncs instead of N, and each
 * caller still resolves only once its own write is on disk. Writes stay atomic: a caller's records land in one
 * backend batch, whole, with others' whole writes beside them.
 *
 * Early lock release: a caller may learn, through `onQueued`, the moment its write has its place in that order —
 * every write queued later lands in the same backend batch or a later one, never before it. A caller that serialises
 * its read-modify-write steps (crypto's per-session lock) can let the next step start then, instead of after the
 * fsync, as long as it reports nothing to the outside before its own write is durable (the promise still resolves
 * only then). That is what lets concurrent messages of one session share a sync.
 *
 * Fail-stop: writes queued behind a failed one may build on state that never reached the disk (that is the point of
 * releasing early), so when a backend batch fails, every write queued behind it is refused as well, and the queue
 * refuses every later write with WriteFailedError (fsync failures leave the disk's state unknown; PostgreSQL stops too).
 */
import type { Datastore, Key } from 'interface-datastore'
import { WriteFailedError } from './errors.ts'
import type { AbortOptions } from './kdf.ts'

/**
 * How durable a write is when its promise resolves. `strict` (the default): on disk (LevelDB fsync, IndexedDB strict
 * `complete`). `relaxed`: applied and readable, on disk soon but not yet (no fsync of its own; it reaches the disk with
 * a later sync or the OS's writeback). A crash may lose a relaxed write, even one older than a strict write that
 * survived, but never half of it: use it only where a lost write costs a repeat (an announcement, a resend).
 */
export type Durability = 'strict' | 'relaxed'

/** What the Parley backends read from a batch commit's options (other Datastores ignore `durability`). */
export interface BackendCommitOptions extends AbortOptions {
  readonly durability?: Durability
}

/** One record to write (`record` set) or delete (`record` undefined), under its storage key. */
export interface SealedWrite {
  readonly key: Key
  readonly record?: Uint8Array | undefined
}

interface Queued {
  readonly sealed: readonly SealedWrite[]
  readonly durability: Durability
  readonly resolve: () => void
  readonly reject: (e: unknown) => void
}

/** See the module comment. */
export class WriteQueue {
  readonly #backend: Datastore
  #queued: Queued[] = []
  #writing = false
  #failed = false

  constructor(backend: Datastore) {
    this.#backend = backend
  }

  /** Throws WriteFailedError once a backend write has failed. */
  check(): void {
    if (this.#failed) throw new WriteFailedError()
  }

  /**
   * Queues `sealed` for the next backend batch. `onQueued` runs synchronously once the write has its place in the
   * order (not at all if the queue refuses it). Resolves when the write is as durable as asked; rejects if it was not
   * written (nothing of it landed).
   */
  write(sealed: readonly SealedWrite[], durability: Durability, onQueued?: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#failed) {
        reject(new WriteFailedError())
        return
      }
      this.#queued.push({ sealed, durability, resolve, reject })
      onQueued?.()
      if (!this.#writing) void this.#drain()
    })
  }

  async #drain(): Promise<void> {
    this.#writing = true
    while (this.#queued.length > 0) {
      const group = this.#queued
      this.#queued = []
      const batch = this.#backend.batch()
      let durability: Durability = 'relaxed'
      for (const w of group) {
        if (w.durability === 'strict') durability = 'strict'
        for (const { key, record } of w.sealed) {
          if (record === undefined) batch.delete(key)
          else batch.put(key, record)
        }
      }
      try {
        const options: BackendCommitOptions = { durability }
        await batch.commit(options)
        for (const w of group) w.resolve()
      } catch (e) {
        this.#failed = true
        for (const w of group) w.reject(e)
        const behind = this.#queued
        this.#queued = []
        for (const w of behind) w.reject(new WriteFailedError())
      }
    }
    this.#writing = false
  }
}
