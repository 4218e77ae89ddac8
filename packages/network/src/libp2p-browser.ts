/**
 * The browser preset of Parley's libp2p node: WebSockets (dialing only: a page cannot listen on a socket), circuit
 * relay and WebRTC (reachable through each relay reservation, upgraded to direct connections; see webrtc.ts), Noise, Yamux, identify and identify-push, ping, and kad-dht in client mode under the same protocol id and with
 * the same record validator and selector as the Node preset. Imports nothing Node-only.
 */
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify, identifyPush } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { isPrivate } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { MonotonicRecordDatastore } from './dht-datastore.ts'
import { type CourierFactory, type Libp2pFactory, type ParleyServices, parleyDht } from './dht-options.ts'
import { gossip } from './gossip.ts'
import { parleyWebRTC, WEBRTC_LISTEN } from './webrtc.ts'

/** Whether `ma` runs plain `ws://` somewhere (`/tcp/…/ws`; `/tls/ws` and `/wss` are secure). */
function insecureWebSocket(ma: Multiaddr): boolean {
  const names = ma.getComponents().map((c) => c.name)
  return names.some((name, i) => name === 'ws' && names[i - 1] === 'tcp')
}

/**
 * The dial gate of a browser node: `true` denies. libp2p's browser default refuses `ws://` and private addresses
 * (browsers waste their few sockets on them and log loud errors); a Parley test network or LAN has exactly such a
 * bootstrap peer, so the configured bootstrap addresses, and only they, are let through. So are circuit addresses
 * relayed by one of them (`<bootstrap>/p2p-circuit/p2p/<peer>`): the only socket such a dial opens is to the configured
 * bootstrap peer itself. Addresses must match a bootstrap entry exactly (with its `/p2p/<id>`); anything else learned
 * from the DHT or identify keeps libp2p's default rule.
 */
export function bootstrapDialGate(bootstrapList: readonly string[]): (ma: Multiaddr) => boolean {
  const allowed = new Set(bootstrapList.map((a) => multiaddr(a).toString()))
  return (ma) => {
    const address = ma.toString()
    if (allowed.has(address)) return false
    const relay = address.indexOf('/p2p-circuit')
    if (relay > 0 && allowed.has(address.slice(0, relay))) return false
    return insecureWebSocket(ma) || isPrivate(ma)
  }
}

/**
 * Creates (does not start) the libp2p node of a messenger in a browser. It listens on `/p2p-circuit` (a reservation on
 * a relay, once one is connected) and `/webrtc` (direct connections signalled through that reservation) unless
 * `options.listen` says otherwise; `options.mdns` is ignored
 * (browsers have no multicast) and the DHT runs in client mode unless `options.clientMode` is explicitly false.
 */
export const createBrowserLibp2p: Libp2pFactory = async (privateKey, backend, options) => {
  const bootstrapList = options.bootstrap ?? []
  return createLibp2p({
    privateKey,
    // kad-dht keeps records here: bounded, and Parley records only move forward in sequence (see dht-datastore.ts).
    datastore:
      options.datastore ??
      new MonotonicRecordDatastore(undefined, { ownDeviceKey: publicKeyToProtobuf(privateKey.publicKey) }),
    start: false,
    addresses: { listen: options.listen ?? ['/p2p-circuit', ...(options.webrtc === false ? [] : [WEBRTC_LISTEN])] },
    transports: [
      webSockets(),
      circuitRelayTransport(),
      ...(options.webrtc === false ? [] : [parleyWebRTC(options.iceServers, options.webrtcGate)])
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: bootstrapDialGate(bootstrapList) },
    peerDiscovery: bootstrapList.length > 0 ? [bootstrap({ list: bootstrapList })] : [],
    services: {
      identify: identify(),
      // Tells connected peers (the DHT servers) when our addresses change, e.g. a relay reservation appears.
      identifyPush: identifyPush(),
      ping: ping(),
      // Nobody can dial a browser, so serving the DHT would only stall other nodes' queries.
      dht: parleyDht(backend, options, { clientMode: true }),
      // Group chats: one gossipsub topic per MLS group (gossip.ts; docs/groups.md).
      pubsub: gossip()
    }
  }) as Promise<Libp2p<ParleyServices>>
}

/** The browser courier: WebSockets out to exactly the relays it was given (see CourierFactory). */
export const createBrowserCourier: CourierFactory = (privateKey, dialable) =>
  createLibp2p({
    privateKey,
    start: false,
    addresses: { listen: [] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: bootstrapDialGate(dialable) }
  })
