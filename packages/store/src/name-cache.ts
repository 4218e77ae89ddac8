/**
 * A bounded least-recently-used map from (namespace, logical key) to the record's datastore key. The name is a
 * deterministic HMAC of the pair under the profile's name key, so a cached entry is always exactly what computing it
 * again would give; it saves the HMAC on every repeated read or write of a key. Entries are only ever filled from
 * our own HMAC, never learned from a record's name on disk. Names only: values are never cached. Internal.
 */
export class NameCache {
  readonly #max: number
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used entry first.
  readonly #entries = new Map<string, string>()

  /** `max` = 0 turns the cache off. */
  constructor(max: number) {
    if (!(Number.isSafeInteger(max) && max >= 0)) throw new RangeError('cache size must be a non-negative integer')
    this.#max = max
  }

  /** Number of cached names. */
  get size(): number {
    return this.#entries.size
  }

  /** The cached name, marking it recently used. */
  get(namespace: string, key: string): string | undefined {
    const id = cacheId(namespace, key)
    const name = this.#entries.get(id)
    if (name !== undefined) {
      this.#entries.delete(id)
      this.#entries.set(id, name)
    }
    return name
  }

  /** Remembers a name, evicting the least recently used one beyond the bound. */
  set(namespace: string, key: string, name: string): void {
    if (this.#max === 0) return
    const id = cacheId(namespace, key)
    this.#entries.delete(id)
    this.#entries.set(id, name)
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!)
  }

  clear(): void {
    this.#entries.clear()
  }
}

// Namespaces never contain '/' (NAMESPACE_PATTERN), so the first '/' separates the two parts unambiguously.
function cacheId(namespace: string, key: string): string {
  return `${namespace}/${key}`
}
