/**
 * The datastore our libp2p nodes give kad-dht. kad-dht's PUT handler runs the (stateless) record validator and then
 * overwrites whatever it held under the key, so a replayed older record — genuine, signed, not expired — would
 * replace a newer one on every server that receives it. This wrapper makes the stored Parley record monotonic: a put
 * whose sequence is lower than the one already stored is refused (kad-dht answers the putter with an error), so DHT
 * servers keep the newest record and a rollback is rejected by the servers as well as by readers.
 */
import { Libp2pRecord } from '@libp2p/record'
import { DHT_KEY_PREFIX, decodeDhtRecord } from '@parley/wire'
import { MemoryDatastore } from 'datastore-core'
import type { Key } from 'interface-datastore'
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

/** An in-memory datastore whose Parley DHT records only move forward in sequence. */
export class MonotonicRecordDatastore extends MemoryDatastore {
  override async put(key: Key, value: Uint8Array, options?: Parameters<MemoryDatastore['put']>[2]): Promise<Key> {
    if (key.toString().startsWith(RECORD_PREFIX)) {
      const offered = sequenceOf(value)
      if (offered !== undefined && (await this.has(key))) {
        const stored = sequenceOf(await this.get(key))
        if (stored !== undefined && offered < stored) throw new RolledBackRecordError(stored, offered)
      }
    }
    return super.put(key, value, options)
  }
}
