/**
 * A simulated world: relays and messengers on one fabric, joined in staggered batches along a seeded topology, with
 * crash, leave and rejoin. Node i of n is fabric index i; relay r is fabric index n + r.
 */
import { multiaddr } from '@multiformats/multiaddr'
import {
  DEFAULT_BOOTSTRAP_PEERS,
  DEFAULT_JOIN_CONCURRENCY,
  DEFAULT_SIM_K,
  JOIN_BACKPRESSURE_MAX_WAIT_MS,
  JOIN_MAX_UNPUBLISHED,
  SIM_PROTOCOL_PREFIX
} from './constants.ts'
import { RunAbortedError } from './errors.ts'
import type { LinkModel } from './model.ts'
import {
  type NodeSettings,
  type SimNode,
  type SimRelay,
  type SpawnedNode,
  spawnMessenger,
  spawnRelay
} from './nodes.ts'
import { type DhtProbe, probeDht } from './probes.ts'
import { Rng } from './rng.ts'
import { Fabric } from './transport.ts'

/** Options of a world. */
export interface WorldOptions {
  seed: string
  nodes: number
  relays: number
  model: LinkModel
  /** Where relays keep their data directories (a fresh temporary directory). */
  dataDir: string
  protocolPrefix?: string
  kBucketSize?: number
  joinConcurrency?: number
  bootstrapPeers?: number
  /** Mailbox relays each node keeps (default min(2, relays)). */
  mailboxTarget?: number
  mailboxPollMs?: number
  /** Run gossipsub on every node (default true, as the Node preset; see NodeSettings.gossip). */
  gossip?: boolean
  signal?: AbortSignal
  /** Called as nodes join: (done, total). */
  onJoin?: (done: number, total: number) => void
  /** Called each time node i's messenger starts (first join and every rejoin): attach event listeners here. */
  onNodeStart?: (i: number, node: SimNode) => void
}

/**
 * Who each node joins through, from the seed: node i (i ≥ 1) picks `peers` nodes among those of earlier batches (so
 * they are up when it starts), node 0 and the first batch join through node 0 or the relays only.
 */
export function planTopology(seed: string, nodes: number, peers: number, batch: number): number[][] {
  const rng = new Rng(seed, 'topology')
  const out: number[][] = [[]]
  for (let i = 1; i < nodes; i++) {
    const up = i <= batch ? 1 : batchStart(i, batch)
    out.push(rng.sample(up, peers).sort((a, b) => a - b))
  }
  return out
}

/** First node of node i's join batch (node 0 joins alone; then batches of `batch`). */
function batchStart(i: number, batch: number): number {
  return 1 + Math.floor((i - 1) / batch) * batch
}

interface Slot {
  node: SpawnedNode | undefined
  probe: DhtProbe | undefined
  up: boolean
  /** Crashed for good (its state is gone). */
  gone: boolean
}

export class SimWorld {
  readonly options: WorldOptions
  readonly fabric: Fabric
  readonly settings: NodeSettings
  readonly topology: number[][]
  readonly relays: Array<SimRelay & { alive: boolean }> = []
  readonly #slots: Slot[]
  readonly #rng: Rng
  /** process.memoryUsage().rss before the first node, and after the last joined (bytes). */
  rssBefore = 0
  rssAfterJoin = 0
  joinWallMs = 0

  private constructor(options: WorldOptions) {
    this.options = options
    this.#rng = new Rng(options.seed, 'nodes')
    this.fabric = new Fabric(options.seed, options.model, `parley-sim-${process.pid}-${nextTag++}`)
    this.settings = {
      fabric: this.fabric,
      protocolPrefix: options.protocolPrefix ?? SIM_PROTOCOL_PREFIX,
      kBucketSize: options.kBucketSize ?? DEFAULT_SIM_K,
      gossip: options.gossip ?? true
    }
    this.topology = planTopology(
      options.seed,
      options.nodes,
      options.bootstrapPeers ?? DEFAULT_BOOTSTRAP_PEERS,
      options.joinConcurrency ?? DEFAULT_JOIN_CONCURRENCY
    )
    this.#slots = Array.from({ length: options.nodes }, () => ({
      node: undefined,
      probe: undefined,
      up: false,
      gone: false
    }))
  }

  /** Starts the relays, then the nodes in staggered batches (only `join` of them when given; the rest with grow()). */
  static async start(options: WorldOptions, join = options.nodes): Promise<SimWorld> {
    const w = new SimWorld(options)
    w.rssBefore = process.memoryUsage().rss
    const t0 = performance.now()
    for (let r = 0; r < options.relays; r++) {
      const index = options.nodes + r
      const relay = await spawnRelay(
        w.settings,
        index,
        w.#rng.fork(`relay/${r}`),
        `${options.dataDir}/relay-${r}`,
        w.relays.map((x) => x.address)
      )
      w.relays.push({ ...relay, alive: true })
    }
    await w.grow(join)
    w.joinWallMs = performance.now() - t0
    return w
  }

  /** Nodes started so far. */
  get size(): number {
    return this.#slots.filter((s) => s.node !== undefined || s.gone).length
  }

  /** Starts nodes up to `target` (batches of joinConcurrency). */
  async grow(target: number): Promise<void> {
    const batch = this.options.joinConcurrency ?? DEFAULT_JOIN_CONCURRENCY
    let i = this.size
    if (i === 0 && target > 0) {
      await this.#join(0)
      i = 1
    }
    while (i < target) {
      if (this.options.signal?.aborted) throw new RunAbortedError()
      // Backpressure: a node that has not published its record yet is still walking the DHT. Starting more while many
      // are would overload the one event loop; then Noise handshakes and queries time out, failed publishes retry every
      // 2 s and the load feeds itself. So joins wait (bounded) until few are left.
      const until = Date.now() + JOIN_BACKPRESSURE_MAX_WAIT_MS
      while (this.#unpublished() >= JOIN_MAX_UNPUBLISHED && Date.now() < until) await sleep(50)
      const end = Math.min(target, batchStart(i, batch) + batch)
      await Promise.all(Array.from({ length: end - i }, (_, k) => this.#join(i + k)))
      i = end
      this.options.onJoin?.(i, this.options.nodes)
    }
    this.rssAfterJoin = process.memoryUsage().rss
  }

  #bootstrapOf(i: number): string[] {
    const peers = this.topology[i] ?? []
    const out = this.relays.filter((r) => r.alive).map((r) => r.address)
    for (const p of peers) {
      const n = this.#slots[p]
      if (n?.up && n.node) out.push(`${this.fabric.address(p)}/p2p/${n.node.libp2p.peerId.toString()}`)
    }
    return out
  }

  async #join(i: number): Promise<void> {
    const slot = this.#slots[i]!
    const relays = this.relays.filter((r) => r.alive).map((r) => r.address)
    // The messenger's own bootstrap list holds the relays only, as in a deployment: it republishes whenever a
    // bootstrap peer reconnects, which for ordinary peers (whose connections come and go) would be a republish storm.
    // The topology's peers are dialled by the simulator below.
    const dial = this.#bootstrapOf(i)
    const bootstrap = relays
    this.fabric.revive(i)
    const node = await spawnMessenger(
      this.settings,
      i,
      this.#rng.fork(`node/${i}`),
      {
        bootstrap,
        relays,
        ...(this.options.mailboxTarget !== undefined && { mailboxTarget: this.options.mailboxTarget }),
        ...(this.options.mailboxPollMs !== undefined && { mailboxPollMs: this.options.mailboxPollMs })
      },
      slot.node && { store: slot.node.store, backend: slot.node.backend }
    )
    slot.probe = probeDht(node.libp2p.services.dht)
    slot.node = node
    slot.up = true
    this.options.onNodeStart?.(i, node)
    // The Node preset dials its bootstrap list on start; the simulator dials it itself (and waits, to stagger joins).
    await Promise.allSettled(dial.map((a) => node.libp2p.dial(multiaddr(a), { signal: AbortSignal.timeout(10_000) })))
  }

  #unpublished(): number {
    let n = 0
    for (const s of this.#slots) if (s.up && (s.probe?.puts ?? 0) === 0) n++
    return n
  }

  /** Node i's messenger (undefined before it joined). */
  node(i: number): SimNode | undefined {
    return this.#slots[i]?.node
  }

  probe(i: number): DhtProbe | undefined {
    return this.#slots[i]?.probe
  }

  isUp(i: number): boolean {
    return this.#slots[i]?.up === true
  }

  isGone(i: number): boolean {
    return this.#slots[i]?.gone === true
  }

  /** Indices of nodes up now. */
  upNodes(): number[] {
    return this.#slots.flatMap((s, i) => (s.up ? [i] : []))
  }

  /** Node i crashes: connections cut at once, in-flight bytes lost. `permanent`: its state is gone too. */
  async crash(i: number, permanent: boolean): Promise<void> {
    const slot = this.#slots[i]!
    if (!slot.up) return
    slot.up = false
    slot.gone = permanent
    this.fabric.crash(i)
    await slot.node?.messenger.stop().catch(() => {})
  }

  /** Node i leaves gracefully (messenger.stop()). */
  async leave(i: number): Promise<void> {
    const slot = this.#slots[i]!
    if (!slot.up) return
    slot.up = false
    await slot.node?.messenger.stop().catch(() => {})
  }

  /** Node i comes back with its stored state (after a leave or a non-permanent crash). */
  async rejoin(i: number): Promise<void> {
    const slot = this.#slots[i]!
    if (slot.up || slot.gone) return
    await this.#join(i)
  }

  /** Relay r crashes (its connections cut, its mailbox gone with it). */
  async killRelay(r: number): Promise<void> {
    const relay = this.relays[r]
    if (relay === undefined || !relay.alive) return
    relay.alive = false
    this.fabric.crash(relay.index)
    await relay.relay.stop().catch(() => {})
  }

  /** Stops everything. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.#slots.map((s) => (s.up ? s.node?.messenger.stop() : undefined)))
    for (const s of this.#slots) s.up = false
    await Promise.allSettled(this.relays.map((r) => (r.alive ? r.relay.stop() : undefined)))
    for (const r of this.relays) r.alive = false
  }
}

let nextTag = 0

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
