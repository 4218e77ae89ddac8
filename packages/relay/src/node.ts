/**
 * Assembles the relay's libp2p node (not started): TCP and WebSockets (and WebRTC-direct when listened on), Noise,
 * Yamux, identify(-push), ping, autoNAT (answering others), kad-dht in server mode under the Parley protocol with
 * Parley's record rules, and a circuit relay v2 server, with the operator's circuit and connection limits and the
 * per-range connection gater. Defaults are named constants (constants.ts).
 */
import { autoNAT } from '@libp2p/autonat'
import { bootstrap } from '@libp2p/bootstrap'
import { type CircuitRelayService, circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { type Identify, type IdentifyPush, identify, identifyPush } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { type Ping, ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { webRTCDirect } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { defaultBackend } from '@parley/crypto'
import { type ConnectionPolicy, parleyDht } from '@parley/network'
import type { Datastore } from 'interface-datastore'
import { createLibp2p, type Libp2p } from 'libp2p'
import type { Registry } from 'prom-client'
import {
  DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_LISTEN,
  DEFAULT_RELAY_DATA_LIMIT,
  DEFAULT_RELAY_DURATION_LIMIT_MS,
  DEFAULT_RELAY_MAX_CONNECTIONS,
  DEFAULT_RELAY_MAX_INCOMING_PENDING_CONNECTIONS,
  DEFAULT_RESERVATION_TTL_MS
} from './constants.ts'
import type { RelayOptions } from './options.ts'

/** The libp2p services of a relay node. */
export type RelayServices = {
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  autoNAT: unknown
  dht: KadDHT
  circuitRelay: CircuitRelayService
}

/** What createRelay() has ready before the node is made. */
export interface RelayNodeParts {
  readonly privateKey: PrivateKey
  /** The node's datastore (DHT records bounded and on disk: limits.ts). */
  readonly datastore: Datastore
  readonly policy: ConnectionPolicy
  /** The relay's own prom-client registry (libp2p's metrics go there too). */
  readonly registry: Registry
  /** The resolved data directory (libp2p's metrics report its free disk space). */
  readonly dataDir: string
  readonly protocolPrefix: string
  readonly maxReservations: number
}

/** Creates the relay's libp2p node, not yet started. */
export function createRelayNode(options: RelayOptions, parts: RelayNodeParts): Promise<Libp2p<RelayServices>> {
  return createLibp2p<RelayServices>({
    privateKey: parts.privateKey,
    datastore: parts.datastore,
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
    connectionGater: parts.policy.gater,
    metrics: prometheusMetrics({ registry: parts.registry, statfsLocation: parts.dataDir }),
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
          protocolPrefix: parts.protocolPrefix,
          addressScope: options.dhtAddressScope ?? 'private',
          clientMode: false,
          ...(options.dhtRoutingLimits !== undefined && { routingLimits: options.dhtRoutingLimits })
        },
        { clientMode: false }
      ),
      circuitRelay: circuitRelayServer({
        reservations: {
          maxReservations: parts.maxReservations,
          reservationTtl: options.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS,
          // circuit-relay-v2 4.x enforces the duration in milliseconds (AbortSignal.timeout).
          defaultDurationLimit: options.relayDurationLimitMs ?? DEFAULT_RELAY_DURATION_LIMIT_MS,
          defaultDataLimit: BigInt(options.relayDataLimit ?? DEFAULT_RELAY_DATA_LIMIT)
        }
      })
    }
  })
}
