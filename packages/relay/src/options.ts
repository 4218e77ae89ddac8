/**
 * What an operator may set on createRelay(), and the check of every option before anything is opened or started:
 * integers within their bounds, ICE server URLs and the TURN secret, the relayed-data limit and the HTTP port.
 * Each default is a named constant (constants.ts); they are applied where each part is assembled.
 */
import type { CryptoBackend } from '@parley/crypto'
import type { RoutingLimits } from '@parley/network'
import type { Datastore } from 'interface-datastore'
import type { Libp2pOptions } from 'libp2p'
import { InvalidRelayOptionError } from './errors.ts'
import { checkIceOptions } from './ice.ts'
import type { LogLevel } from './log.ts'
import type { MailboxLimits } from './mailbox-types.ts'

/** Options of createRelay(). Everything but `dataDir` has a named default (constants.ts). */
export interface RelayOptions {
  /** Directory for the key file, the mailbox store and the DHT store (created, mode 0700, if missing). */
  dataDir: string
  /** libp2p listen addresses (default TCP and WebSockets on 127.0.0.1, ephemeral ports). */
  listen?: string[]
  /** Addresses to announce instead of the listen addresses (a public IP or DNS name in front of a NAT or proxy). */
  announce?: string[]
  /** Per-range caps on the DHT routing table (@parley/network DEFAULT_ROUTING_LIMITS); the simulator lifts them. */
  dhtRoutingLimits?: Partial<RoutingLimits>
  /** Extra libp2p transports (the simulator's in-memory network); listen on them through `listen`. */
  transports?: NonNullable<Libp2pOptions['transports']>
  /** Multiaddrs (with /p2p/) of other DHT nodes to join; none by default. */
  bootstrap?: string[]
  /** Circuit reservations held at once (libp2p's default is 15). */
  maxReservations?: number
  /** How long a reservation lasts before the client must renew it (ms). */
  reservationTtlMs?: number
  /** Bytes one relayed connection may carry, both directions together. */
  relayDataLimit?: bigint | number
  /** How long one relayed connection may stay open (ms). */
  relayDurationLimitMs?: number
  /** Open connections in all. */
  maxConnections?: number
  /** New inbound connections per second from one IP address. */
  inboundConnectionThreshold?: number
  /** Inbound connections in their upgrade (handshake) at once. */
  maxIncomingPendingConnections?: number
  /** Inbound connections from one IPv4 /24 or IPv6 /64 at once (DEFAULT_RELAY_MAX_INBOUND_CONNECTIONS_PER_RANGE). */
  maxInboundConnectionsPerRange?: number
  /** Circuit reservations held by one IPv4 /24 or IPv6 /64 at once (DEFAULT_MAX_RESERVATIONS_PER_RANGE). */
  maxReservationsPerRange?: number
  /** DHT records this relay keeps (@parley/network DEFAULT_MAX_DHT_RECORDS); past it the oldest are evicted. */
  dhtMaxRecords?: number
  /** Bytes of DHT records this relay keeps (@parley/network DEFAULT_MAX_DHT_RECORD_BYTES). */
  dhtMaxRecordBytes?: number
  /** The mailbox service's limits (defaults: DEFAULT_MAILBOX_LIMITS). */
  mailboxLimits?: Partial<MailboxLimits>
  /** Mailbox datastore to use instead of `<dataDir>/mailbox` (tests pass a PowerCutDatastore). Not closed by stop(). */
  datastore?: Datastore
  /** Protocol prefix (default /parley). */
  protocolPrefix?: string
  /** Which peer addresses the DHT keeps: `private` (default, as the messenger) or `public` (internet relays). */
  dhtAddressScope?: 'private' | 'public'
  /** Serve `/parley/bench-echo/1.0.0` (the benchmark's baseline). Off by default. */
  echo?: boolean
  /** HTTP host and port (default 127.0.0.1:8080; port 0 picks a free one), or false for no HTTP server. */
  http?: { host?: string; port?: number } | false
  /** A directory of static files (the web app's build) served on every other GET path. */
  webDir?: string
  /**
   * STUN/TURN servers the operator runs (`stun:host:3478`, `turn:host:3478?transport=udp`, `turns:host:5349`),
   * advertised in GET /parley.json. None by default: clients then use no ICE server (never a public one).
   */
  iceServers?: string[]
  /** coturn's `static-auth-secret`: TURN URLs are advertised with fresh time-limited credentials made from it. */
  turnSecret?: string
  /** After stop() is called, /healthz answers 503 this long before the relay stops (for load balancers). */
  shutdownDrainMs?: number
  /** Log level (default info) and sink (default stderr, one JSON object per line). */
  logLevel?: LogLevel
  logSink?: (line: string) => void
  backend?: CryptoBackend
}

function checkInt(option: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min))
    throw new InvalidRelayOptionError(option, `an integer >= ${min}`)
}

/** Throws InvalidRelayOptionError naming the first option that is out of bounds. */
export function validate(o: RelayOptions): void {
  if (typeof o.dataDir !== 'string' || o.dataDir === '') throw new InvalidRelayOptionError('dataDir', 'a directory')
  checkInt('maxReservations', o.maxReservations, 1)
  checkInt('reservationTtlMs', o.reservationTtlMs, 1000)
  checkInt('relayDurationLimitMs', o.relayDurationLimitMs, 1000)
  checkInt('maxConnections', o.maxConnections, 1)
  checkInt('inboundConnectionThreshold', o.inboundConnectionThreshold, 1)
  checkInt('maxIncomingPendingConnections', o.maxIncomingPendingConnections, 1)
  checkInt('maxInboundConnectionsPerRange', o.maxInboundConnectionsPerRange, 1)
  checkInt('maxReservationsPerRange', o.maxReservationsPerRange, 1)
  checkInt('dhtMaxRecords', o.dhtMaxRecords, 1)
  checkInt('dhtMaxRecordBytes', o.dhtMaxRecordBytes, 1)
  checkInt('shutdownDrainMs', o.shutdownDrainMs, 0)
  checkIceOptions(o.iceServers, o.turnSecret)
  if (o.relayDataLimit !== undefined) {
    const ok = typeof o.relayDataLimit === 'bigint' ? o.relayDataLimit > 0n : Number.isSafeInteger(o.relayDataLimit)
    if (!ok || BigInt(o.relayDataLimit) < 1n) throw new InvalidRelayOptionError('relayDataLimit', 'a byte count >= 1')
  }
  if (o.http !== false && o.http?.port !== undefined) {
    if (!Number.isSafeInteger(o.http.port) || o.http.port < 0 || o.http.port > 65535)
      throw new InvalidRelayOptionError('http.port', 'a port number 0-65535')
  }
}
