/**
 * Every limit, label and version of Parley's MLS groups (RFC 9420 through ts-mls), named. A change to a label, the
 * ciphersuite or an encoding is a new group protocol version.
 */
import { MAX_SKIP, MAX_SKIPPED_KEYS } from '../constants.ts'

/** The MLS ciphersuite of every Parley group: X-Wing (X25519 + ML-KEM-768) hybrid KEM, AES-256-GCM, SHA-512, Ed25519. */
export const GROUP_CIPHERSUITE = 'MLS_256_XWING_AES256GCM_SHA512_Ed25519' as const
/** Version byte of Parley's group encodings (member credential, group metadata, saved group state). */
export const GROUP_FORMAT_VERSION = 1
/** Signature context of the identity key's binding of a device certificate to an MLS signature key. */
export const CONTEXT_GROUP_CREDENTIAL = 'Parley/v1/group-credential'
/** MLS exporter label of the group's gossipsub topic (taken at the group's first epoch). */
export const EXPORTER_GROUP_TOPIC = 'Parley/v1/group-topic'
/** Length of the group topic secret. */
export const GROUP_TOPIC_SECRET_BYTES = 32
/** MLS group context extension (private-use range) carrying Parley's group metadata: name and admins. */
export const GROUP_METADATA_EXTENSION = 0xf0a1
/** Length of a group id (random, chosen by the creator). */
export const GROUP_ID_BYTES = 16
/** Most members of one group. */
export const MAX_GROUP_MEMBERS = 100
/** Most admins of one group (every member may be one). */
export const MAX_GROUP_ADMINS = MAX_GROUP_MEMBERS
/** Longest group name, UTF-8 bytes. */
export const MAX_GROUP_NAME_BYTES = 128
/** Largest MLS application plaintext (a group text and its header). */
export const MAX_GROUP_PLAINTEXT_BYTES = 64 * 1024 + 256
/** Largest encoded MLS message we accept (a commit adding members to a full group with X-Wing keys). */
export const MAX_MLS_MESSAGE_BYTES = 512 * 1024
/** Largest encoded key package (X-Wing public key, Ed25519 key, credential with device certificate). */
export const MAX_KEY_PACKAGE_BYTES = 8 * 1024
/** Largest encoded saved group state. */
export const MAX_GROUP_STATE_BYTES = 4 * 1024 * 1024
/** Most generations one sender's chain may jump ahead in one message (the ratchet's MAX_SKIP). */
export const GROUP_MAX_FORWARD_GENERATIONS = MAX_SKIP
/** Most skipped message keys kept per sender chain (reordering); the ratchet's MAX_SKIPPED_KEYS. */
export const GROUP_RETAINED_GENERATIONS = MAX_SKIPPED_KEYS
/** Epochs whose receiving keys are kept after a commit, so messages sent just before it still decrypt. */
export const GROUP_RETAINED_EPOCHS = 4
/** Lifetime of a key package we make: an invite must be used within this, ms. */
export const KEY_PACKAGE_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000
/** Verified member credentials remembered per process (a commit re-validates every leaf of the tree). */
export const MAX_VERIFIED_CREDENTIALS = 10_000
