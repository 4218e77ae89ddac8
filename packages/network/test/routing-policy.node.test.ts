/**
 * Finding 11 — Kademlia Sybils. kad-dht's routing table had no address diversity: peers from one /24 (identities are
 * free) could take as many places in a node's table as they liked, and Sybils with ids chosen near a record's key
 * then become the whole starting set of every lookup of that key — answering nothing, they hide the record. The
 * routing policy admits at most DEFAULT_MAX_ROUTING_PEERS_PER_RANGE peers of one range to the table (and
 * DEFAULT_MAX_ROUTING_PEERS_PER_RANGE_PER_BUCKET per bucket), so honest servers stay in the lookup's starting set.
 * Hosts are played by loopback addresses in different /24s: the Sybils all sit in 127.0.5.0/24.
 */
import { createHash } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { until } from '@parley/test-kit'
import { DEFAULT_PROTOCOL_PREFIX, protocols } from '@parley/wire'
import type { Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ContactNotFoundError,
  DEFAULT_MAX_ROUTING_PEERS_PER_RANGE,
  DEFAULT_MAX_ROUTING_PEERS_PER_RANGE_PER_BUCKET,
  lookupRecord,
  type ParleyServices,
  sourceRange
} from '../src/index.ts'
import { backend, parleyNode, signedRecord, stopAll, WAIT_MS } from './helpers.ts'

afterEach(stopAll)

type Node = Libp2p<ParleyServices>

const sha256 = (bytes: Uint8Array) => new Uint8Array(createHash('sha256').update(bytes).digest())
const kadIdOf = (peer: PeerId) => sha256(peer.toMultihash().bytes)

function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return a.length * 8
}

/** A fresh key whose kad id shares at least `min` (and at most `max`) leading bits with `target`. */
async function keyNear(target: Uint8Array, min: number, max = 256): Promise<PrivateKey> {
  for (;;) {
    const key = await generateKeyPair('Ed25519')
    const cpl = commonPrefixLength(kadIdOf(peerIdFromPrivateKey(key)), target)
    if (cpl >= min && cpl <= max) return key
  }
}

/** The peers in `node`'s kad-dht routing table. */
function tablePeers(node: Node): PeerId[] {
  const table = (
    node.services.dht as unknown as { routingTable: { kb: { toIterable(): Iterable<{ peerId: PeerId }> } } }
  ).routingTable
  return [...table.kb.toIterable()].map((p) => p.peerId).filter((p) => !p.equals(node.peerId))
}

function rangeOf(node: Node, peer: PeerId): string {
  const conn = node.getConnections(peer)[0]
  return conn === undefined ? 'unknown' : sourceRange(conn.remoteAddr)
}

describe('routing-table address diversity', () => {
  it('Sybils from one /24 take at most their share of a routing table, and a peer from another /24 still gets in', async () => {
    const target = await parleyNode('127.0.0.1', {
      // Let every Sybil connect, so that this shows the routing table's own rule (the connection cap is tested apart).
      rangeLimits: { maxInboundConnectionsPerRange: 100 }
    })
    const address = target.getMultiaddrs()[0]!.toString()
    const sybils: Node[] = []
    for (let i = 0; i < 24; i++) sybils.push(await parleyNode(`127.0.5.${10 + i}`, { bootstrap: [address] }))
    await until(
      () => sybils.every((s) => target.getConnections(s.peerId).length > 0),
      WAIT_MS,
      'every Sybil to connect'
    )
    const honest = await parleyNode('127.0.6.1', { bootstrap: [address] })
    await until(() => tablePeers(target).some((p) => p.equals(honest.peerId)), WAIT_MS, 'the honest peer in the table')
    // Give the table time to take every Sybil it would take.
    await new Promise((r) => setTimeout(r, 1_000))

    const self = kadIdOf(target.peerId)
    const sybilPeers = tablePeers(target).filter((p) => rangeOf(target, p) === 'ip4:127.0.5')
    expect(sybilPeers.length).toBeLessThanOrEqual(DEFAULT_MAX_ROUTING_PEERS_PER_RANGE)
    const perBucket = new Map<number, number>()
    for (const p of sybilPeers) {
      const b = commonPrefixLength(self, kadIdOf(p))
      perBucket.set(b, (perBucket.get(b) ?? 0) + 1)
    }
    for (const n of perBucket.values()) expect(n).toBeLessThanOrEqual(DEFAULT_MAX_ROUTING_PEERS_PER_RANGE_PER_BUCKET)
  })

  it('a lookup finds the record although Sybils of one /24 with ids next to its key answer nothing', async () => {
    const record = await signedRecord()
    const keyId = sha256(record.key)
    // Honest servers, each in a /24 of its own, with ids far from the key (first bit differs)...
    const h1 = await parleyNode('127.0.1.1', {}, await keyNear(keyId, 0, 0))
    const bootstrap = [h1.getMultiaddrs()[0]!.toString()]
    await parleyNode('127.0.2.1', { bootstrap }, await keyNear(keyId, 0, 0))
    await parleyNode('127.0.3.1', { bootstrap }, await keyNear(keyId, 0, 0))
    const publisher = await parleyNode('127.0.4.1', { bootstrap, clientMode: true })
    await until(
      async () => {
        let stored = 0
        try {
          for await (const e of publisher.services.dht.put(record.key, record.value, {
            signal: AbortSignal.timeout(5_000)
          }))
            if (e.name === 'PEER_RESPONSE' && e.messageName === 'PUT_VALUE') stored++
        } catch {
          // no server yet
        }
        return stored >= 3
      },
      WAIT_MS,
      'the record stored at the three honest servers'
    )

    // ...and 24 Sybils in 127.0.5.0/24 with ids within 1/64 of the key. They serve the DHT but know nobody and keep
    // no peer (a public-address mapper drops every loopback address), so they answer every query with nothing.
    const sybils: Node[] = []
    for (let i = 0; i < 24; i++)
      sybils.push(await parleyNode(`127.0.5.${10 + i}`, { addressScope: 'public' }, await keyNear(keyId, 6)))

    // The reader bootstraps from an honest server and learns of the Sybils (here: dials them, as it would dial peers
    // a DHT answer named).
    const reader = await parleyNode('127.0.9.1', { bootstrap })
    await until(() => tablePeers(reader).some((p) => p.equals(h1.peerId)), WAIT_MS, 'the bootstrap server in the table')
    for (const s of sybils) await reader.dial(s.getMultiaddrs()[0]!)
    await new Promise((r) => setTimeout(r, 1_000))

    const found = await lookupRecord(reader.services.dht, backend, record.identityKey, Date.now(), {
      signal: AbortSignal.timeout(20_000)
    })
    expect(found.record.identityKey).toEqual(record.identityKey)
    expect(tablePeers(reader).filter((p) => rangeOf(reader, p) === 'ip4:127.0.5').length).toBeLessThanOrEqual(
      DEFAULT_MAX_ROUTING_PEERS_PER_RANGE
    )
  })

  it('a lookup eclipsed by Sybils from many /24s next to the key still finds the record at the bootstrap server', async () => {
    const record = await signedRecord()
    const keyId = sha256(record.key)
    const server = await parleyNode('127.0.1.1', {}, await keyNear(keyId, 0, 0))
    const bootstrap = [server.getMultiaddrs()[0]!.toString()]
    const publisher = await parleyNode('127.0.4.1', { bootstrap, clientMode: true })
    await until(
      async () => {
        let stored = false
        try {
          for await (const e of publisher.services.dht.put(record.key, record.value, {
            signal: AbortSignal.timeout(5_000)
          }))
            if (e.name === 'PEER_RESPONSE' && e.messageName === 'PUT_VALUE') stored = true
        } catch {
          // no server yet
        }
        return stored
      },
      WAIT_MS,
      'the record stored at the bootstrap server'
    )

    // A richer attacker: two Sybils in each of twelve /24s, every one within 1/64 of the key and answering nothing.
    // Two per range is within the routing table's share, so together they are the whole starting set of the walk.
    const sybils: Node[] = []
    for (let r = 0; r < 12; r++)
      for (let n = 0; n < 2; n++)
        sybils.push(await parleyNode(`127.0.${20 + r}.${10 + n}`, { addressScope: 'public' }, await keyNear(keyId, 6)))
    const reader = await parleyNode('127.0.9.1', { bootstrap })
    await until(
      () => tablePeers(reader).some((p) => p.equals(server.peerId)),
      WAIT_MS,
      'the bootstrap server in the table'
    )
    for (const s of sybils) await reader.dial(s.getMultiaddrs()[0]!)
    await new Promise((r) => setTimeout(r, 1_000))

    // The walk alone is eclipsed...
    await expect(
      lookupRecord(reader.services.dht, backend, record.identityKey, Date.now(), {
        signal: AbortSignal.timeout(20_000)
      })
    ).rejects.toBeInstanceOf(ContactNotFoundError)
    // ...and the lookup that falls back to the bootstrap server finds the record.
    const found = await lookupRecord(reader.services.dht, backend, record.identityKey, Date.now(), {
      signal: AbortSignal.timeout(20_000),
      fallback: { node: reader, peers: bootstrap, protocol: protocols(DEFAULT_PROTOCOL_PREFIX).kad }
    })
    expect(found.record.identityKey).toEqual(record.identityKey)
  })
})
