/**
 * Address diversity for kad-dht's routing table. kad-dht 16 has no such rule (FACTS: one /24 can fill a bucket), and
 * a bucket one host fills is a part of the key space that host answers for: it can hide records, or answer every
 * lookup that walks through it with junk. Peer ids are free; address ranges are not. So each peer is admitted to the
 * table only while its address range (IPv4 /24, IPv6 /64, circuit peers under their relay — see sourceRange) holds
 * fewer than `maxRoutingPeersPerRangePerBucket` peers in the peer's bucket (its common-prefix length with us) and
 * fewer than `maxRoutingPeersPerRange` in the whole table.
 *
 * kad-dht has no admission hook, so this wraps the routing table's `add` (every path — connect, query responses,
 * start-up population — goes through it) and, as a backstop, removes any peer that got in by another way.
 */
import type { Connection, PeerId, PeerStore } from '@libp2p/interface'
import { DEFAULT_MAX_ROUTING_PEERS_PER_RANGE, DEFAULT_MAX_ROUTING_PEERS_PER_RANGE_PER_BUCKET } from './constants.ts'
import { InvalidNetworkInputError } from './errors.ts'
import { sourceRange } from './source-range.ts'

/** Per-range caps on kad-dht's routing table. */
export interface RoutingLimits {
  /** Peers from one /24 or /64 in one bucket (same common-prefix length with our id). */
  maxRoutingPeersPerRangePerBucket: number
  /** Peers from one /24 or /64 in the whole table. */
  maxRoutingPeersPerRange: number
}

export const DEFAULT_ROUTING_LIMITS: Readonly<RoutingLimits> = Object.freeze({
  maxRoutingPeersPerRangePerBucket: DEFAULT_MAX_ROUTING_PEERS_PER_RANGE_PER_BUCKET,
  maxRoutingPeersPerRange: DEFAULT_MAX_ROUTING_PEERS_PER_RANGE
})

/** The parts of kad-dht's routing table this policy uses (kad-dht 16's `RoutingTable`). */
export interface GuardedRoutingTable {
  add(peerId: PeerId, options?: unknown): Promise<void>
  remove(peerId: PeerId, options?: unknown): Promise<void>
  addEventListener(type: 'peer:add' | 'peer:remove', listener: (e: CustomEvent<PeerId>) => void): void
}

/** What the policy needs to know where a peer connects from. */
export interface RoutingPolicyComponents {
  peerId: PeerId
  peerStore: Pick<PeerStore, 'get'>
  connectionManager: { getConnections(peerId?: PeerId): Connection[] }
}

interface Member {
  range: string
  bucket: number
}

async function kadId(peer: PeerId): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', peer.toMultihash().bytes))
}

/** Common-prefix length in bits: the Kademlia bucket index of `b` as seen from `a`. */
function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return a.length * 8
}

/** The routing table's per-range admission rule; `guard(table)` installs it. */
export class RoutingPolicy {
  readonly limits: Readonly<RoutingLimits>
  readonly #components: RoutingPolicyComponents
  readonly #members = new Map<string, Member>()
  #self: Uint8Array | undefined
  /** Peers refused or removed since start. */
  refused = 0

  constructor(components: RoutingPolicyComponents, limits: Partial<RoutingLimits> = {}) {
    this.limits = Object.freeze({ ...DEFAULT_ROUTING_LIMITS, ...limits })
    for (const [name, value] of Object.entries(this.limits))
      if (!Number.isSafeInteger(value) || value < 1) throw new InvalidNetworkInputError(name, 'an integer >= 1')
    this.#components = components
  }

  /** Where `peer` connects from: its live connection's address, else the first address the peer store has. */
  async rangeOf(peer: PeerId): Promise<string> {
    const conn = this.#components.connectionManager.getConnections(peer)[0]
    if (conn !== undefined) return sourceRange(conn.remoteAddr)
    try {
      const info = await this.#components.peerStore.get(peer)
      const addr = info.addresses[0]?.multiaddr
      if (addr !== undefined) return sourceRange(addr)
    } catch {
      // not in the peer store
    }
    return 'other:unknown'
  }

  /** Peers in the table from `range` (in `bucket` when given). */
  count(range: string, bucket?: number): number {
    let n = 0
    for (const m of this.#members.values()) if (m.range === range && (bucket === undefined || m.bucket === bucket)) n++
    return n
  }

  async #classify(peer: PeerId): Promise<Member> {
    this.#self ??= await kadId(this.#components.peerId)
    return { range: await this.rangeOf(peer), bucket: commonPrefixLength(this.#self, await kadId(peer)) }
  }

  #fits(key: string, m: Member): boolean {
    let inRange = 0
    let inBucket = 0
    for (const [k, other] of this.#members) {
      if (k === key || other.range !== m.range) continue
      inRange++
      if (other.bucket === m.bucket) inBucket++
    }
    return inRange < this.limits.maxRoutingPeersPerRange && inBucket < this.limits.maxRoutingPeersPerRangePerBucket
  }

  /** Installs the rule on kad-dht's routing table (call once, before the DHT starts). */
  guard(table: GuardedRoutingTable): void {
    const add = table.add.bind(table)
    table.add = async (peer, options) => {
      const key = peer.toString()
      if (this.#members.has(key)) return add(peer, options)
      const m = await this.#classify(peer)
      if (!this.#fits(key, m)) {
        this.refused++
        return
      }
      // Held while kad-dht pings the newcomer, so concurrent adds from one range see each other.
      this.#members.set(key, m)
      try {
        await add(peer, options)
      } finally {
        // kad-dht may have declined it (full bucket, failed ping): then 'peer:add' never came.
        if (!this.#confirmed.has(key)) this.#members.delete(key)
      }
    }
    table.addEventListener('peer:add', (e) => {
      const key = e.detail.toString()
      this.#confirmed.add(key)
      if (this.#members.has(key)) return
      // Got in without passing `add` (should not happen): admit or evict it by the same rule.
      void this.#classify(e.detail).then((m) => {
        if (this.#fits(key, m)) this.#members.set(key, m)
        else {
          this.refused++
          void table.remove(e.detail).catch(() => {})
        }
      })
    })
    table.addEventListener('peer:remove', (e) => {
      const key = e.detail.toString()
      this.#confirmed.delete(key)
      this.#members.delete(key)
    })
  }

  readonly #confirmed = new Set<string>()
}
