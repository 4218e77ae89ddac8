/**
 * The primitives @parley/crypto builds on. One interface, three implementations:
 * - `node`: node:crypto (OpenSSL), the default in Node.js;
 * - `webcrypto`: the browser's SubtleCrypto, with @noble only for what browsers lack (ML-KEM);
 * - `noble`: pure JavaScript (@noble/*), a reference and a fallback, never preferred where a native one exists.
 *
 * Keys cross this interface as raw bytes so that state serialises the same on every backend. All-zero X25519
 * outputs (a low-order or zero public key) are refused by every backend with the same typed error.
 */

/** A key pair as raw bytes. X25519 and Ed25519 secrets are 32-byte seeds; ML-KEM-1024 secrets are the 64-byte seed (d || z). */
export interface RawKeyPair {
  readonly secretKey: Uint8Array
  readonly publicKey: Uint8Array
}

/** The result of ML-KEM encapsulation. */
export interface Encapsulation {
  readonly ciphertext: Uint8Array
  readonly sharedSecret: Uint8Array
}

export type BackendName = 'node' | 'webcrypto' | 'noble'

/** The primitive operations, all asynchronous so WebCrypto fits; `randomBytes` is synchronous everywhere. */
export interface CryptoBackend {
  readonly name: BackendName
  /** Cryptographically secure random bytes. */
  randomBytes(length: number): Uint8Array
  sha256(data: Uint8Array): Promise<Uint8Array>
  sha512(data: Uint8Array): Promise<Uint8Array>
  hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array>
  /** HMAC-SHA-512: one call yields the two 32-byte outputs of a symmetric-ratchet step. */
  hmacSha512(key: Uint8Array, data: Uint8Array): Promise<Uint8Array>
  /** RFC 5869 HKDF-SHA-256; `length` at most 255 × 32. */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array>
  /** AES-256-GCM with a 12-byte nonce; returns ciphertext || 16-byte tag. */
  aesGcmEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>
  /** Inverse of aesGcmEncrypt; throws AeadError when the tag does not verify. */
  aesGcmDecrypt(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>
  /** A fresh X25519 key pair, or the one for a given 32-byte secret (clamped as RFC 7748 says). */
  x25519KeyPair(secretKey?: Uint8Array): Promise<RawKeyPair>
  /** X25519(secret, public); throws InvalidKeyError when the result is all zero (non-contributory). */
  x25519(secretKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array>
  /** A fresh Ed25519 key pair, or the one for a given 32-byte seed. */
  ed25519KeyPair(seed?: Uint8Array): Promise<RawKeyPair>
  ed25519Sign(secretKey: Uint8Array, message: Uint8Array): Promise<Uint8Array>
  /** Strict RFC 8032 verification (no ZIP-215 leniency); false on any bad input, never throws. */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>
  /** A fresh ML-KEM-1024 key pair, or the one for a 64-byte seed (d || z, FIPS 203). */
  mlKem1024KeyPair(seed?: Uint8Array): Promise<RawKeyPair>
  /** Throws InvalidKeyError when the public key fails FIPS 203's modulus check. */
  mlKem1024Encapsulate(publicKey: Uint8Array): Promise<Encapsulation>
  /** Implicit rejection as FIPS 203 says: a bad ciphertext of the right length yields a pseudorandom secret. */
  mlKem1024Decapsulate(secretKey: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>
}

export const X25519_KEY_BYTES = 32
export const ED25519_KEY_BYTES = 32
export const ED25519_SIGNATURE_BYTES = 64
export const MLKEM1024_PUBLIC_KEY_BYTES = 1568
export const MLKEM1024_SEED_BYTES = 64
export const MLKEM1024_CIPHERTEXT_BYTES = 1568
export const AES_KEY_BYTES = 32
export const GCM_NONCE_BYTES = 12
export const GCM_TAG_BYTES = 16
/** RFC 5869: HKDF-SHA-256 output is at most 255 blocks of 32 bytes. */
export const HKDF_SHA256_MAX_BYTES = 255 * 32
/** crypto.getRandomValues refuses more than 65536 bytes per call. */
export const MAX_RANDOM_CHUNK = 65_536
