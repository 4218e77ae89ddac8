/**
 * The Node preset of Parley's libp2p node: TCP and WebSockets, Noise, Yamux, identify, ping, and kad-dht under our
 * own protocol id with Parley's record validator and selector (so no node ever joins the public IPFS DHT and every
 * DHT node rejects forged, uncertified, expired or rolled-back records).
 */
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { PeerInfo, PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT, removePublicAddressesMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import type { CryptoBackend } from '@parley/crypto'
import { DHT_NAMESPACE, dhtRecordSelector, dhtRecordValidator, protocols } from '@parley/wire'
import { createLibp2p, type Libp2p } from 'libp2p'
import {
  DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS,
  DEFAULT_PROTOCOL_PREFIX
} from './constants.ts'

/** Options of the libp2p node a messenger runs. */
export interface NetworkOptions {
  /** Addresses to listen on; none makes a node that only dials out. Default: TCP and WebSockets on 127.0.0.1. */
  listen?: string[]
  /** Multiaddrs (with /p2p/) of the bootstrap peers. No public bootstrap list is ever used by default. */
  bootstrap?: string[]
  /** DHT client mode: the node queries but does not serve the DHT (for nodes others cannot dial). */
  clientMode?: boolean
  /** Protocol prefix (default /parley); the simulator uses its own so networks never mix. */
  protocolPrefix?: string
  /** Kademlia k (bucket size); small values make tests where no node knows everyone. */
  kBucketSize?: number
  /**
   * Which addresses of peers the DHT keeps: `private` keeps loopback/LAN addresses (tests, LANs), `public` (default
   * libp2p behaviour) keeps only public ones.
   */
  addressScope?: 'private' | 'public'
  /** Find peers on the local network with mDNS (opt-in: it announces the node to the whole LAN). */
  mdns?: boolean
  /** Injected clock for record validation (tests, the simulator). */
  now?: () => number
}

export type ParleyServices = { dht: KadDHT; identify: unknown; ping: unknown }

/** Builds a messenger's libp2p node (the Node preset here; the browser entry has its own). */
export type Libp2pFactory = (
  privateKey: PrivateKey,
  backend: CryptoBackend,
  options: NetworkOptions
) => Promise<Libp2p<ParleyServices>>

/** Creates (does not start) the libp2p node of a Node.js messenger. */
export async function createNodeLibp2p(
  privateKey: PrivateKey,
  backend: CryptoBackend,
  options: NetworkOptions
): Promise<Libp2p<ParleyServices>> {
  const ids = protocols(options.protocolPrefix ?? DEFAULT_PROTOCOL_PREFIX)
  const keepPrivate = (options.addressScope ?? 'private') === 'private'
  return createLibp2p({
    privateKey,
    start: false,
    addresses: { listen: options.listen ?? ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'] },
    transports: [tcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      inboundConnectionThreshold: DEFAULT_INBOUND_CONNECTION_THRESHOLD,
      maxIncomingPendingConnections: DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS
    },
    peerDiscovery: [
      ...(options.bootstrap && options.bootstrap.length > 0 ? [bootstrap({ list: options.bootstrap })] : []),
      // LAN discovery only when asked: it announces this node to everyone on the network segment.
      ...(options.mdns ? [mdns()] : [])
    ],
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: ids.kad,
        clientMode: options.clientMode ?? false,
        ...(options.kBucketSize !== undefined && { kBucketSize: options.kBucketSize }),
        ...(keepPrivate && { peerInfoMapper: (p: PeerInfo) => removePublicAddressesMapper(p) }),
        validators: { [DHT_NAMESPACE]: dhtRecordValidator(backend, options.now ? { now: options.now } : {}) },
        selectors: { [DHT_NAMESPACE]: dhtRecordSelector }
      })
    }
  }) as Promise<Libp2p<ParleyServices>>
}
