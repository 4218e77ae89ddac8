/**
 * The browser build's stand-in for the `mlkem` package (vite.config.ts swaps it in through build/slim.ts): the MLS
 * ciphersuite's X-Wing KEM (@hpke/hybridkem-x-wing) imports `MlKem768`, `sha3_256` and `shake256` from `mlkem`, a
 * second ML-KEM and SHA-3 implementation (6.7 KB gzip) beside @noble/post-quantum and @noble/hashes, which the app
 * already ships for PQXDH. This module gives X-Wing the same API over the noble ones: FIPS 203 key generation from a
 * 64-byte seed (d ‖ z), encapsulation with an optional 32-byte message, decapsulation with the 2,400-byte key —
 * byte-for-byte what `mlkem` returns (test/build-shims.node.test.ts compares the two).
 */
import { sha3_256, sha3_512, shake128, shake256 } from '@noble/hashes/sha3.js'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'

export { sha3_256, sha3_512, shake128, shake256 }

/** ML-KEM seed for key generation (d ‖ z) and message for encapsulation, in bytes. */
const KEYGEN_SEED_BYTES = 64
const ENCAP_SEED_BYTES = 32

/** What `mlkem` throws (X-Wing wraps it in its own errors). */
export class MlKemError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause })
    this.name = 'MlKemError'
  }
}

async function run<T>(f: () => T): Promise<T> {
  try {
    return f()
  } catch (e) {
    throw new MlKemError(e)
  }
}

/** ML-KEM-768 with `mlkem`'s class API: key pairs and encapsulations as `[first, second]` tuples. */
export class MlKem768 {
  generateKeyPair(): Promise<[Uint8Array, Uint8Array]> {
    return this.deriveKeyPair(crypto.getRandomValues(new Uint8Array(KEYGEN_SEED_BYTES)))
  }

  deriveKeyPair(seed: Uint8Array): Promise<[Uint8Array, Uint8Array]> {
    return run(() => {
      if (seed.byteLength !== KEYGEN_SEED_BYTES) throw new Error(`seed must be ${KEYGEN_SEED_BYTES} bytes in length`)
      const { publicKey, secretKey } = ml_kem768.keygen(Uint8Array.from(seed))
      return [publicKey, secretKey]
    })
  }

  encap(publicKey: Uint8Array, seed?: Uint8Array): Promise<[Uint8Array, Uint8Array]> {
    return run(() => {
      if (seed !== undefined && seed.byteLength !== ENCAP_SEED_BYTES)
        throw new Error(`seed must be ${ENCAP_SEED_BYTES} bytes in length`)
      const m = seed === undefined ? crypto.getRandomValues(new Uint8Array(ENCAP_SEED_BYTES)) : Uint8Array.from(seed)
      const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey, m)
      return [cipherText, sharedSecret]
    })
  }

  decap(cipherText: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array> {
    return run(() => ml_kem768.decapsulate(cipherText, Uint8Array.from(secretKey)))
  }
}
