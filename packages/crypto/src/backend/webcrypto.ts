/**
 * WebCrypto backend (`globalThis.crypto.subtle`), the default in browsers; it runs on Node's WebCrypto too, which is
 * how it is tested there. ML-KEM-1024 comes from WebCrypto where the runtime has it and from @noble/post-quantum
 * elsewhere (browsers differ, and so do builds of one browser): support is probed once with a full round trip.
 *
 * Secret keys enter WebCrypto as PKCS#8 (X25519, Ed25519) or `raw-seed` (ML-KEM) imports. An import costs more than
 * the operation, so each imported CryptoKey is cached per byte array, as the node backend caches KeyObjects.
 */
import { withArrayBuffer as buf, fromString } from 'uint8arrays'
import { equalBytes } from '../codec.ts'
import { AeadError, InvalidKeyError, InvalidParameterError } from '../errors.ts'
import { KeyCache } from './keycache.ts'
import { nobleMlKem1024 } from './noble.ts'
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

// PKCS#8 PrivateKeyInfo for a 32-byte X25519 / Ed25519 key (RFC 8410): a fixed 16-byte header, then the key.
// WebCrypto has no raw import for private keys of these curves.
const X25519_PKCS8_HEADER = Uint8Array.of(0x30, 0x2e, 2, 1, 0, 0x30, 5, 6, 3, 0x2b, 0x65, 0x6e, 4, 0x22, 4, 0x20)
const ED25519_PKCS8_HEADER = Uint8Array.of(0x30, 0x2e, 2, 1, 0, 0x30, 5, 6, 3, 0x2b, 0x65, 0x70, 4, 0x22, 4, 0x20)

const HMAC_SHA256 = { name: 'HMAC', hash: 'SHA-256' } as const
const HMAC_SHA512 = { name: 'HMAC', hash: 'SHA-512' } as const
const X25519 = { name: 'X25519' } as const
const ED25519 = { name: 'Ed25519' } as const
const ML_KEM_1024 = { name: 'ML-KEM-1024' } as const

/** The parts of the WICG "Modern Algorithms in WebCrypto" draft we use; not yet in TypeScript's DOM library. */
interface KemSubtle {
  importKey(
    format: 'raw-seed' | 'raw-public',
    keyData: BufferSource,
    algorithm: Algorithm,
    extractable: boolean,
    keyUsages: string[]
  ): Promise<CryptoKey>
  exportKey(format: 'jwk', key: CryptoKey): Promise<JsonWebKey & { pub?: string }>
  encapsulateBits?(algorithm: Algorithm, key: CryptoKey): Promise<{ ciphertext: ArrayBuffer; sharedKey: ArrayBuffer }>
  decapsulateBits?(algorithm: Algorithm, key: CryptoKey, ciphertext: BufferSource): Promise<ArrayBuffer>
}

function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i += MAX_RANDOM_CHUNK) {
    globalThis.crypto.getRandomValues(out.subarray(i, Math.min(length, i + MAX_RANDOM_CHUNK)))
  }
  return out
}

function subtle(): SubtleCrypto {
  return globalThis.crypto.subtle
}

function fromBase64Url(text: string | undefined): Uint8Array {
  if (text === undefined) throw new TypeError('JWK export lacks the public key')
  return fromString(text, 'base64url')
}

async function importPkcs8(
  header: Uint8Array,
  raw: Uint8Array,
  algorithm: Algorithm,
  extractable: boolean,
  usages: KeyUsage[]
): Promise<CryptoKey> {
  const der = new Uint8Array(header.length + raw.length)
  der.set(header, 0)
  der.set(raw, header.length)
  try {
    return await subtle().importKey('pkcs8', der, algorithm, extractable, usages)
  } finally {
    der.fill(0)
  }
}

const hmacSha256Keys = new KeyCache<CryptoKey>()
const hmacSha512Keys = new KeyCache<CryptoKey>()
const hkdfKeys = new KeyCache<CryptoKey>()
const aesKeys = new KeyCache<CryptoKey>()
const x25519Private = new KeyCache<CryptoKey>()
const x25519Public = new KeyCache<CryptoKey>()
const ed25519Private = new KeyCache<CryptoKey>()
const ed25519Public = new KeyCache<CryptoKey>()
const mlKemPrivate = new KeyCache<CryptoKey>()
const mlKemPublic = new KeyCache<CryptoKey>()

async function hmacKey(cache: KeyCache<CryptoKey>, algorithm: HmacImportParams, raw: Uint8Array): Promise<CryptoKey> {
  const cached = cache.get(raw)
  if (cached !== undefined) return cached
  // WebCrypto refuses an empty HMAC key. HMAC pads a short key with zeros to the block size, so the empty key
  // and the one-byte key 0x00 are the same key (RFC 2104, section 2).
  const material = raw.length === 0 ? new Uint8Array(1) : buf(raw)
  return cache.set(raw, await subtle().importKey('raw', material, algorithm, false, ['sign']))
}

async function hkdfKey(raw: Uint8Array): Promise<CryptoKey> {
  return (
    hkdfKeys.get(raw) ?? hkdfKeys.set(raw, await subtle().importKey('raw', buf(raw), 'HKDF', false, ['deriveBits']))
  )
}

async function aesKey(raw: Uint8Array): Promise<CryptoKey> {
  return (
    aesKeys.get(raw) ??
    aesKeys.set(raw, await subtle().importKey('raw', buf(raw), 'AES-GCM', false, ['encrypt', 'decrypt']))
  )
}

/** Imports a secret key (extractable, so its JWK yields the public key) and returns the raw public key. */
async function curvePair(
  cache: KeyCache<CryptoKey>,
  header: Uint8Array,
  algorithm: Algorithm,
  usages: KeyUsage[],
  secretKey: Uint8Array
): Promise<RawKeyPair> {
  const key = await importPkcs8(header, secretKey, algorithm, true, usages)
  cache.set(secretKey, key)
  const jwk = await subtle().exportKey('jwk', key)
  return { secretKey, publicKey: fromBase64Url(jwk.x) }
}

async function x25519PrivateKey(raw: Uint8Array): Promise<CryptoKey> {
  return (
    x25519Private.get(raw) ??
    x25519Private.set(raw, await importPkcs8(X25519_PKCS8_HEADER, raw, X25519, false, ['deriveBits']))
  )
}

async function x25519PublicKey(raw: Uint8Array): Promise<CryptoKey> {
  return x25519Public.get(raw) ?? x25519Public.set(raw, await subtle().importKey('raw', buf(raw), X25519, false, []))
}

async function ed25519PrivateKey(raw: Uint8Array): Promise<CryptoKey> {
  return (
    ed25519Private.get(raw) ??
    ed25519Private.set(raw, await importPkcs8(ED25519_PKCS8_HEADER, raw, ED25519, false, ['sign']))
  )
}

async function ed25519PublicKey(raw: Uint8Array): Promise<CryptoKey> {
  return (
    ed25519Public.get(raw) ??
    ed25519Public.set(raw, await subtle().importKey('raw', buf(raw), ED25519, false, ['verify']))
  )
}

/** The ML-KEM-1024 operations on one SubtleCrypto; callers check lengths first. */
interface MlKemOps {
  keyPair(seed: Uint8Array): Promise<RawKeyPair>
  encapsulate(publicKey: Uint8Array): Promise<Encapsulation>
  decapsulate(seed: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>
}

/** ML-KEM-1024 on WebCrypto (`s` is the runtime's SubtleCrypto or a view of it, so cached CryptoKeys fit it). */
function webCryptoMlKem1024(s: KemSubtle): MlKemOps {
  return {
    async keyPair(seed) {
      const key = await s.importKey('raw-seed', buf(seed), ML_KEM_1024, true, ['decapsulateBits'])
      mlKemPrivate.set(seed, key)
      const jwk = await s.exportKey('jwk', key)
      return { secretKey: seed, publicKey: fromBase64Url(jwk.pub) }
    },
    async encapsulate(publicKey) {
      let key = mlKemPublic.get(publicKey)
      if (key === undefined) {
        try {
          // Import runs FIPS 203's modulus check (section 7.2) and refuses a key that fails it.
          key = await s.importKey('raw-public', buf(publicKey), ML_KEM_1024, false, ['encapsulateBits'])
        } catch {
          throw new InvalidKeyError('ml-kem-1024 public key', 'coefficient not reduced modulo q')
        }
        mlKemPublic.set(publicKey, key)
      }
      const r = await s.encapsulateBits!(ML_KEM_1024, key)
      return { ciphertext: new Uint8Array(r.ciphertext), sharedSecret: new Uint8Array(r.sharedKey) }
    },
    async decapsulate(seed, ciphertext) {
      const key =
        mlKemPrivate.get(seed) ??
        mlKemPrivate.set(seed, await s.importKey('raw-seed', buf(seed), ML_KEM_1024, false, ['decapsulateBits']))
      return new Uint8Array(await s.decapsulateBits!(ML_KEM_1024, key, buf(ciphertext)))
    }
  }
}

/** One probe per SubtleCrypto object (the runtime's, or one a test injected). */
const mlKemProbes = new WeakMap<object, Promise<boolean>>()

/**
 * Whether a WebCrypto (by default this runtime's) does ML-KEM-1024. Browsers differ: Chromium has it from some
 * version on, older builds and other browsers lack it, and a runtime may expose the methods without the algorithm.
 * So only a full key generation, encapsulation and decapsulation that agree counts; anything else (missing methods,
 * NotSupportedError, wrong sizes, disagreeing secrets) is "no". Probed once per SubtleCrypto.
 */
export function webCryptoHasMlKem1024(subtleCrypto: SubtleCrypto = subtle()): Promise<boolean> {
  let probe = mlKemProbes.get(subtleCrypto)
  if (probe === undefined) {
    probe = probeMlKem1024(subtleCrypto as unknown as KemSubtle)
    mlKemProbes.set(subtleCrypto, probe)
  }
  return probe
}

async function probeMlKem1024(s: KemSubtle): Promise<boolean> {
  if (typeof s.encapsulateBits !== 'function' || typeof s.decapsulateBits !== 'function') return false
  try {
    const kem = webCryptoMlKem1024(s)
    const seed = new Uint8Array(MLKEM1024_SEED_BYTES).fill(0x5a)
    const { publicKey } = await kem.keyPair(seed)
    const { ciphertext, sharedSecret } = await kem.encapsulate(publicKey)
    const decapsulated = await kem.decapsulate(seed, ciphertext)
    return (
      publicKey.length === MLKEM1024_PUBLIC_KEY_BYTES &&
      ciphertext.length === MLKEM1024_CIPHERTEXT_BYTES &&
      sharedSecret.length === 32 &&
      equalBytes(sharedSecret, decapsulated)
    )
  } catch {
    return false
  }
}

/** Options of {@link createWebCryptoBackend}. */
export interface WebCryptoBackendOptions {
  /**
   * Where ML-KEM-1024 comes from: `'auto'` (default) uses WebCrypto when the runtime has it and @noble/post-quantum
   * otherwise; `'noble'` always uses @noble/post-quantum (to test that path, or where WebCrypto's is experimental).
   */
  readonly mlKem?: 'auto' | 'noble'
  /**
   * The SubtleCrypto whose ML-KEM-1024 is probed and used (default: `globalThis.crypto.subtle`); every other primitive
   * uses the runtime's own. It must be the runtime's SubtleCrypto or a view of it (imported keys are cached across
   * backends). Tests pass a view that hides ML-KEM, to run the fallback exactly as a browser without it does.
   */
  readonly subtle?: SubtleCrypto
}

/** A WebCrypto backend; {@link webCryptoBackend} is the one to use, this exists to choose the ML-KEM source. */
export function createWebCryptoBackend(options: WebCryptoBackendOptions = {}): CryptoBackend {
  const forceNoble = options.mlKem === 'noble'
  const kemSubtleCrypto = options.subtle ?? subtle()
  const webKem = webCryptoMlKem1024(kemSubtleCrypto as unknown as KemSubtle)
  const useWebCryptoKem = async (): Promise<boolean> => !forceNoble && (await webCryptoHasMlKem1024(kemSubtleCrypto))

  return {
    name: 'webcrypto',
    randomBytes,
    async sha256(data) {
      return new Uint8Array(await subtle().digest('SHA-256', buf(data)))
    },
    async sha512(data) {
      return new Uint8Array(await subtle().digest('SHA-512', buf(data)))
    },
    async hmacSha256(key, data) {
      return new Uint8Array(await subtle().sign('HMAC', await hmacKey(hmacSha256Keys, HMAC_SHA256, key), buf(data)))
    },
    async hmacSha512(key, data) {
      return new Uint8Array(await subtle().sign('HMAC', await hmacKey(hmacSha512Keys, HMAC_SHA512, key), buf(data)))
    },
    async hkdfSha256(ikm, salt, info, length) {
      if (!Number.isSafeInteger(length) || length < 0 || length > HKDF_SHA256_MAX_BYTES) {
        throw new InvalidParameterError('length', `an integer from 0 to ${HKDF_SHA256_MAX_BYTES}`)
      }
      const params = { name: 'HKDF', hash: 'SHA-256', salt: buf(salt), info: buf(info) }
      return new Uint8Array(await subtle().deriveBits(params, await hkdfKey(ikm), length * 8))
    },
    async aesGcmEncrypt(key, nonce, plaintext, aad) {
      expectBytes('key', key, AES_KEY_BYTES)
      expectBytes('nonce', nonce, GCM_NONCE_BYTES)
      const params = { name: 'AES-GCM', iv: buf(nonce), additionalData: buf(aad), tagLength: GCM_TAG_BYTES * 8 }
      return new Uint8Array(await subtle().encrypt(params, await aesKey(key), buf(plaintext)))
    },
    async aesGcmDecrypt(key, nonce, ciphertext, aad) {
      expectBytes('key', key, AES_KEY_BYTES)
      expectBytes('nonce', nonce, GCM_NONCE_BYTES)
      if (ciphertext.length < GCM_TAG_BYTES) throw new AeadError()
      const params = { name: 'AES-GCM', iv: buf(nonce), additionalData: buf(aad), tagLength: GCM_TAG_BYTES * 8 }
      const cryptoKey = await aesKey(key)
      try {
        return new Uint8Array(await subtle().decrypt(params, cryptoKey, buf(ciphertext)))
      } catch {
        throw new AeadError()
      }
    },
    async x25519KeyPair(secret) {
      if (secret === undefined) secret = randomBytes(X25519_KEY_BYTES)
      else expectBytes('secretKey', secret, X25519_KEY_BYTES)
      return curvePair(x25519Private, X25519_PKCS8_HEADER, X25519, ['deriveBits'], secret)
    },
    async x25519(secret, pub) {
      expectBytes('secretKey', secret, X25519_KEY_BYTES)
      expectBytes('publicKey', pub, X25519_KEY_BYTES)
      const privateKey = await x25519PrivateKey(secret)
      const publicKey = await x25519PublicKey(pub)
      let shared: ArrayBuffer
      try {
        shared = await subtle().deriveBits({ name: 'X25519', public: publicKey }, privateKey, 256)
      } catch {
        // WebCrypto refuses an all-zero result itself (OperationError); report it as the other backends do.
        throw new InvalidKeyError('x25519 public key', 'low-order point (all-zero shared secret)')
      }
      return checkContributory(new Uint8Array(shared))
    },
    async ed25519KeyPair(seed) {
      if (seed === undefined) seed = randomBytes(ED25519_KEY_BYTES)
      else expectBytes('seed', seed, ED25519_KEY_BYTES)
      return curvePair(ed25519Private, ED25519_PKCS8_HEADER, ED25519, ['sign'], seed)
    },
    async ed25519Sign(secret, message) {
      expectBytes('secretKey', secret, ED25519_KEY_BYTES)
      return new Uint8Array(await subtle().sign(ED25519, await ed25519PrivateKey(secret), buf(message)))
    },
    async ed25519Verify(pub, message, signature) {
      if (!(pub instanceof Uint8Array) || pub.length !== ED25519_KEY_BYTES) return false
      if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false
      if (!(message instanceof Uint8Array)) return false
      try {
        return await subtle().verify(ED25519, await ed25519PublicKey(pub), buf(signature), buf(message))
      } catch {
        // An import may refuse a public key that is not a point; that is a failed verification, not an error.
        return false
      }
    },
    async mlKem1024KeyPair(seed) {
      if (seed === undefined) seed = randomBytes(MLKEM1024_SEED_BYTES)
      else expectBytes('seed', seed, MLKEM1024_SEED_BYTES)
      return (await useWebCryptoKem()) ? webKem.keyPair(seed) : nobleMlKem1024.keyPair(seed)
    },
    async mlKem1024Encapsulate(pub) {
      expectBytes('publicKey', pub, MLKEM1024_PUBLIC_KEY_BYTES)
      return (await useWebCryptoKem()) ? webKem.encapsulate(pub) : nobleMlKem1024.encapsulate(pub)
    },
    async mlKem1024Decapsulate(secret, ciphertext) {
      expectBytes('secretKey', secret, MLKEM1024_SEED_BYTES)
      expectBytes('ciphertext', ciphertext, MLKEM1024_CIPHERTEXT_BYTES)
      return (await useWebCryptoKem())
        ? webKem.decapsulate(secret, ciphertext)
        : nobleMlKem1024.decapsulate(secret, ciphertext)
    }
  }
}

/** The WebCrypto backend. */
export const webCryptoBackend: CryptoBackend = createWebCryptoBackend()
