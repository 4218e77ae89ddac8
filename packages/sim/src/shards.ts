/**
 * A run over K worker threads: node i (and relay r, fabric index N + r) runs in worker (index mod K), each worker a
 * thread of its own with its own event loop, so a run uses K cores. Workers reach each other's nodes through
 * PortCrossLink (one MessagePort per pair of workers); the main thread only plans and orders: which node joins when
 * (the same topology and join admission as SimWorld, the load being the slowest worker's event-loop delay), whom it
 * dials, which lookups run, which contacts are added and texts sent; the workers post back their nodes' message and
 * receipt events. Scenarios that use nodes through World only (dht-lookup, delivery) run on it through `startWorld`.
 */
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads'
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
import { Directory, Placement } from './converged.ts'
import { workerOf } from './cross-link.ts'
import { ConvergedStartError, NodeStartFailedError, RunAbortedError } from './errors.ts'
import type { SendOutcome } from './node-events.ts'
import { Rng } from './rng.ts'
import type { ShardEvent, ShardInit, ShardPlace, ShardPlaced, ShardRequest, ShardStatus } from './shard-worker.ts'
import {
  type LookupFailure,
  type LookupOutcome,
  planTopology,
  SimWorld,
  type World,
  type WorldOptions
} from './world.ts'

/** Starts a world: in this thread (SimWorld) when `options.workers` is 1 or unset, else over worker threads. */
export async function startWorld(options: WorldOptions, join = options.nodes): Promise<World> {
  if ((options.workers ?? 1) <= 1) return SimWorld.start(options, join)
  return ShardedWorld.start(options, join)
}

type Reply = { q: number; ok: true; value: unknown } | { q: number; ok: false; error: string }
type Req = ShardRequest extends infer R ? (R extends { q: number } ? Omit<R, 'q'> : never) : never

interface NodeInfo {
  peerId: string
  identity: string
  /** Converged start: the nodes the newcomer's routing table took. */
  learned?: number[]
}

export class ShardedWorld implements World {
  readonly options: WorldOptions
  readonly topology: number[][]
  readonly relays: Array<{ index: number; address: string; alive: boolean }> = []
  readonly #workers: Worker[] = []
  readonly #calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  readonly #info = new Map<number, NodeInfo>()
  readonly #up = new Set<number>()
  readonly #gone = new Set<number>()
  readonly #probes = new Map<number, { puts: number; putFailures: number }>()
  readonly #load: Array<{ lagMs: number; utilization: number }> = []
  readonly #retransmits: number[] = []
  readonly #tag: string
  #q = 0
  rssBefore = 0
  rssAfterJoin = 0
  joinWallMs = 0
  admissionWaitMs = 0
  worstLoopStallMs = 0

  private constructor(options: WorldOptions) {
    this.options = options
    this.#tag = `parley-sim-${process.pid}-shards-${nextTag++}`
    this.topology = planTopology(
      options.seed,
      options.nodes,
      options.bootstrapPeers ?? DEFAULT_BOOTSTRAP_PEERS,
      options.joinConcurrency ?? DEFAULT_JOIN_CONCURRENCY
    )
  }

  static async start(options: WorldOptions, join = options.nodes): Promise<ShardedWorld> {
    const w = new ShardedWorld(options)
    const t0 = performance.now()
    await w.#spawn()
    // Memory per node counts from here: the worker threads are up with their modules loaded.
    w.rssBefore = process.memoryUsage().rss
    for (let r = 0; r < options.relays; r++) {
      const index = options.nodes + r
      const address = (await w.#call(workerOf(index, w.#workers.length), {
        t: 'relay',
        r,
        index,
        dataDir: `${options.dataDir}/relay-${r}`,
        bootstrap: w.relays.map((x) => x.address)
      })) as string
      w.relays.push({ index, address, alive: true })
    }
    await w.grow(join)
    w.joinWallMs = performance.now() - t0
    return w
  }

  async #spawn(): Promise<void> {
    const k = this.options.workers ?? 1
    for (let self = 0; self < k; self++) {
      const init: ShardInit = {
        self,
        workers: k,
        seed: this.options.seed,
        model: this.options.model,
        tag: this.#tag,
        protocolPrefix: this.options.protocolPrefix ?? SIM_PROTOCOL_PREFIX,
        kBucketSize: this.options.kBucketSize ?? DEFAULT_SIM_K,
        gossip: this.options.gossip ?? true,
        converged: this.options.converged === true,
        nodes: this.options.nodes,
        events: this.options.onNodeEvent !== undefined
      }
      const worker = new Worker(new URL('./shard-worker.ts', import.meta.url), {
        workerData: init,
        // the same heap ceiling as the main thread's (pnpm simulate raises it for large runs)
        resourceLimits: { maxOldGenerationSizeMb: 16_384 }
      })
      worker.on('message', (m: Reply | ShardStatus | ShardPlace | ShardEvent) => this.#onMessage(m, worker))
      worker.on('error', (e) => {
        for (const c of this.#calls.values()) c.reject(new NodeStartFailedError(`worker ${self}`, e))
        this.#calls.clear()
      })
      this.#workers.push(worker)
      this.#load.push({ lagMs: 0, utilization: 0 })
      this.#retransmits.push(0)
    }
    // One port per pair of workers.
    const ports: Array<Record<number, MessagePort>> = Array.from({ length: k }, () => ({}))
    for (let a = 0; a < k; a++) {
      for (let b = a + 1; b < k; b++) {
        const { port1, port2 } = new MessageChannel()
        ports[a]![b] = port1
        ports[b]![a] = port2
      }
    }
    await Promise.all(
      this.#workers.map((_, self) => this.#call(self, { t: 'ports', ports: ports[self]! }, Object.values(ports[self]!)))
    )
  }

  #onMessage(m: Reply | ShardStatus | ShardPlace | ShardEvent, from: Worker): void {
    if ('t' in m && m.t === 'event') {
      this.options.onNodeEvent?.(m.e)
      return
    }
    if ('t' in m && m.t === 'place') {
      this.#place(m).then(
        () => from.postMessage({ t: 'placed', id: m.id, error: null } satisfies ShardPlaced),
        (e: Error) => from.postMessage({ t: 'placed', id: m.id, error: e.message } satisfies ShardPlaced)
      )
      return
    }
    if ('t' in m) {
      this.#load[m.self] = { lagMs: m.lagMs, utilization: m.utilization }
      this.#retransmits[m.self] = m.retransmits
      this.worstLoopStallMs = Math.max(this.worstLoopStallMs, m.worstMs)
      for (const [i, puts, putFailures] of m.probes) this.#probes.set(i, { puts, putFailures })
      return
    }
    const c = this.#calls.get(m.q)
    if (c === undefined) return
    this.#calls.delete(m.q)
    if (m.ok) c.resolve(m.value)
    else c.reject(new Error(m.error))
  }

  #call(worker: number, req: Req, transfer: MessagePort[] = []): Promise<unknown> {
    const q = this.#q++
    return new Promise((resolve, reject) => {
      this.#calls.set(q, { resolve, reject })
      this.#workers[worker]!.postMessage({ ...req, q }, transfer)
    })
  }

  #all(req: Req): Promise<unknown[]> {
    return Promise.all(this.#workers.map((_, w) => this.#call(w, req)))
  }

  #placement: Promise<Placement> | undefined

  /** The converged start's placement (built once): records go to their k closest nodes up, through their workers. */
  #placer(): Promise<Placement> {
    this.#placement ??= (async () => {
      const rng = new Rng(this.options.seed, 'nodes')
      const dir = await Directory.of(
        this.options.nodes,
        (i) => rng.fork(`node/${i}`),
        (i) => `/memory/${this.#tag}-${i}`
      )
      return new Placement(dir, this.options.kBucketSize ?? DEFAULT_SIM_K, async (holder, from, key, value) => {
        if (!this.#up.has(holder)) throw new ConvergedStartError(`holder ${holder} is down`)
        await this.#call(workerOf(holder, this.#workers.length), { t: 'store', holder, from, key, value })
      })
    })()
    return this.#placement
  }

  async #place(m: ShardPlace): Promise<void> {
    await (await this.#placer()).put(m.i, m.key, m.value, this.#up)
  }

  async settle(): Promise<void> {
    if (this.options.converged === true) await (await this.#placer()).settle(this.upNodes())
  }

  /** Nodes started so far (crashed ones included). */
  get size(): number {
    return this.#info.size
  }

  async grow(target: number): Promise<void> {
    const batch = this.options.joinConcurrency ?? DEFAULT_JOIN_CONCURRENCY
    // K event loops sustain about K times the joins in flight of one.
    const inFlight = JOIN_MAX_UNPUBLISHED * this.#workers.length
    let i = this.size
    if (i === 0 && target > 0) {
      await this.#join(0)
      i = 1
    }
    while (i < target) {
      if (this.options.signal?.aborted) throw new RunAbortedError()
      const w0 = performance.now()
      const until = Date.now() + JOIN_BACKPRESSURE_MAX_WAIT_MS
      while ((this.#firstPublishes() >= inFlight || !this.#hasRoom()) && Date.now() < until) {
        if (this.options.signal?.aborted) throw new RunAbortedError()
        await sleep(50)
      }
      this.admissionWaitMs += performance.now() - w0
      const end = Math.min(target, 1 + Math.floor((i - 1) / batch) * batch + batch)
      await Promise.all(Array.from({ length: end - i }, (_, k) => this.#join(i + k)))
      i = end
      this.options.onJoin?.(i, this.options.nodes)
    }
    this.rssAfterJoin = process.memoryUsage().rss
  }

  /** Every worker's loop has room (see LoadGauge.hasRoom). */
  #hasRoom(): boolean {
    return this.#load.every((l) => l.utilization < JOIN_MAX_LOOP_UTILIZATION && l.lagMs < JOIN_MAX_LOOP_LAG_MS)
  }

  #firstPublishes(): number {
    let n = 0
    for (const i of this.#up) {
      const p = this.#probes.get(i)
      if (p === undefined || (p.puts === 0 && p.putFailures === 0)) n++
    }
    return n
  }

  async #join(i: number): Promise<void> {
    const relays = this.relays.filter((r) => r.alive).map((r) => r.address)
    const dial = [...relays]
    for (const p of this.topology[i] ?? []) {
      const info = this.#info.get(p)
      if (info !== undefined && this.#up.has(p)) dial.push(`/memory/${this.#tag}-${p}/p2p/${info.peerId}`)
    }
    // Other workers must let dials to i through again before it starts (a rejoin after a crash).
    await this.#all({ t: 'revive', i })
    this.#probes.set(i, { puts: 0, putFailures: 0 })
    const info = (await this.#call(workerOf(i, this.#workers.length), {
      t: 'join',
      i,
      dial,
      bootstrap: relays,
      relays,
      ...(this.options.mailboxTarget !== undefined && { mailboxTarget: this.options.mailboxTarget }),
      ...(this.options.mailboxPollMs !== undefined && { mailboxPollMs: this.options.mailboxPollMs }),
      ...(this.options.converged === true && { learn: this.upNodes() })
    })) as NodeInfo
    this.#info.set(i, info)
    this.#up.add(i)
    // Converged start: every node up learns the newcomer; the placement notes who entered some routing table.
    if (this.options.converged === true) {
      const placement = await this.#placer()
      placement.seen(info.learned ?? [])
      if ((await this.#all({ t: 'learn', i })).includes(true)) placement.seen([i])
    }
  }

  upNodes(): number[] {
    return [...this.#up].sort((a, b) => a - b)
  }

  isUp(i: number): boolean {
    return this.#up.has(i)
  }

  isGone(i: number): boolean {
    return this.#gone.has(i)
  }

  /** The sum of every worker's latest figure (each reports it every SHARD_STATUS_MS and when stopped). */
  get retransmits(): number {
    return this.#retransmits.reduce((a, b) => a + b, 0)
  }

  async addContact(a: number, b: number, name: string): Promise<void> {
    const target = this.#info.get(b)
    if (target === undefined || !this.#info.has(a)) {
      throw new NodeStartFailedError(`node ${target === undefined ? b : a}`, new Error('never started'))
    }
    await this.#call(workerOf(a, this.#workers.length), { t: 'contact', i: a, identity: target.identity, name })
  }

  async send(from: number, to: number, text: string): Promise<SendOutcome | undefined> {
    if (!this.#up.has(from)) return undefined
    const target = this.#info.get(to)
    if (target === undefined)
      return { ok: false, error: new NodeStartFailedError(`node ${to}`, new Error('never started')).code }
    const r = (await this.#call(workerOf(from, this.#workers.length), {
      t: 'send',
      from,
      identity: target.identity,
      text
    })) as SendOutcome | null
    return r ?? undefined
  }

  probe(i: number): { puts: number; putFailures: number } | undefined {
    return this.#up.has(i) ? this.#probes.get(i) : undefined
  }

  async lookup(from: number, to: number, timeoutMs: number, signal: AbortSignal): Promise<LookupOutcome | undefined> {
    const target = this.#info.get(to)
    if (!this.#up.has(from) || !this.#up.has(to) || target === undefined) return undefined
    signal.throwIfAborted()
    const r = (await this.#call(workerOf(from, this.#workers.length), {
      t: 'lookup',
      from,
      identity: target.identity,
      timeoutMs
    })) as { peer: string | null; ms: number; hops: number | null; failure: LookupFailure | null } | null
    if (r === null) return undefined
    if (r.peer === target.peerId) return { ok: true, ms: r.ms, hops: r.hops }
    return { ok: false, ms: r.ms, hops: null, failure: r.failure ?? 'wrong-peer' }
  }

  async crash(i: number, permanent: boolean): Promise<void> {
    if (!this.#up.has(i)) return
    this.#up.delete(i)
    if (permanent) this.#gone.add(i)
    const host = workerOf(i, this.#workers.length)
    await Promise.all(this.#workers.map((_, w) => this.#call(w, { t: 'crash', i, permanent, hosted: w === host })))
  }

  async leave(i: number): Promise<void> {
    if (!this.#up.has(i)) return
    this.#up.delete(i)
    await this.#call(workerOf(i, this.#workers.length), { t: 'leave', i })
  }

  async rejoin(i: number): Promise<void> {
    if (this.#up.has(i) || this.#gone.has(i)) return
    await this.#join(i)
  }

  async stop(): Promise<void> {
    await this.#all({ t: 'stop' }).catch(() => {})
    this.#up.clear()
    for (const r of this.relays) r.alive = false
    await Promise.allSettled(this.#workers.map((w) => w.terminate()))
  }
}

let nextTag = 0
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
