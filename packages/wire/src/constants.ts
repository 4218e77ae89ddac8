/**
 * Every version, size limit and label of Parley's byte formats, named. Decoders refuse input over these limits
 * before parsing it; encoders refuse to produce it.
 */
import {
  ED25519_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  MAX_CERTIFICATE_BYTES,
  MAX_PLAINTEXT_BYTES,
  MESSAGE_ID_BYTES,
  RATCHET_OVERHEAD_BYTES
} from '@parley/crypto'

/** Version of every format in this package; any other value is an UnknownVersionError. */
export const FORMAT_VERSION = 1

/** A message id's length: @parley/crypto binds the id into each message's associated data, so it is defined there. */
export { MESSAGE_ID_BYTES }
/** An identity key is an Ed25519 public key, and records are signed with it. */
export const IDENTITY_KEY_BYTES = ED25519_KEY_BYTES
export const SIGNATURE_BYTES = ED25519_SIGNATURE_BYTES

// ---- Padding (of the plaintext payload, before encryption) ----
/** Bucket sizes below PADDING_STEP_BYTES: each padded payload is one of these, or a multiple of the step. */
export const PADDING_SMALL_BUCKETS: readonly number[] = [64, 128, 256, 512, 1024, 2048, 4096]
/** Above 4 KiB, padded payloads are multiples of this. */
export const PADDING_STEP_BYTES = 4096
/** Largest padded payload: the most one ratchet message may carry, so every padded payload is encryptable. */
export const MAX_PADDED_PAYLOAD_BYTES = MAX_PLAINTEXT_BYTES
/** Largest encoded Payload: the padding takes at least one byte (0x80). */
export const MAX_PAYLOAD_BYTES = MAX_PADDED_PAYLOAD_BYTES - 1

// ---- Payload (E2EE plaintext) ----
/** Largest message text, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 64 * 1024
/** Largest call-signalling blob (an SDP offer with its ICE candidates is a few KiB). */
export const MAX_CALL_SIGNAL_BYTES = 64 * 1024
// ---- Call signals (inside a call-signal payload; see call-signal.ts) ----
/** Length of a call id (random, chosen by the caller). */
export const CALL_ID_BYTES = 16
/** Length of the fresh media secret each side puts in its offer, answer or re-key. */
export const CALL_MEDIA_SECRET_BYTES = 32
/** Largest SDP an offer or answer carries, in UTF-8 bytes. */
export const MAX_CALL_SDP_BYTES = 32 * 1024
/** Largest ICE candidate line, in UTF-8 bytes. */
export const MAX_CALL_CANDIDATE_BYTES = 1024
/** Largest media-section id (`a=mid`) of a candidate, in UTF-8 bytes. */
export const MAX_CALL_MID_BYTES = 64
/** Most DTLS fingerprints one offer or answer names. */
export const MAX_CALL_FINGERPRINTS = 4
/** Largest DTLS fingerprint (`sha-512` and 64 colon-separated hex bytes fit), in UTF-8 bytes. */
export const MAX_CALL_FINGERPRINT_BYTES = 256
/** Most participants of one mesh call (each pair is its own call). */
export const MAX_CALL_PARTICIPANTS = 4
/** Length of a mailbox deposit token (given to contacts in a deposit-token payload, shown to relays on deposit). */
export const DEPOSIT_TOKEN_BYTES = 32
/** Most message ids one receipt acknowledges. */
export const MAX_RECEIPT_MESSAGE_IDS = 1024
/** Most items (sequence numbers and message ids together) one resend request names. */
export const MAX_RESEND_ITEMS = 256

// ---- Envelope (a DM frame) ----
// ML-KEM-1024 ciphertext length (FIPS 203), part of every initial message.
const MLKEM1024_CIPHERTEXT_BYTES = 1568
/**
 * Most bytes @parley/crypto adds to a plaintext: an initial message (type, base key, prekey ids, flags, KEM
 * ciphertext, sealed-certificate length and the sealed certificate with its tag) around a ratchet message.
 */
export const MAX_CIPHERTEXT_OVERHEAD_BYTES =
  1 + 32 + 4 + 4 + 1 + 4 + MLKEM1024_CIPHERTEXT_BYTES + 2 + MAX_CERTIFICATE_BYTES + 16 + RATCHET_OVERHEAD_BYTES
/** Largest ciphertext an envelope carries: the largest padded payload, encrypted as an initial message. */
export const MAX_ENVELOPE_CIPHERTEXT_BYTES = MAX_PADDED_PAYLOAD_BYTES + MAX_CIPHERTEXT_OVERHEAD_BYTES
/** Largest sealed sender address in a deposited envelope: a seal (48 bytes) around identity and device keys. */
export const MAX_SEALED_SENDER_BYTES = 512
/** Largest encoded Envelope (the transport's length prefix should refuse longer frames unread). */
export const MAX_ENVELOPE_BYTES = MAX_ENVELOPE_CIPHERTEXT_BYTES + MAX_SEALED_SENDER_BYTES + 64

// ---- Ack and prekey exchange ----
/** Longest error code in an Ack or PrekeyResponse (an identifier such as `NoSession`). */
export const MAX_ERROR_CODE_BYTES = 64
/** Largest encoded Ack. */
export const MAX_ACK_BYTES = 128
/** Largest encoded PrekeyRequest. */
export const MAX_PREKEY_REQUEST_BYTES = 64
/** Largest prekey bundle (@parley/crypto encodePrekeyBundle: a bundle with both one-time prekeys is ~3.7 KiB). */
export const MAX_PREKEY_BUNDLE_BYTES = 8 * 1024
/** Largest encoded PrekeyResponse. */
export const MAX_PREKEY_RESPONSE_BYTES = MAX_PREKEY_BUNDLE_BYTES + 128

// ---- DHT record ----
/** The DHT key namespace: kad-dht picks validators and selectors by a key's first path segment. */
export const DHT_NAMESPACE = 'parley'
/** Every Parley DHT key starts with these bytes (UTF-8), followed by the raw 32-byte identity key. */
export const DHT_KEY_PREFIX = `/${DHT_NAMESPACE}/`
/** Length of a Parley DHT key: `/parley/` (8 bytes) and the identity key (32). */
export const DHT_KEY_BYTES = DHT_KEY_PREFIX.length + IDENTITY_KEY_BYTES
/** Signature context of DHT records (signed as `context ‖ 0x00 ‖ body`, like @parley/crypto's contexts). */
export const CONTEXT_DHT_RECORD = 'Parley/v1/dht-record'
/** Largest signed bundle (@parley/crypto encodeBundle: ~1.9 KiB with a 36-byte device key, 2.1 KiB at most). */
export const MAX_BUNDLE_BYTES = 4096
/** Largest multiaddr or peer id in binary form (circuit addresses with certhashes stay well under this). */
export const MAX_ADDRESS_BYTES = 512
/** Most addresses a record lists. */
export const MAX_DHT_ADDRESSES = 32
/** Most mailbox relays a record lists. */
export const MAX_DHT_MAILBOX_RELAYS = 8
/** Largest encoded DhtRecord (a record filled to every limit is ~25 KiB). */
export const MAX_DHT_RECORD_BYTES = 32 * 1024
/** A record may not claim to stay valid longer than this past `now`: bounds how long a stale copy can be replayed. */
export const MAX_DHT_RECORD_LIFETIME_MS = 30 * 24 * 3600 * 1000

// ---- Invite link ----
/** Every invite link starts with this (lower case, as written). */
export const INVITE_PREFIX = 'parley://invite/'
/** Largest encoded invite protobuf (QR codes stay readable). */
export const MAX_INVITE_BYTES = 2048
/** Version of the Invite protobuf written since invite links carry a checksum (version 1 had none). */
export const INVITE_VERSION = 2
/** Bytes of the checksum that ends an invite payload: the first bytes of SHA-256 over the protobuf before it. */
export const INVITE_CHECKSUM_BYTES = 4
/** Longest invite link: the prefix and the unpadded base64url of MAX_INVITE_BYTES and the checksum. */
export const MAX_INVITE_LENGTH = INVITE_PREFIX.length + Math.ceil(((MAX_INVITE_BYTES + INVITE_CHECKSUM_BYTES) * 4) / 3)
/** Most addresses an invite lists. */
export const MAX_INVITE_ADDRESSES = 8
/** Most relays an invite lists. */
export const MAX_INVITE_RELAYS = 8
/** Longest display name in an invite, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 64

// ---- Protocol ids ----
/** The default protocol-id prefix; the simulator overrides it to run separate networks side by side. */
export const DEFAULT_PROTOCOL_PREFIX = '/parley'

// ---- Mailboxes (/parley/mailbox/1.0.0: mailbox.ts, mailbox-auth.ts) ----
/** Largest envelope a relay stores (a DM Envelope, which is what senders deposit). */
export const MAX_MAILBOX_ENVELOPE_BYTES = MAX_ENVELOPE_BYTES
/** Length of a fetch challenge. */
export const MAILBOX_CHALLENGE_BYTES = 32
/** Most deposit-token hashes one registration carries. */
export const MAX_DEPOSIT_TOKENS = 256
/** A registration names each deposit token by its SHA-256 hash. */
export const DEPOSIT_TOKEN_HASH_BYTES = 32
/** Most ids one ACK names. */
export const MAX_MAILBOX_ACK_IDS = 256
/** Most one-time prekeys one PUT_PREKEYS carries. */
export const MAX_MAILBOX_PREKEYS_PER_PUT = 64
/** Largest one encoded one-time prekey (an ML-KEM-1024 key, its id and signature: ~1.65 KiB). */
export const MAX_ONE_TIME_PREKEY_BYTES = 2048
/** Most items one FETCH answer carries. */
export const MAX_MAILBOX_PAGE_ITEMS = 1024
/** A FETCH answer carries items up to about this many bytes (at least one item, whatever its size). */
export const MAX_MAILBOX_PAGE_BYTES = 512 * 1024
/** Largest relay peer id in binary form (an Ed25519 identity multihash is 38 bytes; RSA ones are longer). */
export const MAX_RELAY_ID_BYTES = 128
export const MAX_MAILBOX_REGISTRATION_BYTES = 2 * 1024 + MAX_DEPOSIT_TOKENS * (2 + DEPOSIT_TOKEN_HASH_BYTES)
export const MAX_MAILBOX_REQUEST_BYTES =
  MAX_MAILBOX_ENVELOPE_BYTES + MAX_MAILBOX_PREKEYS_PER_PUT * (MAX_ONE_TIME_PREKEY_BYTES + 4) + 4096
export const MAX_MAILBOX_RESPONSE_BYTES = MAX_MAILBOX_PAGE_BYTES + MAX_MAILBOX_ENVELOPE_BYTES + 4096
/** Signature contexts (see the KDF and context registry in docs/crypto/kdf-registry.md). */
export const CONTEXT_MAILBOX_REGISTRATION = 'Parley/v1/mailbox-registration'
export const CONTEXT_MAILBOX_AUTH = 'Parley/v1/mailbox-auth'
/** Domain separation of mailbox ids: SHA-256(context ‖ 0x00 ‖ identity key). */
export const CONTEXT_MAILBOX_ID = 'Parley/v1/mailbox-id'

// ---- Groups (group.ts: gossip envelopes, group application messages, group control over E2EE, group sync) ----
/** Largest group envelope on a gossipsub topic: one MLS message (see @parley/crypto MAX_MLS_MESSAGE_BYTES) and framing. */
export const MAX_GROUP_ENVELOPE_BYTES = 512 * 1024 + 64
/** Largest group text, UTF-8 bytes (as a direct text). */
export const MAX_GROUP_TEXT_BYTES = MAX_TEXT_BYTES
/** Largest encoded group application message (the MLS plaintext): a text and its header. */
export const MAX_GROUP_APP_BYTES = MAX_GROUP_TEXT_BYTES + 128
/** Length of a group id (@parley/crypto GROUP_ID_BYTES). */
export const GROUP_ID_WIRE_BYTES = 16
/** Length of a group control request id (random). */
export const GROUP_REQUEST_ID_BYTES = 16
/** A Welcome and its ratchet tree travel in parts of at most this many bytes, each one E2EE payload. */
export const GROUP_CONTROL_CHUNK_BYTES = 160 * 1024
/** Most parts of one group control transfer (a full group's Welcome and tree are about 300 KiB with X-Wing keys). */
export const MAX_GROUP_CONTROL_PARTS = 8
/** Largest group control message (one part and its header). */
export const MAX_GROUP_CONTROL_BYTES = GROUP_CONTROL_CHUNK_BYTES + 1024
/** Largest reassembled group control transfer (Welcome, tree, topic). */
export const MAX_GROUP_TRANSFER_BYTES = GROUP_CONTROL_CHUNK_BYTES * MAX_GROUP_CONTROL_PARTS
/** Length of a group topic id (hash of the MLS exporter topic secret). */
export const GROUP_TOPIC_ID_BYTES = 32
/** Most envelopes one group sync answer carries. */
export const MAX_GROUP_SYNC_ENVELOPES = 256
/** Largest group sync answer. */
export const MAX_GROUP_SYNC_RESPONSE_BYTES = 4 * 1024 * 1024
/** Largest group sync request. */
export const MAX_GROUP_SYNC_REQUEST_BYTES = 256
/** Most sender positions a Welcome carries (one per member: @parley/crypto MAX_GROUP_MEMBERS). */
export const MAX_GROUP_WELCOME_POSITIONS = 100
