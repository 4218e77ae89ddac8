/**
 * Every limit, version and label of the protocol, named. A change to any KDF info string, signature context,
 * nonce scheme or primitive is a new protocol version (see docs/crypto/kdf-registry.md).
 */

/** The protocol version this build speaks best. */
export const PROTOCOL_VERSION = 1
/** Versions below this are refused (downgrade protection). */
export const MIN_PROTOCOL_VERSION = 1
/** Every version this build can speak, highest first. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [1]

/** Version of every persisted structure (session record, account); an unknown one is a typed error. */
export const STATE_VERSION = 1
/** Version byte of the public encodings (certificate, bundle, prekeys). */
export const FORMAT_VERSION = 1

// ---- Double Ratchet bounds ----
/** Most message keys one chain may skip ahead in one go (libsignal allows 25 000; we keep it tighter). */
export const MAX_SKIP = 1000
/** Most skipped message keys kept across all chains of a session; the oldest is evicted first. */
export const MAX_SKIPPED_KEYS = 2000
/** Most earlier receiving chains whose header keys are still tried (libsignal keeps 5 receiver chains). */
export const MAX_RECEIVING_CHAINS = 5
/**
 * Upper bound on header trial decryptions per incoming frame: the current receiving header key, the next one,
 * and one per kept earlier chain. Incoming work per frame never exceeds this many AES-GCM attempts.
 */
export const MAX_HEADER_TRIALS = MAX_RECEIVING_CHAINS + 2
/** Skipped message keys older than this are deleted (forward secrecy for messages that never come). */
export const MAX_SKIPPED_KEY_AGE_MS = 30 * 24 * 3600 * 1000
/** Archived sessions kept per peer (libsignal keeps 40). */
export const MAX_ARCHIVED_SESSIONS = 10
/** Decoded session records a session manager keeps in memory (least recently used dropped first; the store has all). */
export const MAX_CACHED_RECORDS = 1024
/** An initiated session with no reply for this long is no longer used to send; fetch a fresh bundle. */
export const MAX_UNACKNOWLEDGED_SESSION_AGE_MS = 30 * 24 * 3600 * 1000

// ---- Sizes ----
export const MESSAGE_ID_BYTES = 16
/** Largest plaintext one ratchet message may carry. */
export const MAX_PLAINTEXT_BYTES = 256 * 1024
/** Largest device-key field in a certificate (a libp2p public key protobuf is 36 bytes for Ed25519). */
export const MAX_DEVICE_KEY_BYTES = 256
/** Largest encoded device certificate. */
export const MAX_CERTIFICATE_BYTES = 512
/** Header plaintext: ratchet public key (32) + message number (4) + previous chain length (4). */
export const HEADER_BYTES = 40

// ---- Prekey lifecycle ----
/** Previous signed / last-resort prekeys stay usable this long after rotation, for messages in flight. */
export const PREKEY_GRACE_MS = 30 * 24 * 3600 * 1000
/** Most one-time prekeys (of each kind) a device holds that were not handed out yet. */
export const MAX_ONE_TIME_PREKEYS = 200
/**
 * Most one-time prekeys (of each kind) handed out directly to requesters of the prekey protocol and still unused.
 * Requesters cost nothing to make, so past this the oldest of THESE are forgotten (a first message naming one gets
 * UnknownPrekey); keys held by mailbox relays are a separate pool that requesters can never evict.
 */
export const MAX_REQUESTER_PREKEYS = 200
/**
 * Most one-time prekeys (of each kind) handed to our mailbox relays and still unused. Only the owner hands keys to its
 * relays, a few batches at a time; when this pool is full no more are handed out (relays serve the last-resort prekey
 * instead) — relay-held keys are never evicted by count, only by age (MAX_RELAY_PREKEY_AGE_MS).
 */
export const MAX_RELAY_PREKEYS = 256
/** A one-time prekey handed to a relay is forgotten this long after it was handed out (pruneRetiredPrekeys). */
export const MAX_RELAY_PREKEY_AGE_MS = 60 * 24 * 3600 * 1000
/**
 * Most first messages one last-resort prekey accepts (its replay cache's size). A full cache is never trimmed — a
 * trimmed entry would let that first message be replayed into a second session — so the key then refuses first
 * messages (LastResortPrekeyExhaustedError) until it is deleted.
 */
export const MAX_REPLAY_CACHE_ENTRIES = 256
/** The current last-resort prekey is rotated early once it has started this many sessions (half of the cap). */
export const LAST_RESORT_ROTATION_USES = MAX_REPLAY_CACHE_ENTRIES / 2
/** Most last-resort prekeys kept (current and retired within the grace period); the oldest retired one goes first. */
export const MAX_LAST_RESORT_PREKEYS = 8

// ---- Message type bytes: high nibble version, low nibble type ----
export const MESSAGE_TYPE_RATCHET = 1
export const MESSAGE_TYPE_INITIAL = 2

// ---- KDF info strings (the registry in docs/crypto/kdf-registry.md lists each) ----
export const INFO_PQXDH = 'Parley_PQXDH_X25519_SHA-256_ML-KEM-1024_v1'
export const INFO_SEALED_SENDER = 'Parley_SealedSender_v1'
export const INFO_ROOT_RATCHET = 'Parley_RootRatchet_v1'
/** Sealing a sender's device address to a recipient device (mailbox deposits): device-seal.ts. */
export const INFO_DEVICE_SEAL = 'Parley_DeviceSeal_v1'
export const INFO_SAFETY_NUMBER_VERSION = 0
export const SAFETY_NUMBER_ITERATIONS = 5200
/** HMAC-SHA-512 input of a symmetric-chain step (output: message key || next chain key). */
export const CHAIN_STEP_CONSTANT = 0x01
/** Prefix of the associated data bound into every ratchet message. */
export const AD_LABEL = 'Parley_AD_v1'

// ---- Signature contexts: ours alone, so no signature can be replayed in another (sub-)protocol ----
export const CONTEXT_DEVICE_CERTIFICATE = 'Parley/v1/device-certificate'
/** Also covers the signed X25519 prekey and the last-resort KEM prekey: neither is signed on its own. */
export const CONTEXT_BUNDLE = 'Parley/v1/bundle'
export const CONTEXT_KEM_PREKEY = 'Parley/v1/kem-prekey'
export const CONTEXT_ONE_TIME_PREKEY = 'Parley/v1/one-time-prekey'
