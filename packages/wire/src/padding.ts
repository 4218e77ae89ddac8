/**
 * Padding of the plaintext payload before it is encrypted, so a ciphertext's length says only which size bucket the
 * message falls in: 64, 128, 256, 512, 1024, 2048 or 4096 bytes, then multiples of 4 KiB up to 256 KiB.
 *
 * The scheme is ISO/IEC 7816-4: one 0x80 byte, then zeros up to the bucket size. It is unambiguous (the last
 * non-zero byte is always the 0x80 marker) and needs no length field. unpad accepts any bucket at least as large as
 * the payload needs, so a sender may pad further (to hide typing indicators among texts) without a new version.
 * Padding is applied inside the encryption: the AEAD authenticates it, so a bad padding after a successful
 * decryption means a buggy sender, never a tampered message.
 */
import { MAX_PADDED_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES, PADDING_SMALL_BUCKETS, PADDING_STEP_BYTES } from './constants.ts'
import { BadPaddingError, InvalidParameterError } from './errors.ts'

const MARKER = 0x80

/** The bucket a payload of `length` bytes is padded to (at least `length + 1`, for the marker). */
export function paddedLength(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_PAYLOAD_BYTES) {
    throw new InvalidParameterError('length', `an integer in 0..${MAX_PAYLOAD_BYTES}`)
  }
  const need = length + 1
  for (const b of PADDING_SMALL_BUCKETS) if (need <= b) return b
  return Math.ceil(need / PADDING_STEP_BYTES) * PADDING_STEP_BYTES
}

/** True when `length` is one of the bucket sizes. */
export function isBucketSize(length: number): boolean {
  if (!Number.isSafeInteger(length) || length <= 0 || length > MAX_PADDED_PAYLOAD_BYTES) return false
  if (length <= PADDING_STEP_BYTES) return PADDING_SMALL_BUCKETS.includes(length)
  return length % PADDING_STEP_BYTES === 0
}

/**
 * Pads an encoded payload to its bucket: `payload ‖ 0x80 ‖ 0x00…`. The result is what gets encrypted.
 * InvalidParameterError over MAX_PAYLOAD_BYTES.
 */
export function padPayload(payload: Uint8Array): Uint8Array {
  if (!(payload instanceof Uint8Array)) throw new InvalidParameterError('payload', 'a Uint8Array')
  const out = new Uint8Array(paddedLength(payload.length))
  out.set(payload)
  out[payload.length] = MARKER
  return out
}

/**
 * The same as padPayload, under the name the messenger issue uses. It pads the *plaintext* payload that is about to
 * be encrypted, never a ciphertext.
 */
export const padCiphertext = padPayload

/**
 * Removes the padding: the length must be a bucket size and the tail must be 0x80 followed only by zeros.
 * Returns a copy of the payload; BadPaddingError otherwise.
 */
export function unpad(padded: Uint8Array): Uint8Array {
  if (!(padded instanceof Uint8Array)) throw new InvalidParameterError('padded', 'a Uint8Array')
  if (!isBucketSize(padded.length)) throw new BadPaddingError(`length ${padded.length} is not a bucket size`)
  let i = padded.length - 1
  while (i >= 0 && padded[i] === 0) i--
  if (i < 0) throw new BadPaddingError('no 0x80 marker')
  if (padded[i] !== MARKER) throw new BadPaddingError('last non-zero byte is not 0x80')
  // A copy, as a plain Uint8Array even when `padded` is a Node Buffer (whose slice() would be a view).
  return new Uint8Array(padded.subarray(0, i))
}
