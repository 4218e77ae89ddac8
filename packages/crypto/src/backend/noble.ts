/**
 * Pure-JavaScript backend on @noble/*: the reference the native backends are checked against, and the fallback
 * where a runtime has neither node:crypto nor the WebCrypto algorithm. Never preferred where a native one exists.
 */
import { gcm } from '@noble/ciphers/aes.js'
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { ml_kem1024 } from '@noble/post-quantum/ml-kem.js'
import { AeadError, InvalidKeyError, InvalidParameterError } from '../errors.ts'
import { KeyCache } from './keycache.ts'
import {
  AES_KEY_BYTES,
  type CryptoBackend,
  ED25519_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  type Encapsulation,
  GCM_NONCE_BYTES,
  GCM_TAG_BYTES,
  HKDF_SHA256_MAX_BYTES,
  MAX_RANDOM_CHUNK,
  MLKEM1024_CIPHERTEXT_BYTES,
  MLKEM1024_PUBLIC_KEY_BYTES,
  MLKEM1024_SEED_BYTES,
  type RawKeyPair,
  X25519_KEY_BYTES
} from './types.ts'
import { checkContributory, expectBytes } from './util.ts'

// Expanding a seed into the 3168-byte decapsulation key is a whole key generation: do it once per seed.
const expandedKeys = new KeyCache<Uint8Array>()

function expandedSecretKey(seed: Uint8Array): Uint8Array {
  return expandedKeys.get(seed) ?? expandedKeys.set(seed, ml_kem1024.keygen(seed).secretKey)
}

/**
 * ML-KEM-1024 on @noble/post-quantum, shared by the noble backend and by the WebCrypto backend where the browser
 * has no ML-KEM. Secrets are the 64-byte seed (d || z); the expanded key never leaves this module.
 */
export const nobleMlKem1024 = {
  keyPair(seed?: Uint8Array): RawKeyPair {
    if (seed === undefined) seed = randomBytes(MLKEM1024_SEED_BYTES)
    else expectBytes('seed', seed, MLKEM1024_SEED_BYTES)
    const { publicKey, secretKey } = ml_kem1024.keygen(seed)
    expandedKeys.set(seed, secretKey)
    return { secretKey: seed, publicKey }
  },
  encapsulate(publicKey: Uint8Array): Encapsulation {
    expectBytes('publicKey', publicKey, MLKEM1024_PUBLIC_KEY_BYTES)
    let r: { cipherText: Uint8Array; sharedSecret: Uint8Array }
    try {
      r = ml_kem1024.encapsulate(publicKey)
    } catch {
      // The length is already checked, so the only refusal left is FIPS 203's modulus check.
      throw new InvalidKeyError('ml-kem-1024 public key', 'coefficient not reduced modulo q')
    }
    return { ciphertext: r.cipherText, sharedSecret: r.sharedSecret }
  },
  decapsulate(seed: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    expectBytes('secretKey', seed, MLKEM1024_SEED_BYTES)
    expectBytes('ciphertext', ciphertext, MLKEM1024_CIPHERTEXT_BYTES)
    return ml_kem1024.decapsulate(ciphertext, expandedSecretKey(seed))
  }
}

/** The pure-JavaScript backend. */
export const nobleBackend: CryptoBackend = {
  name: 'noble',
  randomBytes(length) {
    // noble's randomBytes, like crypto.getRandomValues under it, refuses more than 65536 bytes a call.
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i += MAX_RANDOM_CHUNK) out.set(randomBytes(Math.min(MAX_RANDOM_CHUNK, length - i)), i)
    return out
  },
  async sha256(data) {
    return sha256(data)
  },
  async sha512(data) {
    return sha512(data)
  },
  async hmacSha256(key, data) {
    return hmac(sha256, key, data)
  },
  async hmacSha512(key, data) {
    return hmac(sha512, key, data)
  },
  async hkdfSha256(ikm, salt, info, length) {
    if (!Number.isSafeInteger(length) || length < 0 || length > HKDF_SHA256_MAX_BYTES) {
      throw new InvalidParameterError('length', `an integer from 0 to ${HKDF_SHA256_MAX_BYTES}`)
    }
    return hkdf(sha256, ikm, salt, info, length)
  },
  async aesGcmEncrypt(key, nonce, plaintext, aad) {
    expectBytes('key', key, AES_KEY_BYTES)
    expectBytes('nonce', nonce, GCM_NONCE_BYTES)
    return gcm(key, nonce, aad).encrypt(plaintext)
  },
  async aesGcmDecrypt(key, nonce, ciphertext, aad) {
    expectBytes('key', key, AES_KEY_BYTES)
    expectBytes('nonce', nonce, GCM_NONCE_BYTES)
    if (ciphertext.length < GCM_TAG_BYTES) throw new AeadError()
    try {
      return gcm(key, nonce, aad).decrypt(ciphertext)
    } catch {
      throw new AeadError()
    }
  },
  async x25519KeyPair(secret) {
    if (secret === undefined) secret = randomBytes(X25519_KEY_BYTES)
    else expectBytes('secretKey', secret, X25519_KEY_BYTES)
    return { secretKey: secret, publicKey: x25519.getPublicKey(secret) }
  },
  async x25519(secret, pub) {
    expectBytes('secretKey', secret, X25519_KEY_BYTES)
    expectBytes('publicKey', pub, X25519_KEY_BYTES)
    let shared: Uint8Array
    try {
      shared = x25519.getSharedSecret(secret, pub)
    } catch {
      // noble refuses the low-order points (whose result would be all zero) before running the ladder.
      throw new InvalidKeyError('x25519 public key', 'low-order point (all-zero shared secret)')
    }
    return checkContributory(shared)
  },
  async ed25519KeyPair(seed) {
    if (seed === undefined) seed = randomBytes(ED25519_KEY_BYTES)
    else expectBytes('seed', seed, ED25519_KEY_BYTES)
    return { secretKey: seed, publicKey: ed25519.getPublicKey(seed) }
  },
  async ed25519Sign(secret, message) {
    expectBytes('secretKey', secret, ED25519_KEY_BYTES)
    return ed25519.sign(message, secret)
  },
  async ed25519Verify(pub, message, signature) {
    if (!(pub instanceof Uint8Array) || pub.length !== ED25519_KEY_BYTES) return false
    if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false
    if (!(message instanceof Uint8Array)) return false
    try {
      // noble's default is ZIP-215 (consensus-style, accepts non-canonical encodings); we want RFC 8032 strict.
      return ed25519.verify(signature, message, pub, { zip215: false })
    } catch {
      return false
    }
  },
  async mlKem1024KeyPair(seed) {
    return nobleMlKem1024.keyPair(seed)
  },
  async mlKem1024Encapsulate(pub) {
    return nobleMlKem1024.encapsulate(pub)
  },
  async mlKem1024Decapsulate(secret, ciphertext) {
    return nobleMlKem1024.decapsulate(secret, ciphertext)
  }
}
