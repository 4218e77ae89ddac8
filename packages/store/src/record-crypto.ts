/**
 * The per-record primitives behind an internal interface, chosen by the entry point as scrypt is: node:crypto in
 * Node (OpenSSL called synchronously: async WebCrypto costs ~70–90 µs of overhead per call there), WebCrypto in
 * browsers. Both compute the same functions, so the bytes on disk do not depend on which one wrote them.
 */

/** One implementation of the record primitives. */
export interface RecordCrypto {
  /**
   * Derives the two record subkeys from the raw data key with HKDF-SHA-256 (empty salt, `info` as UTF-8): an
   * AES-256-GCM key from `recordInfo` and an HMAC-SHA-256 key from `nameInfo`. Keeps no reference to `dataKey`,
   * which the caller zeroes afterwards.
   */
  deriveRecordKeys(dataKey: Uint8Array, recordInfo: string, nameInfo: string): Promise<RecordKeys>
}

/**
 * The record subkeys of one open profile. Results may be returned directly or as promises (callers await either):
 * node:crypto answers synchronously, WebCrypto cannot.
 */
export interface RecordKeys {
  /** Lowercase hex of HMAC-SHA-256(name key, message). */
  name(message: Uint8Array): string | Promise<string>
  /** AES-256-GCM under the record key: ciphertext ‖ 16-byte tag. */
  seal(nonce: Uint8Array, plaintext: Uint8Array, additionalData: Uint8Array): Uint8Array | Promise<Uint8Array>
  /**
   * Inverse of seal. Throws (any error) unless the tag verifies; never returns unauthenticated plaintext. The result
   * is a plain Uint8Array (not a Node Buffer, whose slice() does not copy).
   */
  open(nonce: Uint8Array, sealed: Uint8Array, additionalData: Uint8Array): Uint8Array | Promise<Uint8Array>
}
