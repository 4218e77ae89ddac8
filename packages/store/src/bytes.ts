/** Strict UTF-8 decoding for the header and record codecs. Internal. */

const decoder = new TextDecoder('utf-8', { fatal: true })

/**
 * Decodes UTF-8, throwing a TypeError on malformed input (callers turn it into a typed error). Not uint8arrays'
 * toString: that one replaces malformed sequences with U+FFFD, and a damaged record must fail instead.
 */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes)
}
