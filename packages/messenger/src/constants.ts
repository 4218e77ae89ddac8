/** Every limit and timer of the messenger, named. */

/** Network limits (connections, dial timeout, DHT bounds) live in @parley/network; the protocol prefix in @parley/wire. */
export { DEFAULT_DIAL_TIMEOUT } from '@parley/network'
/** The protocol prefix and the largest text a user may send are wire's. */
export { DEFAULT_PROTOCOL_PREFIX, MAX_TEXT_BYTES } from '@parley/wire'
/** How long a DHT lookup may take when the caller passed no signal. */
export const DEFAULT_LOOKUP_TIMEOUT = 30_000
/** Our DHT record is republished this often (and its expiry is REPUBLISH × 4 ahead). */
export const DEFAULT_REPUBLISH_INTERVAL = 10 * 60_000
export const RECORD_LIFETIME_MS = 4 * DEFAULT_REPUBLISH_INTERVAL
/** How long a published bundle stays valid. */
export const BUNDLE_LIFETIME_MS = 7 * 24 * 3600_000
/** A device certificate's lifetime (renewed on start when less than half remains). */
export const CERTIFICATE_LIFETIME_MS = 365 * 24 * 3600_000
/** One-time prekeys: keep this many of each kind; top up below the threshold. */
export const ONE_TIME_PREKEY_TARGET = 100
export const ONE_TIME_PREKEY_REPLENISH_BELOW = 20
/** Signed and last-resort prekeys rotate this often. */
export const PREKEY_ROTATION_MS = 7 * 24 * 3600_000
/** Outgoing messages waiting for delivery, all contacts together: beyond this, send() fails with OutboxFullError. */
export const MAX_OUTBOX = 10_000
/** Retry backoff for undelivered messages: first delay, factor, cap. */
export const RETRY_INITIAL_MS = 1_000
export const RETRY_FACTOR = 2
export const RETRY_MAX_MS = 5 * 60_000
/** Message ids are remembered for dedup at least as long as a message may wait in a mailbox (30 days) and more. */
export const DEDUP_RETENTION_MS = 45 * 24 * 3600_000
/** Per-peer limits on the DM protocol. */
export const MAX_INBOUND_DM_STREAMS_PER_PEER = 8
export const MAX_DM_MESSAGES_PER_MINUTE_PER_PEER = 600
/** Prekey bundles one peer may fetch per minute (each costs a one-time prekey of each kind). */
export const MAX_PREKEY_REQUESTS_PER_MINUTE_PER_PEER = 10
/**
 * Prekey bundles one source address range (IPv4 /24, IPv6 /64, or the relay a circuit came through) may fetch per
 * minute: peer ids cost nothing, so the per-peer limit alone would let one host take bundles without end.
 */
export const MAX_PREKEY_REQUESTS_PER_MINUTE_PER_RANGE = 60

// ---- Mailboxes (store-and-forward at relays for when a contact is offline) ----
/** How many relays keep our mailbox (and are listed in our DHT record) when that many are available. */
export const MAILBOX_RELAY_TARGET = 2
/** Most of a contact's relays a deposit goes to (each holds a copy; the recipient shows it once). */
export const MAX_DEPOSIT_RELAYS = 3
/** Our mailbox registrations claim this long; refreshed on every mailbox round. */
export const MAILBOX_REGISTRATION_LIFETIME_MS = 14 * 24 * 3600_000
/** How often an online node drains its mailboxes and refreshes registrations and prekey batches. */
export const MAILBOX_POLL_INTERVAL_MS = 60_000
/** One-time prekeys of each kind we keep at each mailbox relay; topped up below MAILBOX_PREKEY_TOP_UP_BELOW. */
export const MAILBOX_PREKEY_BATCH = 16
export const MAILBOX_PREKEY_TOP_UP_BELOW = 8

// ---- Control traffic (receipts, deposit tokens, resend requests) ----
/** Control messages waiting in the outbox, all contacts together: past this the oldest is dropped (best effort). */
export const MAX_CONTROL_QUEUE = 2_000
/** A control message not delivered within this long is dropped (a receipt that late tells nobody anything). */
export const CONTROL_TTL_MS = 3 * 24 * 3600_000
/** Most due outbox entries one retry round attempts (the rest wait for the next round, a second later). */
export const RETRY_ROUND_MAX = 256
/** How often old dedup records are pruned (see DEDUP_RETENTION_MS); also once shortly after start. */
export const SEEN_PRUNE_INTERVAL_MS = 24 * 3600_000
/**
 * Markers of announced texts are deleted together, this long after the first. Kept at 0: a crash in this window means
 * the text is announced again on restart (flagged `replayed`), so the window is kept as narrow as the event loop allows.
 */
export const ANNOUNCED_FLUSH_MS = 0
/** How often open sequence gaps are looked at (a gap is asked for once it is older than the grace period). */
export const GAP_CHECK_INTERVAL_MS = 5_000

// ---- Session streams, message requests, sequence gaps, device claims ----
/** Frames one session stream carries before their acks come back (the sender waits for room past it). */
export const SESSION_WINDOW = 64
/** Inbound session streams one peer may hold open at once (one per direction is what a peer needs). */
export const MAX_INBOUND_SESSION_STREAMS_PER_PEER = 2
/** Senders with a pending message request, at most (the least recently active is dropped). */
export const MAX_MESSAGE_REQUESTS = 100
/** Text bytes held in all message requests together. */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024
/** Messages one request keeps (its oldest are dropped). */
export const MAX_MESSAGES_PER_REQUEST = 50
/** Text bytes one request keeps (its oldest messages are dropped). */
export const MAX_BYTES_PER_REQUEST = 256 * 1024
/** Numbers received above the next expected one that we remember per contact (older ones are given up). */
export const MAX_TRACKED_AHEAD = 512
/** How long a gap may stay open before we ask the sender to resend. */
export const DEFAULT_GAP_GRACE_MS = 30_000
/**
 * The longest texts above a gap are held back while the gap is being asked for from a sender whose device is connected
 * (past the grace period, its answer is usually on the way: a retry in backoff, made due by our request). After this
 * they are shown anyway, out of order, so a sender that lost the missing texts holds no later text back for ever.
 * Four grace periods: time for every one of the MAX_RESEND_ASKS asks to be answered.
 */
export const MAX_GAP_HOLD_MS = 120_000
/** Contacts whose text-number floor the receiver keeps in memory for ordering announcements (least recent dropped). */
export const MAX_CACHED_FLOORS = 10_000
/** How often one missing number is asked for before it is given up. */
export const MAX_RESEND_ASKS = 3
/** The most identities that may claim one device key through mailboxes (newest kept). */
export const MAX_DEVICE_CLAIMS = 4

// ---- Direct connections and diagnostics (direct.ts, diagnostics.ts) ----
/**
 * How long a new session stream waits for an upgrade of a relayed connection to direct WebRTC before it opens on the
 * relayed one (it moves to the direct connection when that opens). Browser↔browser upgrades take ≈ 0.3 s here.
 */
export const DIRECT_WAIT_MS = 2_000
/**
 * After an upgrade to a peer failed, the next attempt waits this long, doubling after each further failure up to
 * DIRECT_RETRY_MAX_MS (the relayed connection and the mailbox still work meanwhile). Measured here: under heavy load
 * about one WebRTC dial in ten times out at libp2p's 6 s addressDialTimeout and the next one succeeds.
 */
export const DIRECT_RETRY_MS = 5_000
export const DIRECT_RETRY_MAX_MS = 5 * 60_000
/** Peers whose last failed upgrade is remembered (the oldest is forgotten first). */
export const MAX_DIRECT_FAILURES_TRACKED = 1_024
/** Contacts whose last delivery path and unreachable reason diagnostics() remembers (the oldest is forgotten first). */
export const MAX_DIAGNOSTICS_CONTACTS = 10_000
/** Characters of an unreachable reason (reasons quote no keys or peer ids; long dial errors are cut). */
export const MAX_UNREACHABLE_REASON_CHARS = 120
/**
 * Publish retries back off: the first retry of a failed publish waits REPUBLISH_RETRY_MS (core.ts), each further
 * failure in a row doubles the wait, up to this. A fixed short retry made every node of an overloaded network retry
 * together, which kept it overloaded.
 */
export const REPUBLISH_RETRY_MAX_MS = 5 * 60_000
/** Each publish retry waits a random share in [1 − this, 1] of its backed-off delay, so nodes that failed together spread out. */
export const REPUBLISH_RETRY_JITTER = 0.5
