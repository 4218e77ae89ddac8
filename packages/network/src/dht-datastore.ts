/**
 * The datastore our libp2p nodes give kad-dht. Two jobs:
 *
 * 1. Monotonic records. kad-dht's PUT handler runs the (stateless) record validator and then overwrites whatever it
 *    held under the key, so a replayed older record — genuine, signed, not expired — would replace a newer one on
 *    every server that receives it. A put whose sequence is lower than the one stored is refused (kad-dht answers the
 *    putter with an error), so DHT servers keep the newest record and a rollback is rejected by servers and readers.
 * 2. A bounded record store. Every record costs an attacker one fresh identity key and one PUT, so a server's store
 *    has a named bound on records and bytes. When a new record does not fit, expired records go first, then the
 *    oldest-received ones; our own record (the one this node's device key signs) is never evicted. If nothing may
 *    go, the put is refused with RecordStoreFullError.
 *
 * Records may live in a store of their own (`records`: a relay keeps them on disk so a restart does not forget what
 * it served) while everything else kad-dht and libp2p keep (the peer store: peer ids and IP addresses) stays in
 * `inner`, in memory by default.
 */
import { Libp2pRecord } from '@libp2p/record'
import { decodeBundle } from '@parley/crypto'
import { DHT_KEY_PREFIX, decodeDhtRecord } from '@parley/wire'
import { BaseDatastore, MemoryDatastore } from 'datastore-core'
import { type Batch, type Datastore, Key, type KeyQuery, type Pair, type Query } from 'interface-datastore'
import { equals, fromString } from 'uint8arrays'
import { DEFAULT_MAX_DHT_RECORD_BYTES, DEFAULT_MAX_DHT_RECORDS } from './constants.ts'
import { InvalidNetworkInputError, RecordStoreFullError, RolledBackRecordError } from './errors.ts'

const RECORD_PREFIX = '/dht/record/'
const PARLEY_PREFIX = fromString(DHT_KEY_PREFIX)

function isParleyKey(key: Uint8Array): boolean {
  return equals(key.subarray(0, PARLEY_PREFIX.length), PARLEY_PREFIX)
}

/** What the store needs to know of one stored record (decoded once, when it is put or loaded). */
interface Entry {
  readonly bytes: number
  readonly expiresAt: number
  readonly pinned: boolean
}

interface Parsed {
  sequence: number | undefined
  expiresAt: number
  deviceKey: Uint8Array | undefined
}

function parse(bytes: Uint8Array): Parsed {
  try {
    const record = Libp2pRecord.deserialize(bytes)
    if (!isParleyKey(record.key))
      return { sequence: undefined, expiresAt: Number.POSITIVE_INFINITY, deviceKey: undefined }
    const dht = decodeDhtRecord(record.value)
    let deviceKey: Uint8Array | undefined
    try {
      deviceKey = decodeBundle(dht.bundle).certificate.deviceKey
    } catch {
      deviceKey = undefined
    }
    return { sequence: dht.sequence, expiresAt: dht.expiresAt, deviceKey }
  } catch {
    return { sequence: undefined, expiresAt: Number.POSITIVE_INFINITY, deviceKey: undefined }
  }
}

type Options = Parameters<Datastore['put']>[2]

/** Bounds and identity of a record store. */
export interface RecordStoreOptions {
  /** Where DHT records live (default: `inner`). A relay passes an on-disk store. */
  records?: Datastore
  /** Most records held at once (default DEFAULT_MAX_DHT_RECORDS). */
  maxRecords?: number
  /** Most record bytes held at once (default DEFAULT_MAX_DHT_RECORD_BYTES). */
  maxBytes?: number
  /** This node's device public key (libp2p protobuf form): the record it signs is ours and never evicted. */
  ownDeviceKey?: Uint8Array
  /** Clock for expiry (tests, the simulator). */
  now?: () => number
}

/** Counts a relay exports as metrics. */
export interface RecordStoreStats {
  records: number
  bytes: number
  /** Records evicted to make room, since start. */
  evicted: number
  /** Puts refused because nothing could be evicted, since start. */
  refused: number
}

/**
 * A datastore whose Parley DHT records only move forward in sequence, within a bound. Wraps `inner` (default: a fresh
 * in-memory store); every key that is not a DHT record passes through unchanged. Over a store that already holds
 * records, call `load()` before use.
 */
export class MonotonicRecordDatastore extends BaseDatastore {
  readonly #inner: Datastore
  readonly #records: Datastore
  readonly #maxRecords: number
  readonly #maxBytes: number
  readonly #own: Uint8Array | undefined
  readonly #now: () => number
  /** Stored records in received order (oldest first: an update moves a key to the end). */
  readonly #index = new Map<string, Entry>()
  #bytes = 0
  #evicted = 0
  #refused = 0
  /** Serialises record writes so the index and the bounds stay exact under concurrent PUTs. */
  #lock: Promise<unknown> = Promise.resolve()

  constructor(inner: Datastore = new MemoryDatastore(), options: RecordStoreOptions = {}) {
    super()
    this.#inner = inner
    this.#records = options.records ?? inner
    this.#maxRecords = options.maxRecords ?? DEFAULT_MAX_DHT_RECORDS
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_DHT_RECORD_BYTES
    if (!Number.isSafeInteger(this.#maxRecords) || this.#maxRecords < 1)
      throw new InvalidNetworkInputError('maxRecords', 'an integer >= 1')
    if (!Number.isSafeInteger(this.#maxBytes) || this.#maxBytes < 1)
      throw new InvalidNetworkInputError('maxBytes', 'an integer >= 1')
    this.#own = options.ownDeviceKey
    this.#now = options.now ?? Date.now
  }

  /** Reads what the record store already holds (a relay's disk after a restart) and applies the bounds to it. */
  async load(options?: Options): Promise<this> {
    await this.#serial(async () => {
      this.#index.clear()
      this.#bytes = 0
      for await (const { key, value } of this.#records.query({ prefix: RECORD_PREFIX.slice(0, -1) }, options)) {
        if (!isRecordKey(key)) continue
        this.#remember(key.toString(), value)
      }
      await this.#makeRoom(undefined, 0, options)
    })
    return this
  }

  /** How many records and bytes are held, and how many were evicted or refused. */
  stats(): RecordStoreStats {
    return { records: this.#index.size, bytes: this.#bytes, evicted: this.#evicted, refused: this.#refused }
  }

  override async put(key: Key, value: Uint8Array, options?: Options): Promise<Key> {
    if (!isRecordKey(key)) return this.#inner.put(key, value, options)
    return this.#serial(async () => {
      await this.#checkSequence(key, value, options)
      await this.#makeRoom(key.toString(), value.length, options)
      const stored = await this.#records.put(key, value, options)
      this.#remember(key.toString(), value)
      return stored
    })
  }

  override async get(key: Key, options?: Options): Promise<Uint8Array> {
    return this.#storeOf(key).get(key, options)
  }

  override async has(key: Key, options?: Options): Promise<boolean> {
    return this.#storeOf(key).has(key, options)
  }

  override async delete(key: Key, options?: Options): Promise<void> {
    if (!isRecordKey(key)) return this.#inner.delete(key, options)
    await this.#serial(async () => {
      await this.#records.delete(key, options)
      this.#forget(key.toString())
    })
  }

  /**
   * A batch: non-record operations go to `inner`'s batch (atomic if it is); record puts and deletes go through the
   * same checks and bounds as single ones, after the rest committed.
   */
  override batch(): Batch {
    const ops: Array<{ key: Key; value?: Uint8Array }> = []
    return {
      put: (key, value) => {
        ops.push({ key, value })
      },
      delete: (key) => {
        ops.push({ key })
      },
      commit: async (options) => {
        const all = ops.splice(0)
        const records = all.filter((op) => isRecordKey(op.key))
        // Refuse a rolled-back record before anything of the batch is written.
        for (const op of records) if (op.value !== undefined) await this.#checkSequence(op.key, op.value, options)
        const rest = all.filter((op) => !isRecordKey(op.key))
        if (rest.length > 0) {
          const batch = this.#inner.batch()
          for (const op of rest) {
            if (op.value === undefined) batch.delete(op.key)
            else batch.put(op.key, op.value)
          }
          await batch.commit(options)
        }
        for (const op of records) {
          if (op.value === undefined) await this.delete(op.key, options)
          else await this.put(op.key, op.value, options)
        }
      }
    }
  }

  override async *query(q: Query, options?: Options): AsyncGenerator<Pair> {
    yield* this.#inner.query(q, options)
    if (this.#records !== this.#inner) yield* this.#records.query(q, options)
  }

  override async *queryKeys(q: KeyQuery, options?: Options): AsyncGenerator<Key> {
    yield* this.#inner.queryKeys(q, options)
    if (this.#records !== this.#inner) yield* this.#records.queryKeys(q, options)
  }

  #storeOf(key: Key): Datastore {
    return isRecordKey(key) ? this.#records : this.#inner
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn)
    this.#lock = run.catch(() => {})
    return run
  }

  #remember(key: string, value: Uint8Array): void {
    this.#forget(key)
    const parsed = parse(value)
    const pinned = this.#own !== undefined && parsed.deviceKey !== undefined && equals(parsed.deviceKey, this.#own)
    this.#index.set(key, { bytes: value.length, expiresAt: parsed.expiresAt, pinned })
    this.#bytes += value.length
  }

  #forget(key: string): void {
    const old = this.#index.get(key)
    if (old === undefined) return
    this.#bytes -= old.bytes
    this.#index.delete(key)
  }

  /** Evicts until a value of `bytes` under `key` fits; RecordStoreFullError when only pinned records are left. */
  async #makeRoom(key: string | undefined, bytes: number, options?: Options): Promise<void> {
    const replacing = key === undefined ? undefined : this.#index.get(key)
    const fits = () => {
      const count = this.#index.size + (key !== undefined && replacing === undefined ? 1 : 0)
      return count <= this.#maxRecords && this.#bytes - (replacing?.bytes ?? 0) + bytes <= this.#maxBytes
    }
    while (!fits()) {
      const victim = this.#victim(key)
      if (victim === undefined) {
        this.#refused++
        throw new RecordStoreFullError(this.#index.size, this.#bytes)
      }
      await this.#records.delete(new Key(victim), options)
      this.#forget(victim)
      this.#evicted++
    }
  }

  /** Expired first (oldest received among them), then the oldest received; never pinned, never `except`. */
  #victim(except: string | undefined): string | undefined {
    const now = this.#now()
    let oldest: string | undefined
    for (const [k, e] of this.#index) {
      if (k === except || e.pinned) continue
      if (e.expiresAt <= now) return k
      oldest ??= k
    }
    return oldest
  }

  async #checkSequence(key: Key, value: Uint8Array, options?: Options): Promise<void> {
    const offered = parse(value).sequence
    if (offered === undefined || !(await this.#records.has(key, options))) return
    const stored = parse(await this.#records.get(key, options)).sequence
    if (stored !== undefined && offered < stored) throw new RolledBackRecordError(stored, offered)
  }
}

function isRecordKey(key: Key): boolean {
  return key.toString().startsWith(RECORD_PREFIX)
}
