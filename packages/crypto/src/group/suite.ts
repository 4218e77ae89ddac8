/**
 * The ciphersuite implementation and leaf capabilities every Parley group uses.
 *
 * ts-mls's default provider runs every HKDF step, AEAD call and Ed25519 operation through async WebCrypto with a key
 * import each time (about 80 µs per call in Node): a few dozen calls per message. Ours keeps ts-mls's KEM (X-Wing,
 * HPKE) and hash, and binds the hot primitives to audited code we already use: HKDF-SHA-512 from @noble/hashes
 * (synchronous), AES-256-GCM and Ed25519 from the Parley crypto backend (node:crypto in Node, WebCrypto in browsers).
 * `test/mls-vectors.node.test.ts` checks these bindings against the RFC 9420 vectors of a SHA-512 suite.
 */
import { expand, extract } from '@noble/hashes/hkdf.js'
import { sha512 } from '@noble/hashes/sha2.js'
import {
  type Capabilities,
  type CiphersuiteImpl,
  defaultCapabilities,
  getCiphersuiteFromName,
  getCiphersuiteImpl
} from 'ts-mls'
import type { CryptoBackend } from '../backend/types.ts'
import { GROUP_CIPHERSUITE, GROUP_METADATA_EXTENSION } from './constants.ts'

const EMPTY = new Uint8Array(0)
/** PKCS#8 wrapping of an Ed25519 seed (ts-mls's WebCrypto keygen stores signing keys this way): 16 bytes, then it. */
const PKCS8_ED25519_BYTES = 48

/** HKDF-SHA-512 (RFC 5869) as ts-mls's Kdf, synchronous underneath. */
export const hkdfSha512 = {
  async extract(salt: Uint8Array, ikm: Uint8Array): Promise<Uint8Array> {
    return extract(sha512, ikm, salt)
  },
  async expand(prk: Uint8Array, info: Uint8Array, len: number): Promise<Uint8Array> {
    return expand(sha512, prk, info, len)
  },
  size: 64
}

function seedOf(signKey: Uint8Array): Uint8Array {
  return signKey.length === PKCS8_ED25519_BYTES ? signKey.subarray(16) : signKey
}

const suites = new WeakMap<CryptoBackend, Promise<CiphersuiteImpl>>()
let plain: Promise<CiphersuiteImpl> | undefined

/** ts-mls's own implementation of our ciphersuite (made once per process). */
export function defaultGroupSuite(): Promise<CiphersuiteImpl> {
  plain ??= getCiphersuiteImpl(getCiphersuiteFromName(GROUP_CIPHERSUITE))
  return plain
}

/** Our ciphersuite with the hot primitives bound to `backend` (made once per backend). */
export function groupSuite(backend: CryptoBackend): Promise<CiphersuiteImpl> {
  let s = suites.get(backend)
  if (s === undefined) {
    s = defaultGroupSuite().then((d) => ({
      ...d,
      kdf: hkdfSha512,
      signature: {
        sign: (signKey, message) => backend.ed25519Sign(seedOf(signKey), message),
        verify: async (publicKey, message, signature) => {
          if (publicKey.length !== 32 || signature.length !== 64) return false
          try {
            return await backend.ed25519Verify(publicKey, message, signature)
          } catch {
            return false
          }
        },
        keygen: async () => {
          const pair = await backend.ed25519KeyPair()
          return { publicKey: pair.publicKey, signKey: pair.secretKey }
        }
      },
      hpke: {
        ...d.hpke,
        encryptAead: (key, nonce, aad, plaintext) => backend.aesGcmEncrypt(key, nonce, plaintext, aad ?? EMPTY),
        decryptAead: (key, nonce, aad, ciphertext) => backend.aesGcmDecrypt(key, nonce, ciphertext, aad ?? EMPTY)
      }
    }))
    suites.set(backend, s)
  }
  return s
}

/** Leaf capabilities: our ciphersuite only, and the Parley metadata extension (so a commit may carry it). */
export function parleyCapabilities(): Capabilities {
  const d = defaultCapabilities()
  return {
    ...d,
    ciphersuites: [GROUP_CIPHERSUITE],
    extensions: [...d.extensions.filter((e) => e !== GROUP_METADATA_EXTENSION), GROUP_METADATA_EXTENSION]
  }
}
