/** Group commit: concurrent writes share synced batches; a failed batch fails exactly its own writes. */
import { AtomicMemoryDatastore } from '@parley/store/testing'
import { type Batch, Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { GroupCommit } from '../src/group-commit.ts'

/** A datastore whose batch commits are counted, take a tick, and fail on demand. */
class CountingStore extends AtomicMemoryDatastore {
  commits = 0
  failNext = false
  override batch(): Batch {
    const inner = super.batch()
    return {
      put: (k, v) => inner.put(k, v),
      delete: (k) => inner.delete(k),
      commit: async () => {
        this.commits++
        await new Promise((r) => setTimeout(r, 5))
        if (this.failNext) {
          this.failNext = false
          throw new Error('disk full')
        }
        await inner.commit()
      }
    }
  }
}

describe('GroupCommit', () => {
  it('resolves every write once it is committed, sharing batches among concurrent writes', async () => {
    const store = new CountingStore()
    const writer = new GroupCommit(store)
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => writer.write((b) => b.put(new Key(`/k/${i}`), Uint8Array.of(i))))
    )
    for (let i = 0; i < 50; i++) expect(await store.get(new Key(`/k/${i}`))).toEqual(Uint8Array.of(i))
    // The first write commits alone; the other 49 arrive while it is in flight and share the next batch.
    expect(store.commits).toBe(2)
  })

  it('a failed batch rejects exactly its writes, and the next batch goes on', async () => {
    const store = new CountingStore()
    const writer = new GroupCommit(store)
    store.failNext = true
    // The first write starts a batch at once (which fails); the next two arrive meanwhile and share the second.
    const results = await Promise.allSettled([
      writer.write((b) => b.put(new Key('/a'), Uint8Array.of(1))),
      writer.write((b) => b.put(new Key('/b'), Uint8Array.of(2))),
      writer.write((b) => b.put(new Key('/c'), Uint8Array.of(3)))
    ])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled'])
    expect(await store.has(new Key('/a'))).toBe(false)
    expect(await store.has(new Key('/b'))).toBe(true)
    expect(await store.has(new Key('/c'))).toBe(true)
    expect(store.commits).toBe(2)
  })
})
