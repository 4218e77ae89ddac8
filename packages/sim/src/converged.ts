/**
 * Converged start (dht-lookup `--converged 1`): the network begins in the state a long-running Kademlia network
 * converges to, built from the seed instead of by thousands of joins, and then the lookups run live.
 *
 * - Routing tables: every node's kad-dht routing table holds every other node up (what kad-dht 16's table — a trie
 *   split to depth 6, k per leaf, so up to 64·k peers — converges to below ~1,000 nodes; above that its own bucket
 *   rules drop the overflow), entered through the table's own `add` with the liveness ping waived (the peers are
 *   up by construction), and their addresses in the peer store.
 * - Records: every record a messenger puts (its own, as it publishes it) is stored at the k nodes up whose kad ids
 *   are closest to the record's key (XOR of SHA-256 ids, as kad-dht computes them) through each holder's own PUT_VALUE
 *   handler — the holder validates it with Parley's validator and stores it exactly as for a PUT over the wire —
 *   instead of by a walk and k PUTs over the network. Before each stage's lookups every record is placed again among
 *   the nodes then up (what republishing does in a live network).
 * - Maintenance walks are off (the self-query and the 5-minute routing-table refresh): the tables are already what
 *   they would find.
 *
 * What stays live: every node's start (account, libp2p, its bootstrap connections), every lookup (a kad-dht walk from
 * the node's table over the simulated links: Noise, yamux, kad RPCs, Parley's validation) and churn. What is not
 * measured in this mode: join and publish traffic, and tables shaped by real joins (kad-dht's tables after live joins
 * hold fewer peers, so live lookups may take more hops). Why it exists: with kad-dht's α = 10 over 10 disjoint paths,
 * every walk queries ~200 peers at 1,000 nodes, and a live join (self-query, refresh, publish) costs a node 3–10
 * CPU-seconds there — see docs/simulation.md.
 */
import { createHash } from 'node:crypto'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { Record as DhtRecord, type KadDHT, MessageType } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import { CONVERGED_MAINTENANCE_OFF_MS } from './constants.ts'
import { ConvergedStartError } from './errors.ts'
import type { Rng } from './rng.ts'

/** A node's libp2p key from its own seeded stream (the messenger's network key; spawnMessenger uses this too). */
export function peerKeyOf(nodeRng: Rng): Promise<PrivateKey> {
  return generateKeyPairFromSeed('Ed25519', nodeRng.fork('peer').bytes(32))
}

/** kad-dht's id of a key or peer: SHA-256 of the bytes (of a peer id's multihash). */
const kadIdOf = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest()

/** Compares XOR distances of a and b to target (negative: a is closer). */
function closer(a: Uint8Array, b: Uint8Array, target: Uint8Array): number {
  for (let i = 0; i < target.length; i++) {
    const d = (a[i]! ^ target[i]!) - (b[i]! ^ target[i]!)
    if (d !== 0) return d
  }
  return 0
}

/** Every simulated node's peer id, kad id and address, from the seed (the same keys the nodes start with). */
export class Directory {
  readonly #peers: PeerId[]
  readonly #kadIds: Buffer[]
  readonly #address: (i: number) => string

  private constructor(peers: PeerId[], address: (i: number) => string) {
    this.#peers = peers
    this.#kadIds = peers.map((p) => kadIdOf(p.toMultihash().bytes))
    this.#address = address
  }

  /** Nodes 0…n−1 of a run: `nodeRng(i)` is node i's stream (world rng fork `node/i`). */
  static async of(n: number, nodeRng: (i: number) => Rng, address: (i: number) => string): Promise<Directory> {
    const peers: PeerId[] = []
    for (let i = 0; i < n; i++) peers.push(peerIdFromPrivateKey(await peerKeyOf(nodeRng(i))))
    return new Directory(peers, address)
  }

  peer(i: number): PeerId {
    return this.#peers[i]!
  }

  /** Node i's kad id (SHA-256 of its peer id's multihash). */
  kadId(i: number): Uint8Array {
    return this.#kadIds[i]!
  }

  address(i: number): string {
    return this.#address(i)
  }

  /** The k nodes among `among` whose kad ids are closest to `key`'s (kad-dht's replication set of a PUT). */
  closest(key: Uint8Array, among: Iterable<number>, k: number): number[] {
    const target = kadIdOf(key)
    return [...among].sort((a, b) => closer(this.#kadIds[a]!, this.#kadIds[b]!, target)).slice(0, k)
  }
}

/** A contact in kad-dht's k-bucket trie. */
interface Contact {
  peerId: PeerId
  kadId: Uint8Array
  lastPing: number
}

/** kad-dht internals the converged start reaches (kad-dht 16; test/converged.node.test.ts fails if they move). */
interface KadInternals {
  routingTable: {
    peerTagName: string
    peerTagValue: number
    size: number
    kb?: { _add(c: Contact, options?: object): Promise<void>; get(kadId: Uint8Array): unknown; onAdd?: unknown }
  }
  routingTableRefresh: { refreshInterval: number }
  queryManager: { initialQuerySelfHasRun?: unknown }
  rpc: {
    handleMessage(from: PeerId, msg: { type: MessageType; key: Uint8Array; record: Uint8Array }): Promise<unknown>
  }
}

const internals = (dht: KadDHT): KadInternals => dht as unknown as KadInternals

/**
 * Turns off kad-dht's table maintenance on one node (call before it starts): its routing-table refresh (every 5 min,
 * one walk per common-prefix length) is pushed past any run, and queries no longer wait for a first self-query (whose
 * timer the node's DHT timers push past the run too).
 */
export function quietMaintenance(dht: KadDHT): void {
  const kad = internals(dht)
  kad.routingTableRefresh.refreshInterval = CONVERGED_MAINTENANCE_OFF_MS
  kad.queryManager.initialQuerySelfHasRun = undefined
}

/**
 * Puts `peers` (indices) into node `self`'s routing table, and their addresses and kad-dht's routing-table tag into
 * its peer store, as after a liveness ping. The contacts go into kad-dht's k-bucket trie through its own insertion
 * (splits, bucket limits), with one peer-store write per peer: the table's own `add` costs about four (its new-contact
 * check, our range policy's address read, kad-dht's tag write and its listeners' reads), ~1 ms per peer, which for
 * N² entries was most of a 1,000-node start. Not run for these entries: the range policy (lifted in simulations) and
 * kad-dht's `peer:add` listeners (its closest-peers tagger).
 */
export async function learnPeers(
  node: Libp2p,
  dht: KadDHT,
  dir: Directory,
  self: number,
  peers: number[]
): Promise<number[]> {
  const table = internals(dht).routingTable
  const kb = table.kb
  if (kb === undefined) throw new ConvergedStartError('the routing table has not started')
  const tags = { [table.peerTagName]: { value: table.peerTagValue } }
  // Learning may run for one node from several joins at once: the table's own onAdd comes back after the last.
  const quiet = quieted.get(kb) ?? { onAdd: kb.onAdd, active: 0 }
  quieted.set(kb, quiet)
  quiet.active++
  kb.onAdd = undefined
  const added: number[] = []
  try {
    for (const j of peers) {
      if (j === self) continue
      const peerId = dir.peer(j)
      await node.peerStore.merge(peerId, { multiaddrs: [multiaddr(dir.address(j))], tags })
      await kb._add({ peerId, kadId: dir.kadId(j), lastPing: Date.now() })
      if (kb.get(dir.kadId(j)) !== undefined) added.push(j)
    }
    return added
  } finally {
    if (--quiet.active === 0) {
      kb.onAdd = quiet.onAdd
      quieted.delete(kb)
    }
  }
}

/** Tables whose onAdd learnPeers has set aside, with how many learnPeers calls are inside. */
const quieted = new WeakMap<object, { onAdd: unknown; active: number }>()

/** Stores a record at node `dht` as a PUT_VALUE from `from` would: its own handler validates and stores it. */
export async function storeRecord(dht: KadDHT, from: PeerId, key: Uint8Array, value: Uint8Array): Promise<void> {
  const record = new DhtRecord(key, value, new Date()).serialize()
  await internals(dht).rpc.handleMessage(from, { type: MessageType.PUT_VALUE, key, record })
}

/**
 * Where records go in a converged network: each node's latest record, stored at the k closest nodes up. `deliver`
 * hands one record to one holder (directly in one thread, through the main thread across workers).
 */
export class Placement {
  readonly #dir: Directory
  readonly #k: number
  readonly #latest = new Map<number, { key: Uint8Array; value: Uint8Array }>()
  readonly #deliver: (holder: number, from: number, key: Uint8Array, value: Uint8Array) => Promise<void>

  constructor(
    dir: Directory,
    k: number,
    deliver: (holder: number, from: number, key: Uint8Array, value: Uint8Array) => Promise<void>
  ) {
    this.#dir = dir
    this.#k = k
    this.#deliver = deliver
  }

  /** Nodes some routing table holds (learnPeers says which it added): only these can be found by a walk. */
  readonly #visible = new Set<number>()

  /** Notes nodes that entered a routing table. */
  seen(nodes: Iterable<number>): void {
    for (const j of nodes) this.#visible.add(j)
  }

  /**
   * Where node `from`'s record goes: `from` itself (kad-dht's put stores locally first) and the k closest among the
   * nodes up that some routing table holds. A PUT walk ends at the k closest peers it can reach, and a walk reaches
   * only peers some table names: once a prefix's bucket is full (kad-dht 16's trie stops at 64 buckets of k, so from
   * 64·k nodes on) the nodes left out of every table cannot be found by a put or a get, and the true k closest would
   * be the wrong place (a k = 4 run of 1,000 nodes lost 6% of its lookups to that before).
   */
  holders(from: number, key: Uint8Array, up: Iterable<number>): number[] {
    const reachable = [...up].filter((j) => this.#visible.has(j))
    const closest = this.#dir.closest(key, reachable, this.#k)
    return closest.includes(from) ? closest : [from, ...closest]
  }

  /** Node `from` puts a record: stored at its holders (above); rejected when none accepted it. */
  async put(from: number, key: Uint8Array, value: Uint8Array, up: Iterable<number>): Promise<void> {
    this.#latest.set(from, { key, value })
    const holders = this.holders(from, key, up)
    const done = await Promise.allSettled(holders.map((h) => this.#deliver(h, from, key, value)))
    if (!done.some((d) => d.status === 'fulfilled')) throw new ConvergedStartError('no holder accepted the record')
  }

  /** Places every node's latest record again among the nodes up now (before a stage's lookups). */
  async settle(up: number[]): Promise<void> {
    const alive = new Set(up)
    for (const [from, r] of this.#latest) {
      if (!alive.has(from)) continue
      const holders = this.holders(from, r.key, up)
      await Promise.allSettled(holders.map((h) => this.#deliver(h, from, r.key, r.value)))
    }
  }
}
