/**
 * The simulator's transport: an in-process transport on `/memory/<run>-<i>` addresses (what @libp2p/memory offers, and
 * the same addresses) whose two connection ends are joined through the network model: every chunk one end sends
 * reaches the other when the model says — the pair's latency, per-chunk jitter and loss (as retransmission delay), a
 * shared uplink per node (bandwidth), partitions (dials across are refused, open connections across are cut) and
 * crashes (a node's connections die at once and whatever was still in flight to or from it is dropped). An end hands
 * its bytes straight to the other end's reader (no stream in between), and when a run spans worker threads
 * (shards.ts) the far end may live in another thread: then the bytes cross a MessagePort (see CrossLink).
 */

import type { ComponentLogger, PeerId } from '@libp2p/interface'
import {
  type Connection,
  ConnectionFailedError,
  type CreateListenerOptions,
  type DialTransportOptions,
  ListenError,
  type Listener,
  type ListenerEvents,
  serviceCapabilities,
  type Transport,
  transportSymbol
} from '@libp2p/interface'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { type FarEnd, pair, ShapedConnection } from './connection.ts'
import { type LinkModel, LinkTable } from './model.ts'
import { Rng } from './rng.ts'

export { type FarEnd, ShapedConnection }

/** Byte and chunk counters of the whole simulated network. */
export interface FabricStats {
  bytes: number
  chunks: number
  retransmits: number
  dialsRefused: number
  connectionsCut: number
}

/** Connections to nodes in another worker thread (shards.ts implements it over MessagePorts). */
export interface CrossLink {
  /** Whether node `index` runs in this thread. */
  isLocal(index: number): boolean
  /** Opens a connection from local node `from` to remote node `to` (rejects if nobody listens there). */
  open(near: ShapedConnection, from: number, to: number, dialer: PeerId, signal: AbortSignal): Promise<void>
}

/**
 * The simulated network all nodes of a run share: who is where, link latencies, partitions, crashes. Node `index`
 * listens at `/memory/<tag>-<index>`. In a run spread over worker threads every thread has its own Fabric with the
 * same seed, model and tag, and a CrossLink to the others.
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
  readonly #listeners = new Map<number, SimListener>()
  #group: ((index: number) => number) | undefined
  readonly #jitter: Rng
  cross: CrossLink | undefined

  constructor(seed: string, model: LinkModel, tag: string, jitterStream = 'jitter') {
    this.tag = tag
    this.model = model
    this.links = new LinkTable(seed, model)
    this.#jitter = new Rng(seed, jitterStream)
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
    for (const set of [...this.#open.values()]) {
      for (const c of [...set]) if (!this.reachable(c.local, c.remote)) this.#cut(c)
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

  /** The listener of node `index` in this thread, if it listens. */
  listenerOf(index: number): SimListener | undefined {
    return this.#listeners.get(index)
  }

  /** @internal */
  listen(index: number, l: SimListener): boolean {
    if (this.#listeners.has(index)) return false
    this.#listeners.set(index, l)
    return true
  }

  /** @internal */
  unlisten(index: number, l: SimListener): void {
    if (this.#listeners.get(index) === l) this.#listeners.delete(index)
  }

  #cut(c: ShapedConnection): void {
    if (c.cut()) this.stats.connectionsCut++
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

  /** Tracks a connection end of node `local` (both ends, when both nodes run in this thread). */
  track(c: ShapedConnection): void {
    const set = this.#open.get(c.local) ?? new Set<ShapedConnection>()
    set.add(c)
    this.#open.set(c.local, set)
  }

  untrack(c: ShapedConnection): void {
    const set = this.#open.get(c.local)
    set?.delete(c)
    if (set?.size === 0) this.#open.delete(c.local)
  }
}

/** A node's listener: registered on the fabric under its index; inbound ends go to libp2p's upgrader. */
export class SimListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  readonly #fabric: Fabric
  readonly #index: number
  readonly #options: CreateListenerOptions
  readonly #shutdown = new AbortController()
  #addr: Multiaddr | undefined

  constructor(fabric: Fabric, index: number, options: CreateListenerOptions) {
    super()
    this.#fabric = fabric
    this.#index = index
    this.#options = options
  }

  async listen(ma: Multiaddr): Promise<void> {
    if (this.#fabric.indexOfAddress(ma) !== this.#index)
      throw new ListenError(`node ${this.#index} cannot listen on ${ma}`)
    if (!this.#fabric.listen(this.#index, this)) throw new ListenError(`${ma} is already in use`)
    this.#addr = multiaddr(this.#fabric.address(this.#index))
    queueMicrotask(() => this.safeDispatchEvent('listening'))
  }

  /** An inbound end for this node: upgraded by libp2p (aborted if the upgrade fails). */
  accept(end: ShapedConnection): void {
    this.#options.upgrader.upgradeInbound(end, { signal: this.#shutdown.signal }).catch((err: Error) => end.abort(err))
  }

  getAddrs(): Multiaddr[] {
    return this.#addr === undefined ? [] : [this.#addr]
  }

  updateAnnounceAddrs(): void {}

  async close(): Promise<void> {
    this.#fabric.unlisten(this.#index, this)
    this.#shutdown.abort()
    queueMicrotask(() => this.safeDispatchEvent('close'))
  }
}

/** Components the transport needs (as @libp2p/memory's). */
export interface SimTransportComponents {
  peerId: PeerId
  logger: ComponentLogger
}

const isMemory = (ma: Multiaddr): boolean => {
  const c = ma.getComponents()
  return c[0]?.name === 'memory' && c.slice(1).every((x) => x.name === 'p2p')
}

/** The address an inbound end shows for the dialer: its own address marked as an outgoing one (not dialable). */
export function outgoingAddr(fabric: Fabric, from: number, dialer: PeerId): Multiaddr {
  return multiaddr(`${fabric.address(from)}-outgoing/p2p/${dialer}`)
}

/** The transport of simulated node `index` on `fabric`. */
export function simTransport(fabric: Fabric, index: number): (components: SimTransportComponents) => Transport {
  return (components) => {
    fabric.register(components.peerId, index)
    const log = components.logger
    return {
      [transportSymbol]: true,
      [Symbol.toStringTag]: '@parley/sim-transport',
      [serviceCapabilities]: ['@libp2p/transport'],
      async dial(ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
        options.signal.throwIfAborted()
        const remote = fabric.indexOfAddress(ma) ?? -1
        if (!fabric.reachable(index, remote)) {
          fabric.stats.dialsRefused++
          throw new ConnectionFailedError(`node ${remote} is unreachable from node ${index} in the simulated network`)
        }
        // The handshake's first flight pays the link's latency (the rest is paid chunk by chunk).
        await new Promise((r) => setTimeout(r, fabric.links.latency(index, remote)))
        options.signal.throwIfAborted()
        const near = new ShapedConnection(fabric, index, remote, {
          remoteAddr: ma.getComponents().some((c) => c.name === 'p2p') ? ma : multiaddr(fabric.address(remote)),
          direction: 'outbound',
          log
        })
        try {
          if (fabric.cross !== undefined && !fabric.cross.isLocal(remote)) {
            await fabric.cross.open(near, index, remote, components.peerId, options.signal)
          } else {
            const listener = fabric.listenerOf(remote)
            if (listener === undefined || !fabric.reachable(index, remote)) {
              throw new ConnectionFailedError(`nobody listens at ${fabric.address(remote)}`)
            }
            const far = new ShapedConnection(fabric, remote, index, {
              remoteAddr: outgoingAddr(fabric, index, components.peerId),
              direction: 'inbound',
              log
            })
            pair(near, far)
            listener.accept(far)
          }
          return await options.upgrader.upgradeOutbound(near, options)
        } catch (err) {
          near.abort(err as Error)
          throw err
        }
      },
      createListener(options: CreateListenerOptions): Listener {
        return new SimListener(fabric, index, options)
      },
      listenFilter: (addrs: Multiaddr[]) => addrs.filter(isMemory),
      dialFilter: (addrs: Multiaddr[]) => addrs.filter(isMemory)
    }
  }
}
