/**
 * Group commit: one synced batch at a time, and every write that arrives while it is in flight joins the next one.
 * A burst of N durable writes costs a few fsyncs instead of N, and each caller still resolves only once its own
 * write is on disk (the datastore's batch commit resolves after the sync).
 */
import type { Batch, Datastore } from 'interface-datastore'

/** One synced batch at a time; writes arriving meanwhile share the next one. */
export class GroupCommit {
  readonly #store: Datastore
  #pending: Array<{ apply: (b: Batch) => void; resolve: () => void; reject: (e: unknown) => void }> = []
  #running = false

  constructor(store: Datastore) {
    this.#store = store
  }

  write(apply: (b: Batch) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ apply, resolve, reject })
      if (!this.#running) void this.#run()
    })
  }

  async #run(): Promise<void> {
    this.#running = true
    while (this.#pending.length > 0) {
      const group = this.#pending
      this.#pending = []
      const batch = this.#store.batch()
      for (const w of group) w.apply(batch)
      try {
        await batch.commit()
        for (const w of group) w.resolve()
      } catch (e) {
        for (const w of group) w.reject(e)
      }
    }
    this.#running = false
  }
}
