/**
 * What the Node and browser presets share: the network options, the factory type and the kad-dht service. One
 * definition, so a browser and a Node node always speak the same DHT protocol and accept exactly the same records.
 * Imports nothing Node-only: the browser preset loads this module.
 */
import type { PeerId, PeerInfo, PrivateKey } from '@libp2p/interface'
import {
  type KadDHT,
  type KadDHTComponents,
  type KadDHTInit,
  kadDHT,
  removePublicAddressesMapper
} from '@libp2p/kad-dht'
import type { CryptoBackend } from '@parley/crypto'
import { DEFAULT_PROTOCOL_PREFIX, DHT_NAMESPACE, dhtRecordSelector, dhtRecordValidator, protocols } from '@parley/wire'
import type { Datastore } from 'interface-datastore'
import type { Libp2p } from 'libp2p'
import type { RangeLimits } from './connection-policy.ts'
import { type GuardedRoutingTable, type RoutingLimits, RoutingPolicy } from './routing-policy.ts'
import type { IceServer } from './webrtc.ts'

/** kad-dht's timer and timeout settings a test or the simulator may set (never its protocol or record rules). */
export type DhtTimers = Pick<
  KadDHTInit,
  | 'querySelfInterval'
  | 'initialQuerySelfInterval'
  | 'onPeerConnectTimeout'
  | 'incomingMessageTimeout'
  | 'networkDialTimeout'
>

/** Options of the libp2p node a messenger runs. */
export interface NetworkOptions {
  /**
   * Where libp2p (and kad-dht's record store) keeps its data. Default: an in-memory MonotonicRecordDatastore, which
   * refuses rolled-back Parley records. Tests may pass another to play a misbehaving node.
   */
  datastore?: Datastore
  /** kad-dht timers (tests, the simulator). */
  dhtTimers?: DhtTimers
  /**
   * Addresses to listen on; none makes a node that only dials out. Default: TCP and WebSockets on 127.0.0.1 and
   * `/webrtc` (Node), `/p2p-circuit` and `/webrtc` (browsers, which cannot listen on sockets). A Node peer behind NAT
   * adds `/p2p-circuit` to be reachable (and upgraded to WebRTC) through a relay reservation.
   */
  listen?: string[]
  /**
   * Node preset, default listen list only: also listen on `/p2p-circuit`, i.e. hold a reservation on a relay this node
   * is connected to, so peers that cannot dial it (browsers, nodes behind NAT) reach it through the relay and upgrade
   * to direct WebRTC. Ignored when `listen` is given. Browsers always do this.
   */
  circuit?: boolean
  /**
   * STUN/TURN servers for WebRTC. Default none: no third-party STUN is ever asked; hosts on one network connect
   * without any, and relays advertise the servers their operators run (GET /parley.json).
   */
  iceServers?: IceServer[]
  /**
   * Direct WebRTC connections (default true). False leaves the transport out: contacts never learn this node's IP
   * address from a direct connection, and chat stays on relays' circuits (limited in bytes and time by the relay).
   */
  webrtc?: boolean
  /**
   * Who may open WebRTC with this node (and so learn its IP addresses from the ICE candidates). Default: anyone; the
   * messenger admits only its contacts' devices.
   */
  webrtcGate?: (peer: PeerId) => boolean | Promise<boolean>
  /** Multiaddrs (with /p2p/) of the bootstrap peers. No public bootstrap list is ever used by default. */
  bootstrap?: string[]
  /** DHT client mode: the node queries but does not serve the DHT (for nodes others cannot dial; browsers default to it). */
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
  /** Find peers on the local network with mDNS (opt-in: it announces the node to the whole LAN). Node only. */
  mdns?: boolean
  /** Injected clock for record validation (tests, the simulator). */
  now?: () => number
  /**
   * Per-address-range caps on inbound connections (default DEFAULT_RANGE_LIMITS). Many test nodes on one loopback
   * /24 need them raised; never lower the defaults' protection on a real network.
   */
  rangeLimits?: Partial<RangeLimits>
  /** Per-address-range caps on the DHT routing table (default DEFAULT_ROUTING_LIMITS); see rangeLimits. */
  routingLimits?: Partial<RoutingLimits>
  /** Open connections in all (default DEFAULT_MAX_CONNECTIONS). Node only. */
  maxConnections?: number
  /**
   * Source address of outgoing TCP connections (a multi-homed host choosing its interface; tests on loopback use it to
   * play hosts in different /24s). Default: the operating system's choice. Node only.
   */
  dialFrom?: string
}

export type ParleyServices = { dht: KadDHT; identify: unknown; ping: unknown }

/**
 * Builds a throwaway libp2p node (fresh key, no listening, no services) that deposits at mailbox relays and takes
 * prekeys there, so relays never see the sender's own peer id. `dialable` lists the relay addresses it will dial
 * (a browser preset lets exactly those through its dial gate).
 */
export type CourierFactory = (privateKey: PrivateKey, dialable: readonly string[]) => Promise<Libp2p>

/** Builds a messenger's libp2p node (the Node preset from the Node entry, the browser preset from the browser one). */
export type Libp2pFactory = (
  privateKey: PrivateKey,
  backend: CryptoBackend,
  options: NetworkOptions
) => Promise<Libp2p<ParleyServices>>

/**
 * The kad-dht service of every Parley node: our own protocol id (never the public IPFS DHT) and Parley's record
 * validator and selector (every node rejects forged, uncertified, expired or rolled-back records).
 */
export function parleyDht(
  backend: CryptoBackend,
  options: NetworkOptions,
  defaults: { clientMode: boolean }
): (components: KadDHTComponents) => KadDHT {
  const ids = protocols(options.protocolPrefix ?? DEFAULT_PROTOCOL_PREFIX)
  const keepPrivate = (options.addressScope ?? 'private') === 'private'
  const factory = kadDHT({
    protocol: ids.kad,
    clientMode: options.clientMode ?? defaults.clientMode,
    ...(options.kBucketSize !== undefined && { kBucketSize: options.kBucketSize }),
    ...(keepPrivate && { peerInfoMapper: (p: PeerInfo) => removePublicAddressesMapper(p) }),
    validators: { [DHT_NAMESPACE]: dhtRecordValidator(backend, options.now ? { now: options.now } : {}) },
    selectors: { [DHT_NAMESPACE]: dhtRecordSelector },
    // Timers (query-self interval, timeouts…) for tests and the simulator; protocol, validators and selectors stay ours.
    ...options.dhtTimers
  })
  return (components) => {
    const dht = factory(components)
    // Address diversity in the routing table: one /24 may not fill our buckets (see routing-policy.ts).
    new RoutingPolicy(components, options.routingLimits).guard(
      (dht as KadDHT & { routingTable: GuardedRoutingTable }).routingTable
    )
    return dht
  }
}
