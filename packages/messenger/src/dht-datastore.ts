/**
 * The datastore our libp2p nodes give kad-dht. kad-dht's PUT handler runs the (stateless) record validator and then
 * overwrites whatever it held under the key, so a replayed older record — genuine, signed, not expired — would
 * replace a newer one on every server that receives it. This wrapper makes the stored Parley record monotonic: a put
 * whose sequence is lower than the one already stored is refused (kad-dht answers the putter with an error), so DHT
 * servers keep the newest record and a rollback is rejected by the servers as well as by readers.
 */
import { Libp2pRecord } from '@libp2p/record'
import { DHT_KEY_PREFIX, decodeDhtRecord } from '@parley/wire'
import { BaseDatastore, MemoryDatastore } from 'datastore-core'
import type { Batch, Datastore, Key, KeyQuery, Pair, Query } from 'interface-datastore'
import { MessengerError } from './errors.ts'

const RECORD_PREFIX = '/dht/record/'
const PARLEY_PREFIX = new TextEncoder().encode(DHT_KEY_PREFIX)

/** A replayed record with a lower sequence than the one stored. */
export class RolledBackRecordError extends MessengerError {
  static override readonly name = 'RolledBackRecordError'
  constructor(stored: number, offered: number) {
    super('RolledBackRecord', `record sequence ${offered} is older than the stored ${stored}`)
  }
}

function isParleyKey(key: Uint8Array): boolean {
  if (key.length < PARLEY_PREFIX.length) return false
  for (let i = 0; i < PARLEY_PREFIX.length; i++) if (key[i] !== PARLEY_PREFIX[i]) return false
  return true
}

function sequenceOf(bytes: Uint8Array): number | undefined {
  try {
    const record = Libp2pRecord.deserialize(bytes)
    return isParleyKey(record.key) ? decodeDhtRecord(record.value).sequence : undefined
  } catch {
    return undefined
  }
}

type Options = Parameters<Datastore['put']>[2]

/**
 * A datastore whose Parley DHT records only move forward in sequence. Wraps `inner` (default: a fresh in-memory
 * store; a relay passes an on-disk one so records survive restarts); every other key passes through unchanged.
 */
export class MonotonicRecordDatastore extends BaseDatastore {
  readonly #inner: Datastore

  constructor(inner: Datastore = new MemoryDatastore()) {
    super()
    this.#inner = inner
  }

  override async put(key: Key, value: Uint8Array, options?: Options): Promise<Key> {
    await this.#checkSequence(key, value, options)
    return this.#inner.put(key, value, options)
  }

  override async get(key: Key, options?: Options): Promise<Uint8Array> {
    return this.#inner.get(key, options)
  }

  override async has(key: Key, options?: Options): Promise<boolean> {
    return this.#inner.has(key, options)
  }

  override async delete(key: Key, options?: Options): Promise<void> {
    await this.#inner.delete(key, options)
  }

  /** The wrapped store's batch (atomic if it is), with each record put checked before anything is written. */
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
        for (const op of ops) if (op.value !== undefined) await this.#checkSequence(op.key, op.value, options)
        const batch = this.#inner.batch()
        for (const op of ops.splice(0)) {
          if (op.value === undefined) batch.delete(op.key)
          else batch.put(op.key, op.value)
        }
        await batch.commit(options)
      }
    }
  }

  override async *query(q: Query, options?: Options): AsyncGenerator<Pair> {
    yield* this.#inner.query(q, options)
  }

  override async *queryKeys(q: KeyQuery, options?: Options): AsyncGenerator<Key> {
    yield* this.#inner.queryKeys(q, options)
  }

  async #checkSequence(key: Key, value: Uint8Array, options?: Options): Promise<void> {
    if (!key.toString().startsWith(RECORD_PREFIX)) return
    const offered = sequenceOf(value)
    if (offered === undefined || !(await this.#inner.has(key, options))) return
    const stored = sequenceOf(await this.#inner.get(key, options))
    if (stored !== undefined && offered < stored) throw new RolledBackRecordError(stored, offered)
  }
}
