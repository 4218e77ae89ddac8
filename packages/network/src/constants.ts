/** Every limit and timer of Parley's network layer, named. Messenger and relay import these; none is defined twice. */
import { MAX_DHT_RECORD_BYTES } from '@parley/wire'

/** How long a dial + stream open may take when the caller passed no signal. */
export const DEFAULT_DIAL_TIMEOUT = 10_000

// ---- Connections (Node preset; the relay passes its own, larger figures through the same policy) ----
/** Connections per second one host may open to us (libp2p's default of 5 is too low for loopback tests and NATs). */
export const DEFAULT_INBOUND_CONNECTION_THRESHOLD = 100
/** Inbound connections still in their Noise/Yamux upgrade at once. */
export const DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS = 100
/**
 * Open connections in all (libp2p's own default, named here because the per-range cap below is sized against it).
 * At the ceiling libp2p refuses every new inbound connection, so no single address range may come near it.
 */
export const DEFAULT_MAX_CONNECTIONS = 300
/**
 * Inbound connections (open or in their handshake) from one address range — an IPv4 /24 or an IPv6 /64 — at once.
 * Peer ids are free, address ranges are not: with this cap one host needs 300 / 16 ≈ 19 distinct /24s to fill a
 * node's connection ceiling, instead of one IP address and a few seconds. Relayed (circuit) connections are not
 * counted here: they are capped by the relay that carries them.
 */
export const DEFAULT_MAX_INBOUND_CONNECTIONS_PER_RANGE = 16
/**
 * Circuit-relay reservations held by one address range at once (relays). A reservation is a slot in the relay's
 * table (and a reachable address for its holder): one host with free peer ids could otherwise take every slot.
 */
export const DEFAULT_MAX_RESERVATIONS_PER_RANGE = 16
/** A reservation the gate admitted counts against its range this long, or until the relay has stored it. */
export const RESERVATION_ADMIT_WINDOW_MS = 10_000

// ---- Kademlia routing table diversity ----
/**
 * Peers from one address range in one k-bucket (peers sharing the same common-prefix length with us). Kademlia's
 * lookups walk one bucket at a time, so a bucket one /24 fills is a bucket an attacker answers for.
 */
export const DEFAULT_MAX_ROUTING_PEERS_PER_RANGE_PER_BUCKET = 2
/** Peers from one address range in the whole routing table. */
export const DEFAULT_MAX_ROUTING_PEERS_PER_RANGE = 8

// ---- The DHT record store (kad-dht's PUT target on every DHT server, relays included) ----
/**
 * Records a DHT server holds at once. Each record costs an attacker one fresh identity key and one PUT: without a
 * bound, a server's memory (or a relay's disk) grows for as long as someone keeps putting.
 */
export const DEFAULT_MAX_DHT_RECORDS = 50_000
/** Bytes of record values a DHT server holds at once (a Parley record is at most a few KiB). */
export const DEFAULT_MAX_DHT_RECORD_BYTES = 256 * 1024 * 1024

// ---- Lookups ----
/**
 * Largest answer read when a lookup asks a bootstrap server directly (GET_VALUE): one record (@parley/wire's
 * MAX_DHT_RECORD_BYTES) plus the closer peers kad-dht adds to every answer.
 */
export const MAX_DIRECT_GET_RESPONSE_BYTES = MAX_DHT_RECORD_BYTES + 32 * 1024

// ---- Relays a node relies on ----
/**
 * After a bootstrap or mailbox relay comes back (reconnects after its connection was lost), republish our DHT record
 * this soon: a restarted relay serves the records it kept on disk, and ours is refreshed there at once rather than at
 * the next 10-minute republish. Short delay so a reconnect storm coalesces into one republish.
 */
export const RELAY_RECONNECT_REPUBLISH_DELAY_MS = 1_000

// ---- Direct WebRTC ----
/**
 * How long an upgrade from a relayed connection to direct WebRTC may take in all when the caller passes no signal. Each
 * WebRTC dial is also bounded by libp2p's addressDialTimeout (6 s): signalling over the circuit, ICE, DTLS, SCTP.
 * Measured in the test namespace: browser↔browser ≈ 0.3 s, Node↔Node ≈ 0.1 s.
 */
export const DIRECT_UPGRADE_TIMEOUT_MS = 10_000
/** Characters of a failed dial's message a DirectUpgradeError keeps (libp2p's can quote whole address lists). */
export const MAX_UPGRADE_REASON_CHARS = 160
