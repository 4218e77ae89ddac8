/** The in-memory backend: datastore-core's MemoryDatastore with a batch that is actually atomic. */
import { MemoryDatastore } from 'datastore-core'
import type { Batch, Key } from 'interface-datastore'
import type { AbortOptions } from './kdf.ts'

type Op = { type: 'put'; key: Key; value: Uint8Array } | { type: 'delete'; key: Key }

/**
 * MemoryDatastore whose batch commit applies every operation in one synchronous step, in order (a later operation
 * on the same key wins). The base class commits put by put with awaits in between, so a reader could observe half
 * a batch; here no reader ever can.
 */
export class AtomicMemoryDatastore extends MemoryDatastore {
  override batch(): Batch {
    let ops: Op[] | undefined = []
    return {
      put: (key, value) => {
        ops?.push({ type: 'put', key, value })
      },
      delete: (key) => {
        ops?.push({ type: 'delete', key })
      },
      commit: async (options: AbortOptions = {}) => {
        options.signal?.throwIfAborted()
        const pending = ops ?? []
        ops = undefined
        // MemoryDatastore's put/delete are synchronous: this loop runs without yielding, so it is atomic.
        for (const op of pending) {
          if (op.type === 'put') super.put(op.key, op.value)
          else super.delete(op.key)
        }
      }
    }
  }

  /** Nothing to release; present so every backend can be closed the same way. */
  async close(): Promise<void> {}
}
