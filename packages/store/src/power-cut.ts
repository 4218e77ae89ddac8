/**
 * A test double for crashes: a Datastore wrapper that knows what was durably written. Exported from the main entry
 * so tests of other packages (messenger, relay, sim) can cut the power under their own stores too.
 */
import { BaseDatastore } from 'datastore-core'
import { type Batch, type Datastore, Key, type KeyQuery, type Pair, type Query } from 'interface-datastore'
import { PowerCutError } from './errors.ts'
import type { AbortOptions } from './kdf.ts'
import { AtomicMemoryDatastore } from './memory.ts'
import type { BackendCommitOptions } from './write-queue.ts'

type Op = { type: 'put'; key: string; value: Uint8Array } | { type: 'delete'; key: string }

interface Waiter {
  resolve: () => void
  reject: (err: Error) => void
}

/**
 * Wraps a Datastore and models the sync boundary explicitly. A write (put, delete, batch commit) goes to the wrapped
 * store at once — reads see it, as they would see the OS page cache — but it enters the **durable image** only at
 * its sync point: when the wrapped operation has resolved (and, while `holdSyncs()` is in force, once
 * `releaseSyncs()` lets it through). Only then does the caller's promise resolve. A batch enters the image whole.
 *
 * `cut()` is the power cut: it returns a fresh datastore holding exactly the durable image — every acknowledged
 * write and nothing else — and kills this one: writes still waiting for their sync reject with PowerCutError, and
 * every later call throws it.
 *
 * The model is the contract the Parley backends keep (LevelDB `sync: true`, IndexedDB `durability: 'strict'`):
 * resolved means on disk, and an atomic batch lands whole or not at all. A batch committed with `durability:
 * 'relaxed'` resolves at once and enters the image with the next synced write (lost if the power goes first). It does not model torn single records,
 * reordering by the disk, or lying disks.
 */
export class PowerCutDatastore extends BaseDatastore {
  // Set once: by the constructor, or replaced by wrap() before anyone holds the instance.
  #inner: Datastore
  readonly #durable = new Map<string, Uint8Array>()
  #waiters: Waiter[] | undefined
  /** Relaxed batches applied to the wrapped store, waiting for the next sync to enter the durable image. */
  #relaxed: Op[] = []
  #cut = false

  /** A power-cut wrapper around a fresh, empty in-memory datastore. Use `wrap()` for a store that holds data. */
  constructor() {
    super()
    this.#inner = new AtomicMemoryDatastore()
  }

  /** Wraps `inner`; whatever it already holds counts as durable. `inner`'s batches must be atomic. */
  static async wrap(inner: Datastore, options: AbortOptions = {}): Promise<PowerCutDatastore> {
    const store = new PowerCutDatastore()
    store.#inner = inner
    for await (const { key, value } of inner.query({}, options)) store.#durable.set(key.toString(), value.slice())
    return store
  }

  /** Writes that reached the wrapped store but wait for their sync (only non-zero while syncs are held). */
  get pendingSyncs(): number {
    return this.#waiters?.length ?? 0
  }

  /** True once cut() was called. */
  get isCut(): boolean {
    return this.#cut
  }

  /** From now on, writes reach the wrapped store but are not acknowledged (not durable) until releaseSyncs(). */
  holdSyncs(): void {
    this.#assertPowered()
    this.#waiters ??= []
  }

  /**
   * Lets the first `count` held writes (default: all) reach their sync point, in the order they were issued. With
   * no count, holding ends and later writes sync at once again; with a count, later writes stay held.
   */
  releaseSyncs(count = Number.POSITIVE_INFINITY): void {
    this.#assertPowered()
    const waiters = this.#waiters ?? []
    const released = waiters.splice(0, count)
    if (count === Number.POSITIVE_INFINITY) this.#waiters = undefined
    for (const w of released) w.resolve()
  }

  /**
   * The power cut. Returns a new, independent datastore holding exactly what was durably written before now;
   * this datastore is dead afterwards.
   */
  cut(): AtomicMemoryDatastore {
    this.#cut = true
    const waiters = this.#waiters ?? []
    this.#waiters = undefined
    for (const w of waiters) w.reject(new PowerCutError())
    const image = new AtomicMemoryDatastore()
    for (const [key, value] of this.#durable) image.put(new Key(key, false), value.slice())
    return image
  }

  /** A copy of the durable image (what a cut would keep right now), keyed by datastore key. */
  durableSnapshot(): Map<string, Uint8Array> {
    return new Map([...this.#durable].map(([k, v]) => [k, v.slice()]))
  }

  override async put(key: Key, value: Uint8Array, options: AbortOptions = {}): Promise<Key> {
    this.#assertPowered()
    const copy = value.slice()
    await this.#inner.put(key, value, options)
    await this.#syncPoint()
    this.#apply([{ type: 'put', key: key.toString(), value: copy }])
    return key
  }

  override async get(key: Key, options: AbortOptions = {}): Promise<Uint8Array> {
    this.#assertPowered()
    return this.#inner.get(key, options)
  }

  override async has(key: Key, options: AbortOptions = {}): Promise<boolean> {
    this.#assertPowered()
    return this.#inner.has(key, options)
  }

  override async delete(key: Key, options: AbortOptions = {}): Promise<void> {
    this.#assertPowered()
    await this.#inner.delete(key, options)
    await this.#syncPoint()
    this.#apply([{ type: 'delete', key: key.toString() }])
  }

  override batch(): Batch {
    const inner = this.#inner.batch()
    let ops: Op[] | undefined = []
    return {
      put: (key, value) => {
        ops?.push({ type: 'put', key: key.toString(), value: value.slice() })
        inner.put(key, value)
      },
      delete: (key) => {
        ops?.push({ type: 'delete', key: key.toString() })
        inner.delete(key)
      },
      commit: async (options: BackendCommitOptions = {}) => {
        this.#assertPowered()
        const pending = ops ?? []
        ops = undefined
        await inner.commit(options)
        if (options.durability === 'relaxed') {
          // Readable now, durable only with the next synced write: a cut before that loses it (whole).
          this.#assertPowered()
          this.#relaxed.push(...pending)
          return
        }
        await this.#syncPoint()
        this.#apply(pending)
      }
    }
  }

  override async *query(q: Query, options: AbortOptions = {}): AsyncGenerator<Pair> {
    this.#assertPowered()
    for await (const pair of this.#inner.query(q, options)) {
      this.#assertPowered()
      yield pair
    }
  }

  override async *queryKeys(q: KeyQuery, options: AbortOptions = {}): AsyncGenerator<Key> {
    this.#assertPowered()
    for await (const key of this.#inner.queryKeys(q, options)) {
      this.#assertPowered()
      yield key
    }
  }

  /** Closes the wrapped store; after a cut there is nothing left to close. */
  async close(): Promise<void> {
    if (this.#cut) return
    const inner = this.#inner as Datastore & { close?: () => Promise<void> }
    await inner.close?.()
  }

  #assertPowered(): void {
    if (this.#cut) throw new PowerCutError()
  }

  /** Resolves when this write may count as durable; rejects if the power goes first. */
  #syncPoint(): Promise<void> | undefined {
    this.#assertPowered()
    if (this.#waiters === undefined) return undefined
    const waiters = this.#waiters
    return new Promise((resolve, reject) => waiters.push({ resolve, reject }))
  }

  #apply(ops: Op[]): void {
    // Runs synchronously after the sync point: the whole batch enters the image in one step, after the relaxed
    // batches written before it (a sync flushes what the log holds).
    this.#assertPowered()
    const relaxed = this.#relaxed
    this.#relaxed = []
    for (const op of [...relaxed, ...ops]) {
      if (op.type === 'put') this.#durable.set(op.key, op.value)
      else this.#durable.delete(op.key)
    }
  }
}
