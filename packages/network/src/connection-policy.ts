/**
 * Connection policy: caps on what one address range (IPv4 /24, IPv6 /64 — see sourceRange) may hold on a node, as a
 * libp2p connection gater. Identities are free, so every cap counts by source address, never by peer id:
 *
 * - inbound connections from one range (open or in their handshake), checked when libp2p first sees the socket
 *   (`denyInboundConnection`), so a host that already holds its share is refused before any handshake work;
 * - circuit-relay reservations held by one range (`denyInboundRelayReservation`), on relays.
 *
 * libp2p's own limits (a connection ceiling, a per-IP connection rate) stay in place; the per-range caps keep one
 * host from reaching the ceiling, which would lock every honest peer out.
 */
import type { Connection, ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import {
  DEFAULT_MAX_INBOUND_CONNECTIONS_PER_RANGE,
  DEFAULT_MAX_RESERVATIONS_PER_RANGE,
  RESERVATION_ADMIT_WINDOW_MS
} from './constants.ts'
import { InvalidNetworkInputError } from './errors.ts'
import { isIpRange, sourceRange } from './source-range.ts'

/** The per-range caps of a node or relay. */
export interface RangeLimits {
  /** Inbound connections (open or in their handshake) from one /24 or /64 at once. */
  maxInboundConnectionsPerRange: number
  /** Circuit-relay reservations held by one /24 or /64 at once (only relays grant reservations). */
  maxReservationsPerRange: number
}

export const DEFAULT_RANGE_LIMITS: Readonly<RangeLimits> = Object.freeze({
  maxInboundConnectionsPerRange: DEFAULT_MAX_INBOUND_CONNECTIONS_PER_RANGE,
  maxReservationsPerRange: DEFAULT_MAX_RESERVATIONS_PER_RANGE
})

/** What the policy reads from the node once it exists (a relay's reservations, a peer's connections). */
export interface PolicyNode {
  getConnections(peerId?: PeerId): Connection[]
}

/** Where reserved slots are listed (circuit-relay-v2's server keeps each reservation's remote address). */
export interface ReservationTable {
  readonly reservations: { has(peer: PeerId): boolean; values(): Iterable<{ addr: Multiaddr }> }
}

function checkLimit(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidNetworkInputError(name, 'an integer >= 1')
}

/**
 * One node's per-range caps. Pass `policy.gater` as (part of) libp2p's `connectionGater`; a relay calls
 * `attach(node, circuitRelay)` once the node exists so reservations can be counted.
 */
export class ConnectionPolicy {
  readonly limits: Readonly<RangeLimits>
  /** Inbound connections admitted per range and not closed yet; a range leaves the map with its last connection. */
  readonly #inbound = new Map<string, Set<MultiaddrConnection>>()
  /**
   * Reservations admitted by the gate but not in the relay's table yet (the server stores them a moment after asking
   * the gate): without these, a burst of concurrent requests from one range would all see the same old count.
   */
  readonly #admitting = new Map<string, { peer: PeerId; range: string; timer: ReturnType<typeof setTimeout> }>()
  #node: PolicyNode | undefined
  #relay: ReservationTable | undefined
  /** Connections and reservations refused since start, by reason (for a relay's metrics). */
  readonly refused = { connections: 0, reservations: 0 }

  constructor(limits: Partial<RangeLimits> = {}) {
    this.limits = Object.freeze({ ...DEFAULT_RANGE_LIMITS, ...limits })
    checkLimit('maxInboundConnectionsPerRange', this.limits.maxInboundConnectionsPerRange)
    checkLimit('maxReservationsPerRange', this.limits.maxReservationsPerRange)
  }

  /** The gate functions for libp2p's `connectionGater` (`true` denies). */
  readonly gater: Required<Pick<ConnectionGater, 'denyInboundConnection' | 'denyInboundRelayReservation'>> = {
    denyInboundConnection: (maConn) => this.#denyInbound(maConn),
    denyInboundRelayReservation: (peer) => this.#denyReservation(peer)
  }

  /** Gives the policy the node (and, on relays, the circuit-relay server) it guards. */
  attach(node: PolicyNode, relay?: ReservationTable): void {
    this.#node = node
    this.#relay = relay
  }

  /** Inbound connections from `range` (a sourceRange() key) that are open or in their handshake. */
  inboundFrom(range: string): number {
    return this.#live(range)?.size ?? 0
  }

  /** Reservations held by `range` now. */
  reservationsFrom(range: string): number {
    let n = 0
    for (const r of this.#relay?.reservations.values() ?? []) if (sourceRange(r.addr) === range) n++
    for (const [key, a] of this.#admitting) {
      if (a.range !== range) continue
      if (this.#relay?.reservations.has(a.peer)) this.#forget(key)
      else n++
    }
    return n
  }

  #forget(peer: string): void {
    clearTimeout(this.#admitting.get(peer)?.timer)
    this.#admitting.delete(peer)
  }

  #live(range: string): Set<MultiaddrConnection> | undefined {
    const set = this.#inbound.get(range)
    if (set === undefined) return undefined
    // A connection that closed without its close event (should not happen) must not hold a slot forever.
    for (const c of set) if (c.status !== 'open' && c.status !== 'closing') set.delete(c)
    if (set.size === 0) this.#inbound.delete(range)
    return set
  }

  #denyInbound(maConn: MultiaddrConnection): boolean {
    const range = sourceRange(maConn.remoteAddr)
    // Relayed connections are capped by the relay that carries them; memory/other transports have no address.
    if (!isIpRange(range)) return false
    const set = this.#live(range) ?? new Set<MultiaddrConnection>()
    if (set.size >= this.limits.maxInboundConnectionsPerRange) {
      this.refused.connections++
      return true
    }
    set.add(maConn)
    this.#inbound.set(range, set)
    maConn.addEventListener(
      'close',
      () => {
        set.delete(maConn)
        if (set.size === 0 && this.#inbound.get(range) === set) this.#inbound.delete(range)
      },
      { once: true }
    )
    return false
  }

  #denyReservation(peer: PeerId): boolean {
    const relay = this.#relay
    if (relay === undefined) return false
    // A refresh keeps its slot: the cap is on new reservations.
    if (relay.reservations.has(peer)) return false
    const direct = this.#node?.getConnections(peer).find((c) => isIpRange(sourceRange(c.remoteAddr)))
    if (direct === undefined) return false
    const range = sourceRange(direct.remoteAddr)
    if (this.reservationsFrom(range) >= this.limits.maxReservationsPerRange) {
      this.refused.reservations++
      return true
    }
    const key = peer.toString()
    this.#forget(key)
    const timer = setTimeout(() => this.#admitting.delete(key), RESERVATION_ADMIT_WINDOW_MS)
    // Never keep a process alive for this bookkeeping.
    if (typeof timer === 'object' && 'unref' in timer) timer.unref()
    this.#admitting.set(key, { peer, range, timer })
    return false
  }
}
