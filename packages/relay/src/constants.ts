/** Every default limit and timer of the relay node, named (the mailbox's own limits live in mailbox-types.ts). */

import { DEFAULT_PROTOCOL_PREFIX } from '@parley/wire'

/** Protocol prefix: kad-dht is `${prefix}/kad/1.0.0`, the mailbox `${prefix}/mailbox/1.0.0` (defined in @parley/wire). */
export { DEFAULT_PROTOCOL_PREFIX }
/** Where a relay listens when the operator names nothing: loopback only, so a fresh install exposes nothing. */
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']
export const DEFAULT_HTTP_HOST = '127.0.0.1'
export const DEFAULT_HTTP_PORT = 8080

/**
 * Circuit reservations held at once. libp2p's default (15) is sized for a peer that relays on the side; a Parley
 * relay exists to give every browser it serves a reachable circuit address.
 */
export const DEFAULT_MAX_RESERVATIONS = 1024
/** How long a reservation lasts before the client must refresh it (libp2p's default). */
export const DEFAULT_RESERVATION_TTL_MS = 2 * 3600_000
/**
 * Per relayed connection: bytes (both directions together) and lifetime. libp2p's 128 KiB / 2 min is enough for a
 * WebRTC upgrade's signalling, not for a conversation that has to stay relayed because WebRTC failed; these allow a
 * text chat and keep a relay from becoming a free bulk tunnel.
 */
export const DEFAULT_RELAY_DATA_LIMIT = 4n * 1024n * 1024n
export const DEFAULT_RELAY_DURATION_LIMIT_MS = 10 * 60_000

/** Open connections in all. Every browser keeps one to its relay, and the DHT needs room besides. */
export const DEFAULT_RELAY_MAX_CONNECTIONS = 4096
/**
 * New connections per second accepted from one IP address (@parley/network's figure, shared with nodes). libp2p's 5/s
 * resets the 6th browser behind one NAT (a campus, a carrier-grade NAT) that connects in the same second.
 */
export {
  DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_MAX_DHT_RECORD_BYTES,
  DEFAULT_MAX_DHT_RECORDS,
  DEFAULT_MAX_RESERVATIONS_PER_RANGE
} from '@parley/network'
/**
 * Inbound connections (open or in their handshake) from one address range (IPv4 /24, IPv6 /64) at once. With
 * DEFAULT_RELAY_MAX_CONNECTIONS = 4096, one host needs 32 distinct /24s to fill the relay; browsers behind one NAT share a
 * range, so the figure is larger than a node's (@parley/network DEFAULT_MAX_INBOUND_CONNECTIONS_PER_RANGE).
 */
export const DEFAULT_RELAY_MAX_INBOUND_CONNECTIONS_PER_RANGE = 128
/** Connections still in their Noise/Yamux upgrade at once (libp2p's default is 10). */
export const DEFAULT_RELAY_MAX_INCOMING_PENDING_CONNECTIONS = 256

/** The benchmark's baseline protocol: length-prefixed frames echoed back. */
export const ECHO_PROTOCOL = `${DEFAULT_PROTOCOL_PREFIX}/bench-echo/1.0.0`
/** Largest echo frame, and how long an echo stream may stay silent. */
export const MAX_ECHO_FRAME_BYTES = 64 * 1024
export const ECHO_IDLE_TIMEOUT_MS = 30_000

/** Rate limits (deposits, owner operations, prekey requests per source range) count in fixed windows of this length. */
export const RATE_LIMIT_WINDOW_MS = 60_000
/** Source ranges one rate limiter tracks at once; past this the oldest is forgotten (memory stays bounded). */
export const DEFAULT_RATE_LIMITER_MAX_KEYS = 65_536

/** How long stop() waits for open HTTP requests before closing their sockets. */
export const HTTP_SHUTDOWN_GRACE_MS = 2_000
/** Request headers must arrive within this time (slowloris). */
export const HTTP_HEADERS_TIMEOUT_MS = 10_000

/** File names under the data directory. */
export const PRIVATE_KEY_FILE = 'peer-key'
export const MAILBOX_DIR = 'mailbox'
/** The DHT records this relay serves (a LevelDB of its own, so a restart does not forget them). */
export const DHT_DIR = 'dht'

/**
 * How long the TURN credentials /parley.json hands out stay valid (coturn's REST scheme puts the expiry in the
 * username). A page fetches them when it loads; a tab open longer than this reloads them for a new TURN allocation.
 */
export const TURN_CREDENTIAL_LIFETIME_MS = 24 * 3600_000
/** Random bytes in each TURN username (so two browsers never share one). */
export const TURN_USERNAME_RANDOM_BYTES = 12
/** The shortest TURN secret accepted (coturn's static-auth-secret; `openssl rand -hex 32` gives 64 characters). */
export const MIN_TURN_SECRET_CHARS = 16
