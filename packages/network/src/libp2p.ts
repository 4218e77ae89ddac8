/**
 * The Node preset of Parley's libp2p node: TCP, WebSockets, circuit relay and WebRTC (upgrading circuits to direct
 * connections; see webrtc.ts), Noise, Yamux, identify(-push), ping, autoNAT, opt-in mDNS, and kad-dht under our
 * own protocol id with Parley's record validator and selector (so no node ever joins the public IPFS DHT and every
 * DHT node rejects forged, uncertified, expired or rolled-back records).
 */

import { autoNAT } from '@libp2p/autonat'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify, identifyPush } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { mdns } from '@libp2p/mdns'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import type { CryptoBackend } from '@parley/crypto'
import { createLibp2p, type Libp2p } from 'libp2p'
import { ConnectionPolicy } from './connection-policy.ts'
import {
  DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS
} from './constants.ts'
import { MonotonicRecordDatastore } from './dht-datastore.ts'
import { type CourierFactory, type NetworkOptions, type ParleyServices, parleyDht } from './dht-options.ts'
import { gossip } from './gossip.ts'
import { parleyWebRTC, WEBRTC_LISTEN } from './webrtc.ts'

/** TCP with outgoing connections bound to `dialFrom` when given (see NetworkOptions.dialFrom). */
export function tcpFrom(dialFrom: string | undefined): ReturnType<typeof tcp> {
  // @libp2p/tcp passes dialOpts through to net.connect; its type lists only the socket flags.
  return dialFrom === undefined
    ? tcp()
    : tcp({ dialOpts: { localAddress: dialFrom } as NonNullable<Parameters<typeof tcp>[0]>['dialOpts'] })
}

/** Creates (does not start) the libp2p node of a Node.js messenger. */
export async function createNodeLibp2p(
  privateKey: PrivateKey,
  backend: CryptoBackend,
  options: NetworkOptions
): Promise<Libp2p<ParleyServices>> {
  const policy = new ConnectionPolicy(options.rangeLimits)
  const node = await createLibp2p({
    privateKey,
    // kad-dht keeps records here: bounded, and Parley records only move forward in sequence (see dht-datastore.ts).
    datastore:
      options.datastore ??
      new MonotonicRecordDatastore(undefined, { ownDeviceKey: publicKeyToProtobuf(privateKey.publicKey) }),
    start: false,
    addresses: {
      listen: options.listen ?? [
        '/ip4/127.0.0.1/tcp/0',
        '/ip4/127.0.0.1/tcp/0/ws',
        ...(options.webrtc === false ? [] : [WEBRTC_LISTEN]),
        ...(options.circuit === true ? ['/p2p-circuit'] : [])
      ]
    },
    // WebRTC upgrades circuits (ours or a browser's) to direct connections; ICE servers only as configured.
    transports: [
      tcpFrom(options.dialFrom),
      webSockets(),
      circuitRelayTransport(),
      ...(options.webrtc === false ? [] : [parleyWebRTC(options.iceServers, options.webrtcGate)])
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      inboundConnectionThreshold: DEFAULT_INBOUND_CONNECTION_THRESHOLD,
      maxIncomingPendingConnections: DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS
    },
    // Per-address-range caps on inbound connections (see connection-policy.ts).
    connectionGater: policy.gater,
    peerDiscovery: [
      ...(options.bootstrap && options.bootstrap.length > 0 ? [bootstrap({ list: options.bootstrap })] : []),
      // LAN discovery only when asked: it announces this node to everyone on the network segment.
      ...(options.mdns ? [mdns()] : [])
    ],
    services: {
      identify: identify(),
      // Browsers behind a relay change their circuit addresses; pushed identify lets DHT servers learn them.
      identifyPush: identifyPush(),
      ping: ping(),
      // Tells peers whether the addresses they see for themselves are dialable (their reachability).
      autoNAT: autoNAT(),
      dht: parleyDht(backend, options, { clientMode: false }),
      // Group chats: one gossipsub topic per MLS group (gossip.ts; docs/groups.md).
      pubsub: gossip()
    }
  })
  policy.attach(node)
  return node as Libp2p<ParleyServices>
}

/** The Node courier: TCP and WebSockets out, Noise, Yamux, nothing else (see CourierFactory). */
export const createNodeCourier: CourierFactory = (privateKey) =>
  createLibp2p({
    privateKey,
    start: false,
    addresses: { listen: [] },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
