/** Finding an identity's current record in the DHT: every answer validated, the newest sequence wins. */
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { type Bundle, type CryptoBackend, decodeBundle } from '@parley/crypto'
import { type DhtRecord, decodeDhtRecord, dhtKeyForIdentity, selectDhtRecord, validateDhtRecord } from '@parley/wire'
import { ContactNotFoundError } from './errors.ts'

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

/** Looks `identity` up; ContactNotFoundError when no valid record answers. */
export async function lookupRecord(
  dht: KadDHT,
  backend: CryptoBackend,
  identity: Uint8Array,
  now: number,
  options: { signal: AbortSignal }
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
    if (values.length === 0) throw e instanceof Error && e.name === 'NotFoundError' ? new ContactNotFoundError() : e
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
