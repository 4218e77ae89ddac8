/**
 * Record primitives on WebCrypto: the browser entry's, and in Node the reference the node:crypto implementation is
 * tested against. Subkeys are non-extractable CryptoKeys derived inside WebCrypto, never raw bytes in JavaScript.
 */
import { withArrayBuffer as buf, toString as uint8ArrayToString, fromString as utf8 } from 'uint8arrays'
import type { RecordCrypto, RecordKeys } from './record-crypto.ts'

const subtle = globalThis.crypto.subtle

class WebRecordKeys implements RecordKeys {
  readonly #recordKey: CryptoKey
  readonly #nameKey: CryptoKey

  constructor(recordKey: CryptoKey, nameKey: CryptoKey) {
    this.#recordKey = recordKey
    this.#nameKey = nameKey
  }

  async name(message: Uint8Array): Promise<string> {
    return uint8ArrayToString(new Uint8Array(await subtle.sign('HMAC', this.#nameKey, buf(message))), 'base16')
  }

  async seal(nonce: Uint8Array, plaintext: Uint8Array, additionalData: Uint8Array): Promise<Uint8Array> {
    const params = { name: 'AES-GCM', iv: buf(nonce), additionalData: buf(additionalData) }
    return new Uint8Array(await subtle.encrypt(params, this.#recordKey, buf(plaintext)))
  }

  async open(nonce: Uint8Array, sealed: Uint8Array, additionalData: Uint8Array): Promise<Uint8Array> {
    const params = { name: 'AES-GCM', iv: buf(nonce), additionalData: buf(additionalData) }
    return new Uint8Array(await subtle.decrypt(params, this.#recordKey, buf(sealed)))
  }
}

/** WebCrypto record primitives (browsers; usable in Node too). */
export const webRecordCrypto: RecordCrypto = {
  async deriveRecordKeys(dataKey, recordInfo, nameInfo) {
    const base = await subtle.importKey('raw', buf(dataKey), 'HKDF', false, ['deriveKey'])
    const hkdf = (info: string) => ({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: buf(utf8(info)) })
    const recordKey = await subtle.deriveKey(hkdf(recordInfo), base, { name: 'AES-GCM', length: 256 }, false, [
      'encrypt',
      'decrypt'
    ])
    const nameKey = await subtle.deriveKey(
      hkdf(nameInfo),
      base,
      { name: 'HMAC', hash: 'SHA-256', length: 256 },
      false,
      ['sign']
    )
    return new WebRecordKeys(recordKey, nameKey)
  }
}
