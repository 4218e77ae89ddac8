/**
 * A write-through cache over the profile store for the small records read on every message (contacts, devices):
 * each read otherwise costs a disk read and a decryption. Values enter the cache only after the store holds them
 * (a put or batch commit resolved), so the cache never shows what is not durable. Bounded; never caches a namespace
 * it was not told to.
 */
import type { ProfileBatch, ProfileStore } from '@parley/store'

/** Cached records at most (least recently used dropped first). */
export const MAX_CACHED_PROFILE_RECORDS = 4096

export function cachedProfileStore<N extends string>(store: ProfileStore<N>, cached: readonly N[]): ProfileStore<N> {
  // namespace NUL key -> value, or null for "known absent".
  const cache = new Map<string, Uint8Array | null>()
  const slot = (ns: N, key: string) => (cached.includes(ns) ? `${ns}\0${key}` : undefined)
  const remember = (k: string, v: Uint8Array | null) => {
    cache.delete(k)
    cache.set(k, v)
    if (cache.size > MAX_CACHED_PROFILE_RECORDS) cache.delete(cache.keys().next().value!)
  }
  return {
    namespaces: store.namespaces,
    async get(ns, key, options) {
      const k = slot(ns, key)
      if (k !== undefined && cache.has(k)) return cache.get(k) ?? undefined
      const v = await store.get(ns, key, options)
      if (k !== undefined) remember(k, v ?? null)
      return v
    },
    async put(ns, key, value, options) {
      await store.put(ns, key, value, options)
      const k = slot(ns, key)
      if (k !== undefined) remember(k, value.slice())
    },
    async delete(ns, key, options) {
      await store.delete(ns, key, options)
      const k = slot(ns, key)
      if (k !== undefined) remember(k, null)
    },
    has: (ns, key, options) => store.has(ns, key, options),
    query: (ns, query) => store.query(ns, query),
    batch(): ProfileBatch<N> {
      const inner = store.batch()
      const ops: Array<[string, Uint8Array | null]> = []
      return {
        put(ns, key, value) {
          inner.put(ns, key, value)
          const k = slot(ns, key)
          if (k !== undefined) ops.push([k, value.slice()])
        },
        delete(ns, key) {
          inner.delete(ns, key)
          const k = slot(ns, key)
          if (k !== undefined) ops.push([k, null])
        },
        async commit(options) {
          await inner.commit(options)
          for (const [k, v] of ops) remember(k, v)
        }
      }
    },
    changePassphrase: (current, next, options) => store.changePassphrase(current, next, options),
    async close() {
      cache.clear()
      await store.close()
    }
  }
}
