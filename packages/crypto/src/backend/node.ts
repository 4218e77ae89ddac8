/**
 * node:crypto backend (OpenSSL 3.5 in Node 24). Secret keys are wrapped in KeyObjects once and cached per byte
 * array: OpenSSL re-imports a raw key on every call otherwise, which costs three times the operation itself.
 */
import crypto, { type KeyObject } from 'node:crypto'
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
  MLKEM1024_CIPHERTEXT_BYTES,
  MLKEM1024_PUBLIC_KEY_BYTES,
  MLKEM1024_SEED_BYTES,
  type RawKeyPair,
  X25519_KEY_BYTES
} from './types.ts'
import { checkContributory, expectBytes } from './util.ts'

type AsymType = 'x25519' | 'ed25519' | 'ml-kem-1024'

// KeyCache, not a bare WeakMap: an array overwritten with another key must not get the old key's KeyObject.
// One cache per key type: asking a KeyObject for its type on every hit costs more than the lookup itself.
const privateCaches: Record<AsymType, KeyCache<KeyObject>> = {
  x25519: new KeyCache(),
  ed25519: new KeyCache(),
  'ml-kem-1024': new KeyCache()
}
const publicCaches: Record<AsymType, KeyCache<KeyObject>> = {
  x25519: new KeyCache(),
  ed25519: new KeyCache(),
  'ml-kem-1024': new KeyCache()
}

function u8(b: Buffer | string): Uint8Array {
  if (typeof b === 'string') throw new TypeError('expected bytes')
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

function privateKey(type: AsymType, raw: Uint8Array): KeyObject {
  let key = privateCaches[type].get(raw)
  if (key === undefined) {
    const format = type === 'ml-kem-1024' ? 'raw-seed' : 'raw-private'
    key = crypto.createPrivateKey({ key: raw, format, asymmetricKeyType: type } as unknown as crypto.PrivateKeyInput)
    privateCaches[type].set(raw, key)
  }
  return key
}

function publicKey(type: AsymType, raw: Uint8Array): KeyObject {
  let key = publicCaches[type].get(raw)
  if (key === undefined) {
    try {
      key = crypto.createPublicKey({
        key: raw,
        format: 'raw-public',
        asymmetricKeyType: type
      } as unknown as crypto.PublicKeyInput)
    } catch {
      throw new InvalidKeyError(`${type} public key`, 'not a valid encoding')
    }
    publicCaches[type].set(raw, key)
  }
  return key
}

function exportPair(type: AsymType, pair: { privateKey: KeyObject; publicKey: KeyObject }): RawKeyPair {
  const secretKey = u8(pair.privateKey.export({ format: type === 'ml-kem-1024' ? 'raw-seed' : 'raw-private' } as never))
  const pub = u8(pair.publicKey.export({ format: 'raw-public' } as never))
  privateCaches[type].set(secretKey, pair.privateKey)
  publicCaches[type].set(pub, pair.publicKey)
  return { secretKey, publicKey: pub }
}

function pairFromSecret(type: AsymType, secretKey: Uint8Array): RawKeyPair {
  const priv = privateKey(type, secretKey)
  const pub = u8(crypto.createPublicKey(priv).export({ format: 'raw-public' } as never))
  return { secretKey, publicKey: pub }
}

// Most symmetric keys are used once (message keys, chain keys); header and root keys are used again. Caching a
// KeyObject costs a copy of the key and a map entry, so a key is cached only from its second use on.
const secretCache = new KeyCache<KeyObject>()
const seenOnce = new WeakSet<Uint8Array>()
function secretKey(raw: Uint8Array): KeyObject {
  const cached = secretCache.get(raw)
  if (cached !== undefined) return cached
  const key = crypto.createSecretKey(raw)
  if (seenOnce.has(raw)) secretCache.set(raw, key)
  else seenOnce.add(raw)
  return key
}

// randomBytes(n) for small n pays a native call each time; drawing from a 4 KiB pool costs a copy instead.
const RANDOM_POOL_BYTES = 4096
let randomPool: Uint8Array = new Uint8Array(0)
let randomOffset = 0

function pooledRandom(length: number): Uint8Array {
  if (length > 256) return u8(crypto.randomBytes(length))
  if (randomOffset + length > randomPool.length) {
    randomPool = u8(crypto.randomBytes(RANDOM_POOL_BYTES))
    randomOffset = 0
  }
  const out = randomPool.slice(randomOffset, randomOffset + length)
  // Bytes handed out are wiped from the pool so no later reader of the pool sees them.
  randomPool.fill(0, randomOffset, randomOffset + length)
  randomOffset += length
  return out
}

/** The node:crypto backend. */
export const nodeBackend: CryptoBackend = {
  name: 'node',
  randomBytes(length) {
    return pooledRandom(length)
  },
  async sha256(data) {
    return u8(crypto.hash('sha256', data, 'buffer'))
  },
  async sha512(data) {
    return u8(crypto.hash('sha512', data, 'buffer'))
  },
  async hmacSha256(key, data) {
    return u8(crypto.createHmac('sha256', secretKey(key)).update(data).digest())
  },
  async hmacSha512(key, data) {
    return u8(crypto.createHmac('sha512', secretKey(key)).update(data).digest())
  },
  async hkdfSha256(ikm, salt, info, length) {
    if (!Number.isInteger(length) || length < 0 || length > HKDF_SHA256_MAX_BYTES)
      throw new InvalidParameterError('length', `0..${HKDF_SHA256_MAX_BYTES}`)
    if (length === 0) return new Uint8Array(0)
    return new Uint8Array(crypto.hkdfSync('sha256', secretKey(ikm), salt, info, length))
  },
  async aesGcmEncrypt(key, nonce, plaintext, aad) {
    expectBytes('key', key, AES_KEY_BYTES)
    expectBytes('nonce', nonce, GCM_NONCE_BYTES)
    const c = crypto.createCipheriv('aes-256-gcm', secretKey(key), nonce, { authTagLength: GCM_TAG_BYTES })
    c.setAAD(aad)
    const out = new Uint8Array(plaintext.length + GCM_TAG_BYTES)
    const body = c.update(plaintext)
    out.set(body, 0)
    const fin = c.final()
    out.set(fin, body.length)
    out.set(c.getAuthTag(), plaintext.length)
    return out
  },
  async aesGcmDecrypt(key, nonce, ciphertext, aad) {
    expectBytes('key', key, AES_KEY_BYTES)
    expectBytes('nonce', nonce, GCM_NONCE_BYTES)
    if (ciphertext.length < GCM_TAG_BYTES) throw new AeadError()
    const split = ciphertext.length - GCM_TAG_BYTES
    const d = crypto.createDecipheriv('aes-256-gcm', secretKey(key), nonce, { authTagLength: GCM_TAG_BYTES })
    d.setAAD(aad)
    d.setAuthTag(ciphertext.subarray(split))
    const out = new Uint8Array(split)
    const body = d.update(ciphertext.subarray(0, split))
    out.set(body, 0)
    try {
      const fin = d.final()
      out.set(fin, body.length)
    } catch {
      out.fill(0)
      throw new AeadError()
    }
    return out
  },
  async x25519KeyPair(secret) {
    if (secret === undefined) return exportPair('x25519', crypto.generateKeyPairSync('x25519'))
    expectBytes('secretKey', secret, X25519_KEY_BYTES)
    return pairFromSecret('x25519', secret)
  },
  async x25519(secret, pub) {
    expectBytes('secretKey', secret, X25519_KEY_BYTES)
    expectBytes('publicKey', pub, X25519_KEY_BYTES)
    let shared: Buffer
    try {
      shared = crypto.diffieHellman({ privateKey: privateKey('x25519', secret), publicKey: publicKey('x25519', pub) })
    } catch {
      // OpenSSL refuses an all-zero result itself; report it as the same typed error as the other backends.
      throw new InvalidKeyError('x25519 public key', 'low-order point (all-zero shared secret)')
    }
    return checkContributory(u8(shared))
  },
  async ed25519KeyPair(seed) {
    if (seed === undefined) return exportPair('ed25519', crypto.generateKeyPairSync('ed25519'))
    expectBytes('seed', seed, ED25519_KEY_BYTES)
    return pairFromSecret('ed25519', seed)
  },
  async ed25519Sign(secret, message) {
    expectBytes('secretKey', secret, ED25519_KEY_BYTES)
    return u8(crypto.sign(null, message, privateKey('ed25519', secret)))
  },
  async ed25519Verify(pub, message, signature) {
    if (!(pub instanceof Uint8Array) || pub.length !== ED25519_KEY_BYTES) return false
    if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false
    try {
      return crypto.verify(null, message, publicKey('ed25519', pub), signature)
    } catch {
      return false
    }
  },
  async mlKem1024KeyPair(seed) {
    if (seed === undefined) return exportPair('ml-kem-1024', crypto.generateKeyPairSync('ml-kem-1024' as never))
    expectBytes('seed', seed, MLKEM1024_SEED_BYTES)
    return pairFromSecret('ml-kem-1024', seed)
  },
  async mlKem1024Encapsulate(pub): Promise<Encapsulation> {
    expectBytes('publicKey', pub, MLKEM1024_PUBLIC_KEY_BYTES)
    const r = (
      crypto as unknown as { encapsulate(k: KeyObject): { sharedKey: Buffer; ciphertext: Buffer } }
    ).encapsulate(publicKey('ml-kem-1024', pub))
    return { ciphertext: u8(r.ciphertext), sharedSecret: u8(r.sharedKey) }
  },
  async mlKem1024Decapsulate(secret, ciphertext) {
    expectBytes('secretKey', secret, MLKEM1024_SEED_BYTES)
    expectBytes('ciphertext', ciphertext, MLKEM1024_CIPHERTEXT_BYTES)
    const ss = (crypto as unknown as { decapsulate(k: KeyObject, c: Uint8Array): Buffer }).decapsulate(
      privateKey('ml-kem-1024', secret),
      ciphertext
    )
    return u8(ss)
  }
}
