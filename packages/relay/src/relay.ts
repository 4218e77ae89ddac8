/**
 * createRelay(): the libp2p node a Parley operator runs. TCP and WebSockets, Noise, Yamux, identify(-push), ping,
 * autoNAT (answering others), a circuit relay v2 server with operator-set limits, kad-dht in server mode under the
 * Parley protocol with Parley's record rules, the mailbox service, and an HTTP side for /metrics, /healthz and the
 * web app's static files. State lives under one data directory: the key file (a stable PeerId), the mailbox
 * LevelDB (synced writes) and the DHT's record LevelDB (bounded; kept across restarts). Per-address-range caps on
 * connections and reservations come from @parley/network's connection policy.
 */
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { autoNAT } from '@libp2p/autonat'
import { bootstrap } from '@libp2p/bootstrap'
import { type CircuitRelayService, circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { type Identify, type IdentifyPush, identify, identifyPush } from '@libp2p/identify'
import type { PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { type Ping, ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { webRTCDirect } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import type { Multiaddr } from '@multiformats/multiaddr'
import { type CryptoBackend, defaultBackend } from '@parley/crypto'
import { ConnectionPolicy, MonotonicRecordDatastore, parleyDht, type RoutingLimits } from '@parley/network'
import { openStore, type StoreBackend, StoreLockedError } from '@parley/store'
import { MemoryDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import type { Datastore } from 'interface-datastore'
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { Counter, Gauge, Registry } from 'prom-client'
import {
  DEFAULT_HTTP_HOST,
  DEFAULT_HTTP_PORT,
  DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_LISTEN,
  DEFAULT_MAX_RESERVATIONS,
  DEFAULT_MAX_RESERVATIONS_PER_RANGE,
  DEFAULT_PROTOCOL_PREFIX,
  DEFAULT_RELAY_DATA_LIMIT,
  DEFAULT_RELAY_DURATION_LIMIT_MS,
  DEFAULT_RELAY_MAX_CONNECTIONS,
  DEFAULT_RELAY_MAX_INBOUND_CONNECTIONS_PER_RANGE,
  DEFAULT_RELAY_MAX_INCOMING_PENDING_CONNECTIONS,
  DEFAULT_RESERVATION_TTL_MS,
  DHT_DIR,
  ECHO_PROTOCOL,
  MAILBOX_DIR,
  PRIVATE_KEY_FILE
} from './constants.ts'
import { serveEcho } from './echo.ts'
import { DataDirLockedError, InvalidRelayOptionError } from './errors.ts'
import { type RelayHttp, startRelayHttp } from './http.ts'
import { advertisedIceServers, checkIceOptions } from './ice.ts'
import { loadOrCreatePrivateKey } from './identity.ts'
import { createJsonLogger, type LogLevel, type RelayLogger } from './log.ts'
import { type MailboxServer, openMailboxServer } from './mailbox-server.ts'
import type { MailboxLimits } from './mailbox-types.ts'
import { formatRelayMetrics } from './metrics.ts'

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

/** The libp2p services of a relay node. */
export type RelayServices = {
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  autoNAT: unknown
  dht: KadDHT
  circuitRelay: CircuitRelayService
}

/** A running relay. */
export interface Relay {
  readonly peerId: PeerId
  /** The addresses others dial, each ending in /p2p/<peerId>. */
  readonly multiaddrs: Multiaddr[]
  /** Base URL of the HTTP server (undefined with `http: false`). */
  readonly httpUrl: string | undefined
  readonly node: Libp2p<RelayServices>
  readonly mailbox: MailboxServer
  readonly log: RelayLogger
  /** Everything GET /metrics serves: libp2p's registry and the parley_* metrics. */
  metrics(): Promise<string>
  /** Drains and stops: healthz 503, HTTP closed, mailbox drained, libp2p stopped, stores flushed and closed. */
  stop(): Promise<void>
}

/** Whether a browser can dial `a`: WebSockets (ws or wss, not through a circuit). */
function isWebSocketAddress(a: Multiaddr): boolean {
  const names = a.getComponents().map((c) => c.name)
  return (names.includes('ws') || names.includes('wss')) && !names.includes('p2p-circuit')
}

function checkInt(option: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min))
    throw new InvalidRelayOptionError(option, `an integer >= ${min}`)
}

function validate(o: RelayOptions): void {
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

/** Opens the mailbox LevelDB, telling "another relay holds this directory" apart from other failures. */
async function openMailboxStore(path: string): Promise<StoreBackend> {
  try {
    return await openStore({ kind: 'level', path })
  } catch (err) {
    if (err instanceof StoreLockedError) throw new DataDirLockedError(path)
    throw err
  }
}

/** Opens the DHT record LevelDB (the mailbox store's lock already keeps a second relay out of the data directory). */
async function openDhtRecordStore(path: string): Promise<LevelDatastore> {
  const store = new LevelDatastore(path)
  await store.open()
  return store
}

/** The DHT record store's and the connection policy's figures, as prom-client metrics read at scrape time. */
function registerPolicyMetrics(registry: Registry, records: MonotonicRecordDatastore, policy: ConnectionPolicy): void {
  const registers = [registry]
  new Gauge({
    name: 'parley_dht_records',
    help: 'DHT records this relay holds.',
    registers,
    collect() {
      this.set(records.stats().records)
    }
  })
  new Gauge({
    name: 'parley_dht_record_bytes',
    help: 'Bytes of DHT records this relay holds.',
    registers,
    collect() {
      this.set(records.stats().bytes)
    }
  })
  // prom-client counters take increments: each scrape adds what happened since the last one.
  const counter = (name: string, help: string, read: () => number) => {
    let seen = 0
    new Counter({
      name,
      help,
      registers,
      collect() {
        const now = read()
        if (now > seen) this.inc(now - seen)
        seen = now
      }
    })
  }
  counter(
    'parley_dht_records_evicted_total',
    'DHT records evicted to stay within the record store bound.',
    () => records.stats().evicted
  )
  counter(
    'parley_dht_records_refused_total',
    'DHT record puts refused because only records that may not be evicted were left.',
    () => records.stats().refused
  )
  counter(
    'parley_relay_range_connections_refused_total',
    'Inbound connections refused because their address range held its share.',
    () => policy.refused.connections
  )
  counter(
    'parley_relay_range_reservations_refused_total',
    'Circuit reservations refused because their address range held its share.',
    () => policy.refused.reservations
  )
}

/** Creates and starts a relay; every opened resource is released again if any step fails. */
export async function createRelay(options: RelayOptions): Promise<Relay> {
  validate(options)
  const log = createJsonLogger({
    ...(options.logLevel !== undefined && { level: options.logLevel }),
    ...(options.logSink !== undefined && { sink: options.logSink })
  })
  const dataDir = resolve(options.dataDir)
  const protocolPrefix = options.protocolPrefix ?? DEFAULT_PROTOCOL_PREFIX
  const maxReservations = options.maxReservations ?? DEFAULT_MAX_RESERVATIONS
  const cleanup: Array<() => unknown> = []
  const unwind = async () => {
    for (const step of cleanup.splice(0).reverse()) {
      await Promise.resolve()
        .then(step)
        .catch((err: unknown) => log.error('relay.release.failed', { error: (err as Error)?.name ?? 'unknown' }))
    }
  }

  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    const identity = await loadOrCreatePrivateKey(join(dataDir, PRIVATE_KEY_FILE))
    if (identity.exposed)
      log.warn('relay.key.exposed', { file: join(dataDir, PRIVATE_KEY_FILE), fix: 'chmod 600 (or 400) the key file' })
    let datastore = options.datastore
    if (datastore === undefined) {
      const opened = await openMailboxStore(join(dataDir, MAILBOX_DIR))
      cleanup.push(() => opened.close())
      datastore = opened
    }

    // kad-dht's records go to their own LevelDB, bounded: a restart must not forget every record this relay served
    // (lookups through it would fail until each owner's next republish, up to 10 minutes later). Records are public
    // (signed, served to anyone who asks); the peer store (every client's peer id and IP address) stays in memory.
    const dhtRecords = await openDhtRecordStore(join(dataDir, DHT_DIR))
    cleanup.push(() => dhtRecords.close())
    const records = await new MonotonicRecordDatastore(new MemoryDatastore(), {
      records: dhtRecords,
      ...(options.dhtMaxRecords !== undefined && { maxRecords: options.dhtMaxRecords }),
      ...(options.dhtMaxRecordBytes !== undefined && { maxBytes: options.dhtMaxRecordBytes })
    }).load()
    const policy = new ConnectionPolicy({
      maxInboundConnectionsPerRange:
        options.maxInboundConnectionsPerRange ?? DEFAULT_RELAY_MAX_INBOUND_CONNECTIONS_PER_RANGE,
      maxReservationsPerRange: options.maxReservationsPerRange ?? DEFAULT_MAX_RESERVATIONS_PER_RANGE
    })

    // One registry per relay: prometheus-metrics would otherwise share prom-client's global one.
    const registry = new Registry()
    registerPolicyMetrics(registry, records, policy)
    const node = await createLibp2p<RelayServices>({
      privateKey: identity.key,
      datastore: records,
      start: false,
      addresses: {
        listen: options.listen ?? DEFAULT_LISTEN,
        ...(options.announce && options.announce.length > 0 && { announce: options.announce })
      },
      // WebRTC-direct lets browsers reach a relay with no TLS certificate (the relay's certhash is in its address).
      // Only when the operator listens on it: the transport loads a native WebRTC stack.
      transports: [
        tcp(),
        webSockets(),
        ...(options.transports ?? []),
        ...((options.listen ?? DEFAULT_LISTEN).some((a) => a.includes('/webrtc-direct'))
          ? [webRTCDirect({ rtcConfiguration: { iceServers: [] } })]
          : [])
      ],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: {
        maxConnections: options.maxConnections ?? DEFAULT_RELAY_MAX_CONNECTIONS,
        inboundConnectionThreshold: options.inboundConnectionThreshold ?? DEFAULT_INBOUND_CONNECTION_THRESHOLD,
        maxIncomingPendingConnections:
          options.maxIncomingPendingConnections ?? DEFAULT_RELAY_MAX_INCOMING_PENDING_CONNECTIONS
      },
      // Per-address-range caps on inbound connections and circuit reservations (@parley/network connection policy).
      connectionGater: policy.gater,
      metrics: prometheusMetrics({ registry, statfsLocation: dataDir }),
      peerDiscovery: options.bootstrap && options.bootstrap.length > 0 ? [bootstrap({ list: options.bootstrap })] : [],
      services: {
        identify: identify(),
        // Browsers behind this relay change their circuit addresses; their pushes keep the DHT's view current.
        identifyPush: identifyPush(),
        ping: ping(),
        autoNAT: autoNAT(),
        dht: parleyDht(
          options.backend ?? defaultBackend,
          {
            protocolPrefix,
            addressScope: options.dhtAddressScope ?? 'private',
            clientMode: false,
            ...(options.dhtRoutingLimits !== undefined && { routingLimits: options.dhtRoutingLimits })
          },
          { clientMode: false }
        ),
        circuitRelay: circuitRelayServer({
          reservations: {
            maxReservations,
            reservationTtl: options.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS,
            // circuit-relay-v2 4.x enforces the duration in milliseconds (AbortSignal.timeout).
            defaultDurationLimit: options.relayDurationLimitMs ?? DEFAULT_RELAY_DURATION_LIMIT_MS,
            defaultDataLimit: BigInt(options.relayDataLimit ?? DEFAULT_RELAY_DATA_LIMIT)
          }
        })
      }
    })
    policy.attach(node, node.services.circuitRelay)
    await node.start()
    cleanup.push(() => node.stop())
    node.services.circuitRelay.addEventListener('relay:reservation', () => {
      log.debug('relay.reservation', { reservations: node.services.circuitRelay.reservations.size })
    })

    const mailbox = await openMailboxServer({
      datastore,
      protocolPrefix,
      log: log.mailbox,
      ...(options.mailboxLimits !== undefined && { limits: options.mailboxLimits }),
      ...(options.backend !== undefined && { backend: options.backend })
    })
    await mailbox.attach(node)
    cleanup.push(() => mailbox.close())

    const shutdown = new AbortController()
    if (options.echo === true) {
      await node.handle(ECHO_PROTOCOL, (stream) => serveEcho(stream, shutdown.signal))
      cleanup.push(() => shutdown.abort())
    }

    const metrics = async (): Promise<string> => {
      const own = formatRelayMetrics({
        reservations: node.services.circuitRelay.reservations.size,
        maxReservations,
        connections: node.getConnections().length,
        mailbox: mailbox.stats()
      })
      return `${await registry.metrics()}\n${own}`
    }

    let http: RelayHttp | undefined
    if (options.http !== false) {
      http = await startRelayHttp(
        {
          host: options.http?.host ?? DEFAULT_HTTP_HOST,
          port: options.http?.port ?? DEFAULT_HTTP_PORT,
          webDir: options.webDir,
          log
        },
        {
          health: () => ({ peerId: node.peerId.toString(), connections: node.getConnections().length }),
          parleyJson: () => ({
            relays: node
              .getMultiaddrs()
              .filter((a) => isWebSocketAddress(a))
              .map((a) => a.toString()),
            iceServers: advertisedIceServers(options.iceServers ?? [], options.turnSecret, Date.now())
          }),
          metrics: async () => ({ contentType: registry.contentType, body: await metrics() })
        }
      )
    }

    const peerId = node.peerId
    log.info('relay.started', {
      peerId: peerId.toString(),
      newIdentity: identity.created,
      addresses: node.getMultiaddrs().join(' '),
      ...(http && { http: http.url }),
      maxReservations
    })

    let stopping: Promise<void> | undefined
    const stop = async (): Promise<void> => {
      log.info('relay.stopping', { connections: node.getConnections().length })
      http?.setShuttingDown()
      if (options.shutdownDrainMs) await new Promise((r) => setTimeout(r, options.shutdownDrainMs))
      await http?.close()
      // mailbox.close() drains in-flight requests (their synced writes) before libp2p and the stores go away.
      await unwind()
      log.info('relay.stopped')
    }

    return {
      peerId,
      get multiaddrs() {
        return node.getMultiaddrs()
      },
      httpUrl: http?.url,
      node,
      mailbox,
      log,
      metrics,
      stop: () => {
        stopping ??= stop()
        return stopping
      }
    }
  } catch (err) {
    await unwind()
    throw err
  }
}
