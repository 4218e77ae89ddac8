/**
 * Every limit, version, label and cost of @parley/store, named. A change to a KDF info string, the nonce scheme,
 * the record layout or a primitive is a new format version.
 */

// ---- Format ----
/** Version of the header record and of every encrypted record this build writes and reads. */
export const FORMAT_VERSION = 1
/** Versions this build can open. Anything else is an UnknownFormatVersionError, never a guess. */
export const SUPPORTED_FORMAT_VERSIONS: readonly number[] = [1]
/** Datastore key of the (unencrypted, but authenticated) header. `_` can never start a namespace, so no clash. */
export const HEADER_KEY = '/_parley/header'
/** Tag in the header that says what this datastore is, so another program's datastore is refused cleanly. */
export const HEADER_FORMAT_NAME = 'parley-store'

// ---- Key derivation from the passphrase ----
/**
 * scrypt cost for new profiles: N = 2^17, r = 8, p = 1 (OWASP's recommended scrypt minimum). Memory 128·N·r =
 * 128 MiB. Measured on the shared 2-core development machine (load ~2): 0.45–0.9 s with node:crypto, 0.7–1.3 s
 * with @noble/hashes in Chromium, 0.8–2.1 s with @noble/hashes in Node. Every passphrase guess costs an attacker
 * the same 128 MiB and time, which is what makes GPU/ASIC search expensive.
 */
export const SCRYPT_LOG_N = 17
/** scrypt block size r. */
export const SCRYPT_R = 8
/** scrypt parallelism p. */
export const SCRYPT_P = 1
/** Weakest scrypt N accepted when opening a profile (a tampered or test header cannot lower the cost). */
export const MIN_SCRYPT_LOG_N = 17
/** Most memory (128·N·r bytes) a header may ask the KDF for, so a hostile header cannot exhaust memory. */
export const MAX_SCRYPT_MEMORY_BYTES = 1024 * 1024 * 1024
/** Largest scrypt p a header may ask for (p multiplies the time cost). */
export const MAX_SCRYPT_P = 16
/**
 * Memory the scrypt implementations may use beyond what the parameters need. OpenSSL refuses anything above its
 * `maxmem` (32 MiB by default), so both KDFs are given the need plus this slack.
 */
export const SCRYPT_MAXMEM_SLACK_BYTES = 16 * 1024 * 1024
/** Cheap scrypt cost (N = 2^10, 1 MiB) used only with `unsafeFastKdfForTests`. Never for real profiles. */
export const TEST_SCRYPT_LOG_N = 10
/** Salt length for the passphrase KDF. */
export const SALT_BYTES = 16

// ---- Keys ----
/** Length of the random data key that encrypts the whole profile. */
export const DATA_KEY_BYTES = 32
/** AES-256-GCM nonce length (random per record). */
export const NONCE_BYTES = 12
/** AES-GCM tag length. */
export const TAG_BYTES = 16
/** Length of the HMAC-SHA-256 that names a record on disk. */
export const RECORD_NAME_BYTES = 32
/** HKDF-SHA-256 info: data key → the AES-256-GCM key for record values. */
export const INFO_RECORD_KEY = 'parley/store/v1/record-aead'
/** HKDF-SHA-256 info: data key → the HMAC-SHA-256 key that names records (hides logical keys). */
export const INFO_NAME_KEY = 'parley/store/v1/record-name'
/** Associated-data label binding the wrapped data key to the header's version, KDF parameters and salt. */
export const HEADER_AD_LABEL = 'parley/store/v1/header'

// ---- Limits ----
/** Longest logical key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024
/** Largest value, in bytes. Bigger blobs (attachments) belong in their own files, chunked. */
export const MAX_VALUE_BYTES = 8 * 1024 * 1024
/** Most operations in one batch. */
export const MAX_BATCH_OPERATIONS = 10_000
/** Most value bytes in one batch (all puts together). */
export const MAX_BATCH_BYTES = 64 * 1024 * 1024
/**
 * Record names (HMACs of namespace and logical key) an open profile keeps in memory, least recently used first out,
 * so a key read or written again skips the HMAC. Worst case ~2.3 KiB per entry (a 1 KiB key as UTF-16 plus the
 * name), ~10 MiB in all; typical keys of a few dozen characters take well under 1 MiB. Names only, never values.
 */
export const MAX_CACHED_RECORD_NAMES = 4096
/** Namespaces are visible on disk: short lowercase category names only (`history`, `sessions`, …). */
export const NAMESPACE_PATTERN = /^[a-z][a-z0-9-]{0,31}$/
/**
 * Records encrypted under one data key before random 96-bit nonces risk a collision above 2^-32 (NIST SP 800-38D).
 * Not enforced (no counter survives a power cut cheaply); documented so a re-key can be planned long before.
 */
export const MAX_RECORDS_PER_DATA_KEY = 2 ** 32

// ---- Passphrase ----
/** Environment variable read by `resolvePassphrase` in Node when the caller names none. */
export const DEFAULT_PASSPHRASE_ENV = 'PARLEY_PASSPHRASE'
/** Largest passphrase file read, so a wrong path (a log, a device) is refused instead of read whole. */
export const MAX_PASSPHRASE_FILE_BYTES = 64 * 1024
