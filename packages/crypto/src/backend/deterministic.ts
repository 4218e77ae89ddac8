/**
 * A backend whose randomness comes from a seed: for fixed test vectors and the simulator only, never for users.
 * Native key generation takes no injected randomness, so every key is made from seed bytes drawn from a
 * SHA-256 counter-mode stream; the operations themselves run on the wrapped backend.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import type { CryptoBackend } from './types.ts'

/** Wraps `base` so that every random byte (and so every generated key) follows from `seed`. */
export function deterministicBackend(base: CryptoBackend, seed: Uint8Array): CryptoBackend {
  let counter = 0
  let pool = new Uint8Array(0)
  const block = new Uint8Array(seed.length + 4)
  block.set(seed)
  const draw = (length: number): Uint8Array => {
    const out = new Uint8Array(length)
    let filled = 0
    while (filled < length) {
      if (pool.length === 0) {
        new DataView(block.buffer).setUint32(seed.length, counter++)
        pool = sha256(block)
      }
      const take = Math.min(pool.length, length - filled)
      out.set(pool.subarray(0, take), filled)
      pool = pool.subarray(take)
      filled += take
    }
    return out
  }
  return {
    ...base,
    randomBytes: draw,
    x25519KeyPair: (secret) => base.x25519KeyPair(secret ?? draw(32)),
    ed25519KeyPair: (seed) => base.ed25519KeyPair(seed ?? draw(32)),
    mlKem1024KeyPair: (seed) => base.mlKem1024KeyPair(seed ?? draw(64)),
    // Encapsulation draws its own randomness inside every native implementation; vectors record its output.
    mlKem1024Encapsulate: (publicKey) => base.mlKem1024Encapsulate(publicKey)
  }
}
