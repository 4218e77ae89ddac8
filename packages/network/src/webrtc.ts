/**
 * Direct WebRTC between Parley nodes (browser↔browser, browser↔Node, Node↔Node). Two peers that can only reach each
 * other through a relay's circuit (a limited connection: the relay caps its bytes and lifetime) exchange SDP and ICE
 * candidates over that circuit (`/webrtc-signaling/0.0.1`), then talk over a data-channel connection of their own.
 *
 * - ICE servers: none unless given. `@libp2p/webrtc` would otherwise ask four public STUN servers (third parties
 *   learn who runs Parley and when); relays advertise the STUN/TURN servers their operators run (`/parley.json`).
 * - Classification never reads address text: after an upgrade the relayed connection stays open beside the direct
 *   one and the direct one's address still contains `p2p-circuit`. A connection is relayed when libp2p put limits on
 *   it, and WebRTC when its stream multiplexer is WebRTC's data channels.
 * Imports nothing Node-only: both presets load it.
 */
import type { Connection, PeerId, StreamHandler } from '@libp2p/interface'
import { webRTC } from '@libp2p/webrtc'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import { DIRECT_UPGRADE_TIMEOUT_MS, MAX_UPGRADE_REASON_CHARS } from './constants.ts'
import { DirectUpgradeError } from './errors.ts'

/** One STUN or TURN server (the shape of RTCIceServer, which Node's types do not declare). */
export interface IceServer {
  /** `stun:host:port`, `turn:host:port?transport=udp`, `turns:host:443?transport=tcp` (one or several). */
  urls: string | string[]
  /** TURN username (for coturn's REST scheme: `<expiry-unix-seconds>:<random>`). */
  username?: string
  /** TURN credential (coturn's REST scheme: base64 HMAC-SHA1 of the username under the shared secret). */
  credential?: string
}

/**
 * Who may open WebRTC signalling with us. Whoever does learns our ICE candidates — our IP addresses — so a messenger
 * admits its contacts' devices only: a stranger who can reach our relay circuit cannot learn where we are.
 */
export type WebRTCGate = (peer: PeerId) => boolean | Promise<boolean>

/** The protocol `@libp2p/webrtc` exchanges SDP and ICE candidates on (over a relayed connection). */
export const WEBRTC_SIGNALLING_PROTOCOL = '/webrtc-signaling/0.0.1'

/** The stream multiplexer `@libp2p/webrtc` reports on its connections (data channels are its streams). */
export const WEBRTC_MULTIPLEXER = '/webrtc'

/** The listen address that makes a node reachable over WebRTC through each relay it holds a reservation at. */
export const WEBRTC_LISTEN = '/webrtc'

/**
 * The WebRTC transport of both presets: ICE servers exactly as given (default none), so a node never contacts a
 * STUN server nobody configured; with a `gate`, inbound signalling from a peer it refuses is reset before any SDP or
 * candidate is read or sent (the transport registers its handler through the registrar this wraps).
 */
export function parleyWebRTC(iceServers: readonly IceServer[] = [], gate?: WebRTCGate): ReturnType<typeof webRTC> {
  const factory = webRTC({ rtcConfiguration: { iceServers: iceServers.map((s) => ({ ...s })) } })
  if (gate === undefined) return factory
  return (components) =>
    factory(
      new Proxy(components, {
        get: (target, prop, receiver) =>
          prop === 'registrar' ? gatedRegistrar(target.registrar, gate) : Reflect.get(target, prop, receiver)
      })
    )
}

/** The part of libp2p's (internal) registrar the WebRTC transport registers its signalling handler with. */
interface HandlerRegistry {
  handle(protocol: string, handler: StreamHandler, options?: object): Promise<void>
}

/** `registrar` with the WebRTC signalling handler behind `gate`. */
function gatedRegistrar<R extends HandlerRegistry>(registrar: R, gate: WebRTCGate): R {
  return new Proxy(registrar, {
    get: (target, prop) => {
      if (prop === 'handle') {
        return (protocol: string, handler: StreamHandler, options?: object) =>
          target.handle(protocol, protocol === WEBRTC_SIGNALLING_PROTOCOL ? gated(handler, gate) : handler, options)
      }
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

function gated(handler: StreamHandler, gate: WebRTCGate): StreamHandler {
  return async (stream, connection) => {
    let allowed = false
    try {
      allowed = await gate(connection.remotePeer)
    } catch {
      allowed = false
    }
    if (!allowed) {
      stream.abort(new DirectUpgradeError('WebRTC is for contacts only'))
      return
    }
    return handler(stream, connection)
  }
}

/** How a connection reaches the peer: `relayed` (a relay's limited circuit), `direct-webrtc`, or `direct`. */
export type ConnectionKind = 'direct-webrtc' | 'direct' | 'relayed'

/** The kind of `connection`, from libp2p's own fields (never from its address). */
export function connectionKind(connection: Pick<Connection, 'limits' | 'multiplexer'>): ConnectionKind {
  if (connection.limits != null) return 'relayed'
  return connection.multiplexer === WEBRTC_MULTIPLEXER ? 'direct-webrtc' : 'direct'
}

/** Whether `connection` is open and not limited by a relay. */
export function isUnlimited(connection: Pick<Connection, 'limits' | 'status'>): boolean {
  return connection.status === 'open' && connection.limits == null
}

/** The best open connection to `peer`: unlimited before relayed, WebRTC before other direct ones. */
export function bestConnection(node: Pick<Libp2p, 'getConnections'>, peer: PeerId): Connection | undefined {
  const rank: Record<ConnectionKind, number> = { 'direct-webrtc': 0, direct: 1, relayed: 2 }
  return node
    .getConnections(peer)
    .filter((c) => c.status === 'open')
    .sort((a, b) => rank[connectionKind(a)] - rank[connectionKind(b)])[0]
}

/**
 * The WebRTC address of the peer at the other end of a relayed connection: the same relay's circuit with `/webrtc`
 * (`<relay>/p2p-circuit/webrtc/p2p/<peer>`). Undefined when the connection is not a circuit. Reads the address's
 * components to build a dial target; it never decides what kind of connection something is.
 */
export function webRTCAddressVia(relayed: Pick<Connection, 'remoteAddr' | 'remotePeer'>): Multiaddr | undefined {
  const components = relayed.remoteAddr.getComponents()
  const circuit = components.findIndex((c) => c.name === 'p2p-circuit')
  if (circuit <= 0) return undefined
  const relayPart = components
    .slice(0, circuit)
    .map((c) => (c.value === undefined ? `/${c.name}` : `/${c.name}/${c.value}`))
    .join('')
  return multiaddr(`${relayPart}/p2p-circuit/webrtc/p2p/${relayed.remotePeer.toString()}`)
}

/**
 * Opens a direct WebRTC connection to `peer` through the relays of our relayed connections to it (signalling runs on
 * those circuits) and returns it; returns an existing unlimited connection at once. Throws a DirectUpgradeError
 * naming the last failure when none succeeds (the peer does not listen for WebRTC, ICE finds no path, the time runs out). Bounded by
 * DIRECT_UPGRADE_TIMEOUT_MS when the caller passes no signal.
 */
export async function upgradeToDirect(
  node: Pick<Libp2p, 'getConnections' | 'dial'>,
  peer: PeerId,
  options: { signal?: AbortSignal } = {}
): Promise<Connection> {
  const existing = bestConnection(node, peer)
  if (existing !== undefined && existing.limits == null) return existing
  const signal = options.signal ?? AbortSignal.timeout(DIRECT_UPGRADE_TIMEOUT_MS)
  const targets = node
    .getConnections(peer)
    .filter((c) => c.status === 'open' && c.limits != null)
    .map(webRTCAddressVia)
    .filter((a): a is Multiaddr => a !== undefined)
  let reason = 'no relayed connection to upgrade'
  for (const target of new Map(targets.map((t) => [t.toString(), t])).values()) {
    try {
      const connection = await node.dial(target, { signal })
      if (connection.limits == null) return connection
      reason = 'WebRTC failed; only the relay circuit answered'
    } catch (e) {
      reason = signal.aborted ? 'timed out' : ((e as Error).message ?? String(e)).slice(0, MAX_UPGRADE_REASON_CHARS)
      if (signal.aborted) break
    }
  }
  throw new DirectUpgradeError(reason)
}
