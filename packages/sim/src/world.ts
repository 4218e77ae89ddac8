/**
 * A simulated world: relays and messengers on one fabric, joined in staggered batches along a seeded topology, with
 * crash, leave and rejoin. Node i of n is fabric index i; relay r is fabric index n + r.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { dhtKeyForIdentity } from '@parley/wire'
import {
  DEFAULT_BOOTSTRAP_PEERS,
  DEFAULT_JOIN_CONCURRENCY,
  DEFAULT_SIM_K,
  JOIN_BACKPRESSURE_MAX_WAIT_MS,
  JOIN_MAX_LOOP_LAG_MS,
  JOIN_MAX_LOOP_UTILIZATION,
  JOIN_MAX_UNPUBLISHED,
  SIM_PROTOCOL_PREFIX
} from './constants.ts'
import { Directory, learnPeers, Placement, storeRecord } from './converged.ts'
import { ConvergedStartError, NodeStartFailedError, RunAbortedError } from './errors.ts'
import { LoadGauge } from './load.ts'
import type { LinkModel } from './model.ts'
import { forwardEvents, type NodeEvent, type SendOutcome, sendText } from './node-events.ts'
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
  /**
   * Every node's `message` and `receipt` events, in this thread, across rejoins (World.send's counterpart; with
   * worker threads they arrive by message, stamped where they fired). onNodeStart gives SimWorld's node objects only.
   */
  onNodeEvent?: (e: NodeEvent) => void
  /** Worker threads (startWorld in shards.ts; SimWorld itself runs everything in this thread). */
  workers?: number
  /**
   * Converged start (converged.ts): every node's routing table holds every node up and records are stored at their k
   * closest nodes by the simulator; lookups run live. Default false: nodes join and publish live.
   */
  converged?: boolean
}

/** What one lookup of node `to`'s record by node `from` gave. */
export interface LookupOutcome {
  /** The record found names `to`'s peer id. */
  ok: boolean
  ms: number
  /** Hops to the nearest peer that answered with the record (null when none did). */
  hops: number | null
  /** Why a lookup that is not `ok` failed (see lookupFailure); absent when ok. */
  failure?: LookupFailure
}

/**
 * Why a lookup failed: `timeout` (the lookup's own time limit ran out), `not-found` (the walk and the fallback
 * servers answered, none with a valid record), `wrong-peer` (a valid record that names another device), or the
 * error's code (or name) for anything else.
 */
export type LookupFailure = 'timeout' | 'not-found' | 'wrong-peer' | (string & {})

/** The failure a lookup's error stands for; `limit` is the lookup's own time limit (aborted: it ran out). */
export function lookupFailure(e: unknown, limit: AbortSignal): LookupFailure {
  if (limit.aborted) return 'timeout'
  if (e instanceof Error && e.name === 'ContactNotFoundError') return 'not-found'
  const code = (e as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? code : e instanceof Error ? e.name : 'unknown'
}

/**
 * What a scenario that grows, churns, looks up and exchanges 1:1 messages needs of a world; SimWorld (one thread) and
 * ShardedWorld (worker threads, shards.ts) both give it. Nodes are named by index only: no node object crosses it.
 */
export interface World {
  readonly options: WorldOptions
  readonly topology: number[][]
  readonly relays: ReadonlyArray<{ readonly index: number; readonly address: string; alive: boolean }>
  rssBefore: number
  rssAfterJoin: number
  joinWallMs: number
  admissionWaitMs: number
  worstLoopStallMs: number
  grow(target: number): Promise<void>
  upNodes(): number[]
  isUp(i: number): boolean
  /** Node i crashed for good (its state is gone; it never comes back). */
  isGone(i: number): boolean
  /** Chunks the link model lost and resent, over every node's links. */
  readonly retransmits: number
  probe(i: number): Pick<DhtProbe, 'puts' | 'putFailures'> | undefined
  /** Node `from` looks up node `to`'s record (at most `timeoutMs`); undefined when either is down (skipped). */
  lookup(from: number, to: number, timeoutMs: number, signal: AbortSignal): Promise<LookupOutcome | undefined>
  /** Converged start: places every node's latest record again among the nodes up now (no-op otherwise). */
  settle(): Promise<void>
  /** Node `a` adds node `b` (by its identity key) as a contact named `name`; both must have started once. */
  addContact(a: number, b: number, name: string): Promise<void>
  /**
   * Node `from` sends `text` to node `to` (a contact); undefined when `from` is down. Its events (onNodeEvent) say
   * where the message went next.
   */
  send(from: number, to: number, text: string): Promise<SendOutcome | undefined>
  crash(i: number, permanent: boolean): Promise<void>
  leave(i: number): Promise<void>
  rejoin(i: number): Promise<void>
  stop(): Promise<void>
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

export class SimWorld implements World {
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
  /** Time joins waited for the machine (join backpressure), ms, and the longest event-loop stall seen while joining. */
  admissionWaitMs = 0
  worstLoopStallMs = 0

  private constructor(options: WorldOptions) {
    this.options = options
    this.#rng = new Rng(options.seed, 'nodes')
    this.fabric = new Fabric(options.seed, options.model, `parley-sim-${process.pid}-${nextTag++}`)
    this.settings = {
      fabric: this.fabric,
      protocolPrefix: options.protocolPrefix ?? SIM_PROTOCOL_PREFIX,
      kBucketSize: options.kBucketSize ?? DEFAULT_SIM_K,
      gossip: options.gossip ?? true,
      converged: options.converged === true
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

  #converged: Promise<{ dir: Directory; placement: Placement }> | undefined

  /** The converged start's directory and placement (built once, on first use). */
  #convergence(): Promise<{ dir: Directory; placement: Placement }> {
    this.#converged ??= (async () => {
      const dir = await Directory.of(
        this.options.nodes,
        (i) => this.#rng.fork(`node/${i}`),
        (i) => this.fabric.address(i)
      )
      const placement = new Placement(dir, this.settings.kBucketSize, async (holder, from, key, value) => {
        const n = this.#slots[holder]
        if (n?.up !== true || n.node === undefined) throw new ConvergedStartError(`holder ${holder} is down`)
        await storeRecord(n.node.libp2p.services.dht, dir.peer(from), key, value)
      })
      return { dir, placement }
    })()
    return this.#converged
  }

  async settle(): Promise<void> {
    if (this.options.converged === true) await (await this.#convergence()).placement.settle(this.upNodes())
  }

  /** Nodes started so far. */
  get size(): number {
    return this.#slots.filter((s) => s.node !== undefined || s.gone).length
  }

  /**
   * Starts nodes up to `target`, in batches of joinConcurrency, each batch admitted at the rate the machine sustains:
   * it waits (bounded by JOIN_BACKPRESSURE_MAX_WAIT_MS) while JOIN_MAX_UNPUBLISHED nodes are still on their first
   * publish, the event loop is busy more than JOIN_MAX_LOOP_UTILIZATION of the time or timers run more than
   * JOIN_MAX_LOOP_LAG_MS late.
   */
  async grow(target: number): Promise<void> {
    const batch = this.options.joinConcurrency ?? DEFAULT_JOIN_CONCURRENCY
    const gauge = new LoadGauge()
    try {
      let i = this.size
      if (i === 0 && target > 0) {
        await this.#join(0)
        i = 1
      }
      while (i < target) {
        if (this.options.signal?.aborted) throw new RunAbortedError()
        // Backpressure: a node on its first publish is walking the DHT and putting to 20 peers, and every node shares
        // one event loop. Starting more while the loop runs late or many first publishes are in flight overloads it:
        // then Noise handshakes and queries time out, publishes fail and retry, and the load feeds itself.
        const w0 = performance.now()
        const until = Date.now() + JOIN_BACKPRESSURE_MAX_WAIT_MS
        while (
          (this.#firstPublishes() >= JOIN_MAX_UNPUBLISHED ||
            !gauge.hasRoom(JOIN_MAX_LOOP_UTILIZATION, JOIN_MAX_LOOP_LAG_MS)) &&
          Date.now() < until
        ) {
          if (this.options.signal?.aborted) throw new RunAbortedError()
          await sleep(50)
        }
        this.admissionWaitMs += performance.now() - w0
        const end = Math.min(target, batchStart(i, batch) + batch)
        await Promise.all(Array.from({ length: end - i }, (_, k) => this.#join(i + k)))
        i = end
        this.options.onJoin?.(i, this.options.nodes)
      }
    } finally {
      this.worstLoopStallMs = Math.max(this.worstLoopStallMs, gauge.worstMs)
      gauge.stop()
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
    if (this.options.converged === true) {
      const { dir, placement } = await this.#convergence()
      const others = this.upNodes()
      slot.probe = probeDht(node.libp2p.services.dht, (key, value) => placement.put(i, key, value, this.upNodes()))
      placement.seen(await learnPeers(node.libp2p, node.libp2p.services.dht, dir, i, others))
      for (const j of others) {
        const n = this.#slots[j]?.node
        if (n !== undefined) placement.seen(await learnPeers(n.libp2p, n.libp2p.services.dht, dir, j, [i]))
      }
    } else {
      slot.probe = probeDht(node.libp2p.services.dht)
    }
    slot.node = node
    slot.up = true
    this.options.onNodeStart?.(i, node)
    if (this.options.onNodeEvent !== undefined) forwardEvents(i, node.messenger, this.options.onNodeEvent)
    // The Node preset dials its bootstrap list on start; the simulator dials it itself (and waits, to stagger joins).
    await Promise.allSettled(dial.map((a) => node.libp2p.dial(multiaddr(a), { signal: AbortSignal.timeout(10_000) })))
  }

  /** Nodes up whose first publish is still running (not published, not failed yet). */
  #firstPublishes(): number {
    let n = 0
    for (const s of this.#slots)
      if (s.up && s.probe !== undefined && s.probe.puts === 0 && s.probe.putFailures === 0) n++
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

  get retransmits(): number {
    return this.fabric.stats.retransmits
  }

  async addContact(a: number, b: number, name: string): Promise<void> {
    const na = this.node(a)
    const nb = this.node(b)
    if (na === undefined || nb === undefined)
      throw new NodeStartFailedError(`node ${na ? b : a}`, new Error('never started'))
    await na.messenger.addContact(nb.identity, { name })
  }

  async send(from: number, to: number, text: string): Promise<SendOutcome | undefined> {
    const a = this.node(from)
    if (a === undefined || !this.isUp(from)) return undefined
    const b = this.node(to)
    if (b === undefined)
      return { ok: false, error: new NodeStartFailedError(`node ${to}`, new Error('never started')).code }
    return sendText(a.messenger, b.identity, text)
  }

  async lookup(from: number, to: number, timeoutMs: number, signal: AbortSignal): Promise<LookupOutcome | undefined> {
    const a = this.node(from)
    const b = this.node(to)
    if (a === undefined || b === undefined || !this.isUp(from) || !this.isUp(to)) return undefined
    const started = performance.now()
    let failure: LookupFailure | undefined
    const limit = AbortSignal.timeout(timeoutMs)
    try {
      const found = await a.messenger.lookup(b.messenger.identityKey, { signal: AbortSignal.any([signal, limit]) })
      if (!found.peerId.equals(b.libp2p.peerId)) failure = 'wrong-peer'
    } catch (e) {
      failure = lookupFailure(e, limit)
    }
    const ms = performance.now() - started
    const key = Buffer.from(dhtKeyForIdentity(b.messenger.identityKey)).toString('hex')
    if (failure !== undefined) return { ok: false, ms, hops: null, failure }
    return { ok: true, ms, hops: this.probe(from)?.hops.get(key) ?? null }
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
