/**
 * The session manager's persistence: decoded session records cached in front of the ProtocolStore (bounded, least
 * recently used dropped first; the store keeps them all), and the commit that makes a new record current — early,
 * once the store has queued it, when the store can say so (see commit()).
 */
import { MAX_CACHED_RECORDS } from './constants.ts'
import { decodeSessionRecord, EMPTY_RECORD, type SessionRecord } from './session.ts'
import type { ProtocolStore, ProtocolTransaction } from './storage/types.ts'

/** See the module comment. Callers hold the address's lock around load() and commit(). */
export class SessionRecords {
  readonly #store: ProtocolStore
  readonly #cache = new Map<string, SessionRecord>()

  constructor(store: ProtocolStore) {
    this.#store = store
  }

  /** The record of `address` (empty when there is none). */
  async load(address: string): Promise<SessionRecord> {
    const cached = this.#cache.get(address)
    if (cached !== undefined) {
      this.#remember(address, cached)
      return cached
    }
    const bytes = await this.#store.loadSessionRecord(address)
    const record = bytes === undefined ? EMPTY_RECORD : decodeSessionRecord(bytes)
    this.#remember(address, record)
    return record
  }

  /**
   * Commits `tx`, which makes `next` the session record of `address`. With a store that reports when the write is
   * queued, `next` is the cached record from then on and `release` lets the next operation on this address start
   * while this one awaits its sync (early lock release: nothing of this operation leaves before it resolves). If the
   * commit then fails, the cached record is dropped; the store refuses every later write (fail-stop), so no state
   * built on the lost one lands either.
   */
  async commit(address: string, next: SessionRecord, tx: ProtocolTransaction, release?: () => void): Promise<void> {
    let queued = false
    try {
      await this.#store.commit(tx, {
        onQueued: () => {
          queued = true
          this.#remember(address, next)
          release?.()
        }
      })
    } catch (e) {
      if (queued) this.#cache.delete(address)
      throw e
    }
    // A store without a write queue: only now is it durable. (After an early release, a later operation may have
    // cached a newer record already: never overwrite it.)
    if (!queued) this.#remember(address, next)
  }

  /** Forgets the cached record of `address` (the store's copy was removed). */
  forget(address: string): void {
    this.#cache.delete(address)
  }

  #remember(address: string, record: SessionRecord): void {
    this.#cache.delete(address)
    this.#cache.set(address, record)
    if (this.#cache.size > MAX_CACHED_RECORDS) this.#cache.delete(this.#cache.keys().next().value!)
  }
}
