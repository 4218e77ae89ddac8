/**
 * Values derived from key bytes (imported CryptoKeys, expanded secret keys), cached per byte array: importing or
 * expanding a key on every call costs more than the operation itself. Keying by the array lets garbage collection
 * drop an entry together with the key bytes it came from.
 */
import { equalBytes } from '../codec.ts'

/**
 * A WeakMap from key bytes to a derived value. Each entry keeps a copy of the bytes it was made from, so a caller
 * that overwrites an array with another key gets a fresh value instead of one derived from the old key.
 */
export class KeyCache<T> {
  readonly #entries = new WeakMap<Uint8Array, { bytes: Uint8Array; value: T }>()

  /** The value cached for exactly these bytes, if any. */
  get(raw: Uint8Array): T | undefined {
    const entry = this.#entries.get(raw)
    return entry !== undefined && equalBytes(entry.bytes, raw) ? entry.value : undefined
  }

  /** Remembers `value` for the current contents of `raw`. */
  set(raw: Uint8Array, value: T): T {
    this.#entries.set(raw, { bytes: raw.slice(), value })
    return value
  }
}
