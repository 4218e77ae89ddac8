/**
 * The simulator's transport: libp2p's in-memory transport (@libp2p/memory) wrapped so that every byte crosses the
 * network model. @libp2p/memory delays every buffer by one fixed number per transport; the wrapper gives each
 * connection the latency of its pair of nodes, per-chunk jitter and loss (as retransmission delay), a shared uplink
 * per node (bandwidth), partitions (dials across are refused, open connections across are cut) and crashes (a node's
 * connections die at once and whatever was still in flight to or from it is dropped).
 */

import type { AbortOptions, ComponentLogger, PeerId } from '@libp2p/interface'
import {
  type Connection,
  ConnectionFailedError,
  type MultiaddrConnection,
  type Transport,
  type Upgrader
} from '@libp2p/interface'
import { memory } from '@libp2p/memory'
import { AbstractMultiaddrConnection, type SendResult } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { Uint8ArrayList } from 'uint8arraylist'
import { type LinkModel, LinkTable } from './model.ts'
import { Rng } from './rng.ts'

/** Byte and chunk counters of the whole simulated network. */
export interface FabricStats {
  bytes: number
  chunks: number
  retransmits: number
  dialsRefused: number
  connectionsCut: number
}

/**
 * The simulated network all nodes of a run share: who is where, link latencies, partitions, crashes. Node `index`
 * listens at `/memory/<tag>-<index>`.
 */
export class Fabric {
  readonly tag: string
  readonly model: LinkModel
  readonly links: LinkTable
  readonly stats: FabricStats = { bytes: 0, chunks: 0, retransmits: 0, dialsRefused: 0, connectionsCut: 0 }
  readonly #byPeer = new Map<string, number>()
  readonly #uplinkFreeAt = new Map<number, number>()
  readonly #open = new Map<number, Set<ShapedConnection>>()
  readonly #down = new Set<number>()
  #group: ((index: number) => number) | undefined
  readonly #jitter: Rng

  constructor(seed: string, model: LinkModel, tag: string) {
    this.tag = tag
    this.model = model
    this.links = new LinkTable(seed, model)
    this.#jitter = new Rng(seed, 'jitter')
  }

  /** The memory address node `index` listens at. */
  address(index: number): string {
    return `/memory/${this.tag}-${index}`
  }

  /** Node index of a memory address of this fabric, or undefined. */
  indexOfAddress(ma: Multiaddr): number | undefined {
    const value = ma.getComponents().find((c) => c.name === 'memory')?.value
    const prefix = `${this.tag}-`
    if (value === undefined || !value.startsWith(prefix)) return undefined
    const n = Number(value.slice(prefix.length).replace(/-outgoing$/, ''))
    return Number.isSafeInteger(n) ? n : undefined
  }

  /** Records which node a peer id runs on (every libp2p node built with simTransport registers itself). */
  register(peer: PeerId, index: number): void {
    this.#byPeer.set(peer.toString(), index)
  }

  indexOfPeer(peer: string): number | undefined {
    return this.#byPeer.get(peer)
  }

  /** Whether a and b can reach each other now. */
  reachable(a: number, b: number): boolean {
    if (this.#down.has(a) || this.#down.has(b)) return false
    return this.#group === undefined || this.#group(a) === this.#group(b)
  }

  /** Splits the network: nodes in different groups cannot reach each other; open connections across are cut. */
  partition(groupOf: (index: number) => number): void {
    this.#group = groupOf
    for (const set of this.#open.values()) {
      for (const c of set) if (!this.reachable(c.local, c.remote)) this.#cut(c)
    }
  }

  /** Lifts the partition. */
  heal(): void {
    this.#group = undefined
  }

  /** Node `index` crashes: its connections die now and nothing in flight to or from it arrives. */
  crash(index: number): void {
    this.#down.add(index)
    for (const c of [...(this.#open.get(index) ?? [])]) this.#cut(c)
  }

  /** A crashed node's address may be used again (a restart). */
  revive(index: number): void {
    this.#down.delete(index)
  }

  /** Open (shaped) connections of node `index`. */
  connectionsOf(index: number): number {
    return this.#open.get(index)?.size ?? 0
  }

  #cut(c: ShapedConnection): void {
    this.stats.connectionsCut++
    c.cut()
  }

  /** When a chunk of `bytes` sent by `from` to `to` now arrives (absolute ms). */
  schedule(from: number, to: number, bytes: number, now: number): number {
    const { ms, retransmits } = this.links.chunkDelay(from, to, this.#jitter)
    this.stats.bytes += bytes
    this.stats.chunks++
    this.stats.retransmits += retransmits
    let departs = now
    if (this.model.bandwidthBps > 0) {
      departs = Math.max(now, this.#uplinkFreeAt.get(from) ?? 0) + (bytes * 1000) / this.model.bandwidthBps
      this.#uplinkFreeAt.set(from, departs)
    }
    return departs + ms
  }

  track(c: ShapedConnection): void {
    for (const i of [c.local, c.remote]) {
      const set = this.#open.get(i) ?? new Set<ShapedConnection>()
      set.add(c)
      this.#open.set(i, set)
    }
  }

  untrack(c: ShapedConnection): void {
    for (const i of [c.local, c.remote]) {
      const set = this.#open.get(i)
      set?.delete(c)
      if (set?.size === 0) this.#open.delete(i)
    }
  }
}

/** One end of a connection, shaped: what this end sends reaches the other end when the model says. */
class ShapedConnection extends AbstractMultiaddrConnection {
  readonly local: number
  readonly remote: number
  readonly #inner: MultiaddrConnection
  readonly #fabric: Fabric
  readonly #queue: Array<{ at: number; data: Uint8ArrayList }> = []
  #timer: ReturnType<typeof setTimeout> | undefined
  #drained: (() => void) | undefined
  #cut = false

  constructor(inner: MultiaddrConnection, fabric: Fabric, local: number, remote: number, log: ComponentLogger) {
    super({ remoteAddr: inner.remoteAddr, direction: inner.direction, log: log.forComponent('parley:sim:conn') })
    this.#inner = inner
    this.#fabric = fabric
    this.local = local
    this.remote = remote
    fabric.track(this)
    inner.addEventListener('message', (e) => {
      if (!this.#cut) this.onData(e.data)
    })
    inner.addEventListener('close', (e) => {
      fabric.untrack(this)
      this.onTransportClosed(e.error)
    })
  }

  sendData(data: Uint8ArrayList): SendResult {
    const now = Date.now()
    const last = this.#queue.at(-1)?.at ?? 0
    // A TCP connection delivers in order: nothing overtakes the chunk before it.
    const at = Math.max(last, this.#fabric.schedule(this.local, this.remote, data.byteLength, now))
    this.#queue.push({ at, data })
    if (this.#queue.length === 1) this.#arm(at - now)
    return { sentBytes: data.byteLength, canSendMore: true }
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, ms))
  }

  #flush(): void {
    this.#timer = undefined
    const now = Date.now()
    // Everything due goes over in one buffer (one read on the other side, not one per yamux frame).
    let due = 0
    while (due < this.#queue.length && this.#queue[due]!.at <= now) due++
    const chunks = this.#queue.splice(0, due)
    // The other end may have closed meanwhile (its close raced our delayed bytes): those bytes are lost, as on TCP.
    if (chunks.length > 0 && !this.#cut) {
      const out = new Uint8ArrayList()
      for (const c of chunks) out.append(c.data)
      try {
        this.#inner.send(out.subarray())
      } catch {
        // closed for writing: dropped
      }
    }
    const head = this.#queue[0]
    if (head !== undefined) this.#arm(head.at - now)
    else this.#drained?.()
  }

  sendReset(err: Error): void {
    this.#drop()
    this.#inner.abort(err)
  }

  async sendClose(options?: AbortOptions): Promise<void> {
    if (this.#queue.length > 0) await new Promise<void>((resolve) => (this.#drained = resolve))
    options?.signal?.throwIfAborted()
    await this.#inner.close(options)
  }

  sendPause(): void {
    // the in-memory pipe has no read backpressure (as @libp2p/memory)
  }

  sendResume(): void {}

  #drop(): void {
    clearTimeout(this.#timer)
    this.#queue.length = 0
    this.#drained?.()
  }

  /** Cut by a crash or a partition: in-flight chunks are lost, both ends see a reset. */
  cut(): void {
    this.#cut = true
    this.#drop()
    this.#fabric.untrack(this)
    const err = new ConnectionFailedError('link cut by the simulated network')
    this.#inner.abort(err)
    this.abort(err)
  }
}

/** Components the transport needs (as @libp2p/memory's). */
export interface SimTransportComponents {
  peerId: PeerId
  logger: ComponentLogger
}

/** Wraps the upgrader so inbound connections are shaped before libp2p sees them. */
function shapingUpgrader(upgrader: Upgrader, shape: (c: MultiaddrConnection) => MultiaddrConnection): Upgrader {
  return new Proxy(upgrader, {
    get(target, prop) {
      if (prop === 'upgradeInbound') {
        return (maConn: MultiaddrConnection, opts: Parameters<Upgrader['upgradeInbound']>[1]) =>
          target.upgradeInbound(shape(maConn), opts)
      }
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
}

/** The transport of simulated node `index`: @libp2p/memory under the fabric's network model. */
export function simTransport(fabric: Fabric, index: number): (components: SimTransportComponents) => Transport {
  return (components) => {
    fabric.register(components.peerId, index)
    const inner = memory()(components)
    const remoteOf = (maConn: MultiaddrConnection): number => {
      const peer = maConn.remoteAddr.getComponents().find((c) => c.name === 'p2p')?.value
      return (
        (peer !== undefined ? fabric.indexOfPeer(peer) : undefined) ?? fabric.indexOfAddress(maConn.remoteAddr) ?? -1
      )
    }
    const transport: Transport = Object.create(inner)
    transport.dial = async (ma, options): Promise<Connection> => {
      const remote = fabric.indexOfAddress(ma) ?? -1
      if (!fabric.reachable(index, remote)) {
        fabric.stats.dialsRefused++
        throw new ConnectionFailedError(`node ${remote} is unreachable from node ${index} in the simulated network`)
      }
      // The handshake's first flight pays the link's latency (the rest is paid chunk by chunk).
      await new Promise((r) => setTimeout(r, fabric.links.latency(index, remote)))
      return inner.dial(ma, {
        ...options,
        upgrader: shapingUpgraderOutbound(
          options.upgrader,
          (c) => new ShapedConnection(c, fabric, index, remote, components.logger)
        )
      })
    }
    transport.createListener = (options) =>
      inner.createListener({
        ...options,
        upgrader: shapingUpgrader(options.upgrader, (c) => {
          const remote = remoteOf(c)
          if (!fabric.reachable(index, remote)) {
            const err = new ConnectionFailedError('unreachable in the simulated network')
            c.abort(err)
          }
          return new ShapedConnection(c, fabric, index, remote, components.logger)
        })
      })
    return transport
  }
}

function shapingUpgraderOutbound(upgrader: Upgrader, shape: (c: MultiaddrConnection) => MultiaddrConnection): Upgrader {
  return new Proxy(upgrader, {
    get(target, prop) {
      if (prop === 'upgradeOutbound') {
        return (maConn: MultiaddrConnection, opts: Parameters<Upgrader['upgradeOutbound']>[1]) =>
          target.upgradeOutbound(shape(maConn), opts)
      }
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
}
