/**
 * Domain separation for what this package signs or hashes: the UTF-8 context string, a 0x00 byte, then the body.
 * Contexts contain no NUL, so bytes signed or hashed under one context never stand for bytes under another.
 */
import { concat, fromString } from 'uint8arrays'

const SEPARATOR = Uint8Array.of(0)

/** `context` ‖ 0x00 ‖ `body`, in a fresh array. */
export function withContext(context: string, body: Uint8Array): Uint8Array {
  return concat([fromString(context), SEPARATOR, body])
}
