/**
 * Finding an identity's current record in the DHT: every answer validated, the newest sequence wins. When the walk
 * finds nothing (Sybils next to the key answering nothing, a network still forming), the configured bootstrap servers
 * are asked directly: they are the peers the user chose, and an eclipse of the key's neighbourhood does not reach them.
 */
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { Libp2pRecord } from '@libp2p/record'
import { lpStream } from '@libp2p/utils'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { type Bundle, type CryptoBackend, decodeBundle } from '@parley/crypto'
import {
  type DhtRecord,
  decodeDhtRecord,
  dhtKeyForIdentity,
  encodeVarint,
  readVarint,
  selectDhtRecord,
  validateDhtRecord
} from '@parley/wire'
import type { Libp2p } from 'libp2p'
import { concat, equals } from 'uint8arrays'
import { MAX_DIRECT_GET_RESPONSE_BYTES } from './constants.ts'
import { ContactNotFoundError } from './errors.ts'

/** Servers a lookup asks directly when the DHT walk finds no valid record. */
export interface LookupFallback {
  /** The node that dials them (the messenger's own libp2p node). */
  readonly node: Pick<Libp2p, 'dialProtocol'>
  /** Their multiaddrs, each ending in /p2p/<peer id>: the configured bootstrap (or mailbox) relays. */
  readonly peers: readonly string[]
  /** The kad-dht protocol id they serve (`protocols(prefix).kad`). */
  readonly protocol: string
}

// kad-dht's Message: type = 1 (GET_VALUE is 1), key = 2, record = 3 (a serialized Libp2pRecord).
const GET_VALUE = 1

/** The `record` field of a kad-dht Message, or undefined (a malformed answer is no answer). */
function recordField(msg: Uint8Array): Uint8Array | undefined {
  let i = 0
  const read = (): number => {
    const [value, next] = readVarint(msg, i, 'kad-dht Message')
    i = next
    return value
  }
  try {
    while (i < msg.length) {
      const tag = read()
      const wire = tag & 7
      if (wire === 0) read()
      else if (wire === 2) {
        const len = read()
        if (i + len > msg.length) return undefined
        if (tag >>> 3 === 3) return msg.subarray(i, i + len)
        i += len
      } else if (wire === 5) i += 4
      else if (wire === 1) i += 8
      else return undefined
    }
  } catch {
    return undefined
  }
  return undefined
}

/** Asks one server for the record under `key` with one GET_VALUE; the record's value, or undefined. */
async function getDirect(
  fallback: LookupFallback,
  address: string,
  key: Uint8Array,
  signal: AbortSignal
): Promise<Uint8Array | undefined> {
  const stream = await fallback.node.dialProtocol(multiaddr(address), fallback.protocol, { signal })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_DIRECT_GET_RESPONSE_BYTES })
    await lp.write(concat([Uint8Array.of(0x08, GET_VALUE, 0x12), encodeVarint(key.length), key]), { signal })
    const field = recordField((await lp.read({ signal })).subarray())
    await stream.close({ signal }).catch(() => {})
    if (field === undefined) return undefined
    const record = Libp2pRecord.deserialize(field)
    return equals(record.key, key) ? record.value : undefined
  } catch (e) {
    stream.abort(e instanceof Error ? e : new Error(String(e)))
    return undefined
  }
}

/** A contact's record and what we read from it. */
export interface FoundRecord {
  /** The device's network identity and key (from the bundle's device certificate). */
  readonly peerId: PeerId
  readonly deviceKey: Uint8Array
  readonly addresses: Multiaddr[]
  readonly record: DhtRecord
  readonly bundle: Bundle
  /** The mailbox relays the record lists, as multiaddr strings (entries that are not multiaddrs are skipped). */
  readonly relays: string[]
}

/**
 * Looks `identity` up; ContactNotFoundError when no valid record answers. With `options.fallback`, a walk that finds
 * no valid record is followed by a direct GET_VALUE to each of the fallback servers.
 */
export async function lookupRecord(
  dht: KadDHT,
  backend: CryptoBackend,
  identity: Uint8Array,
  now: number,
  options: { signal: AbortSignal; fallback?: LookupFallback }
): Promise<FoundRecord> {
  const key = dhtKeyForIdentity(identity)
  const values: Uint8Array[] = []
  try {
    for await (const e of dht.get(key, options)) {
      // Records come as VALUE events and inside PEER_RESPONSE events; take both, so that one server refusing
      // kad-dht's correction step (which makes get() throw before its VALUE) does not hide the others' answers.
      const value = e.name === 'VALUE' ? e.value : e.name === 'PEER_RESPONSE' ? e.record?.value : undefined
      if (value === undefined) continue
      try {
        await validateDhtRecord(backend, key, value, now)
        values.push(value)
      } catch {
        // A peer served an invalid record: ignore it (every reader validates).
      }
    }
  } catch (e) {
    const notFound = e instanceof Error && e.name === 'NotFoundError'
    if (values.length === 0 && !notFound && options.fallback === undefined) throw e
  }
  const fallback = options.fallback
  if (values.length === 0 && fallback !== undefined && !options.signal.aborted) {
    const answers = await Promise.allSettled(
      fallback.peers.map((peer) => getDirect(fallback, peer, key, options.signal))
    )
    for (const a of answers) {
      if (a.status !== 'fulfilled' || a.value === undefined) continue
      try {
        await validateDhtRecord(backend, key, a.value, now)
        values.push(a.value)
      } catch {
        // an invalid record from a bootstrap server: ignored like any other
      }
    }
  }
  if (values.length === 0) throw new ContactNotFoundError()
  const record = decodeDhtRecord(values[selectDhtRecord(values, key)]!)
  const bundle = decodeBundle(record.bundle)
  const deviceKey = bundle.certificate.deviceKey
  const peerId = peerIdFromPublicKey(publicKeyFromProtobuf(deviceKey))
  const addresses = record.addresses.map((a) => multiaddr(a))
  const relays: string[] = []
  for (const r of record.mailboxRelays) {
    try {
      relays.push(multiaddr(r).toString())
    } catch {
      // not a multiaddr: skip it (the record is signed, but a relay entry we cannot dial is no use)
    }
  }
  return { peerId, deviceKey, addresses, record, bundle, relays }
}
