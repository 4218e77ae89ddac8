/**
 * The header record: the only thing stored in the clear. It holds the format version, the KDF parameters, the salt
 * and the data key wrapped (AES-256-GCM) under the passphrase key. The wrapping's associated data covers the version,
 * the parameters and the salt, so none of them can be altered without the passphrase.
 */
import { concat, fromString as uint8ArrayFromString, toString as uint8ArrayToString } from 'uint8arrays'
import { fromUtf8 } from './bytes.ts'
import {
  DATA_KEY_BYTES,
  FORMAT_VERSION,
  HEADER_AD_LABEL,
  HEADER_FORMAT_NAME,
  NONCE_BYTES,
  SALT_BYTES,
  SUPPORTED_FORMAT_VERSIONS,
  TAG_BYTES
} from './constants.ts'
import { CorruptRecordError, UnknownFormatVersionError } from './errors.ts'
import type { ScryptParams } from './kdf.ts'

/** Decoded header, version 1. */
export interface Header {
  readonly version: number
  readonly kdf: ScryptParams
  readonly salt: Uint8Array
  readonly nonce: Uint8Array
  readonly wrappedKey: Uint8Array
}

interface HeaderJson {
  format: string
  version: number
  kdf: { name: 'scrypt'; logN: number; r: number; p: number }
  salt: string
  nonce: string
  wrappedKey: string
}

/** Associated data for wrapping the data key: label, version, KDF name and parameters, salt. */
export function headerAssociatedData(version: number, kdf: ScryptParams, salt: Uint8Array): Uint8Array {
  const label = uint8ArrayFromString(`${HEADER_AD_LABEL}|v${version}|scrypt|${kdf.logN}|${kdf.r}|${kdf.p}|`)
  return concat([label, salt])
}

/** JSON bytes of a header. */
export function encodeHeader(header: Header): Uint8Array {
  const json: HeaderJson = {
    format: HEADER_FORMAT_NAME,
    version: header.version,
    kdf: { name: 'scrypt', logN: header.kdf.logN, r: header.kdf.r, p: header.kdf.p },
    salt: uint8ArrayToString(header.salt, 'base64url'),
    nonce: uint8ArrayToString(header.nonce, 'base64url'),
    wrappedKey: uint8ArrayToString(header.wrappedKey, 'base64url')
  }
  return uint8ArrayFromString(JSON.stringify(json))
}

/** The unpadded base64url alphabet, nothing else. */
const BASE64URL = /^[A-Za-z0-9_-]*$/

function bytesField(value: unknown, field: string, length: number): Uint8Array {
  let bytes: Uint8Array
  try {
    // Unpadded base64url only: uint8arrays' decoder would also take trailing '=' padding.
    if (typeof value !== 'string' || !BASE64URL.test(value)) throw new TypeError('not unpadded base64url')
    bytes = uint8ArrayFromString(value, 'base64url')
  } catch {
    throw new CorruptRecordError('header', `${field} is not base64url`)
  }
  if (bytes.length !== length) throw new CorruptRecordError('header', `${field} has ${bytes.length} bytes`)
  return bytes
}

/**
 * Parses and checks a header. The version is checked before anything else, so a header from a newer format is an
 * UnknownFormatVersionError however its other fields look. KDF cost bounds are checked by the caller.
 */
export function decodeHeader(bytes: Uint8Array): Header {
  let json: unknown
  try {
    json = JSON.parse(fromUtf8(bytes))
  } catch {
    throw new CorruptRecordError('header', 'not JSON')
  }
  if (typeof json !== 'object' || json === null) throw new CorruptRecordError('header', 'not an object')
  const h = json as Partial<Record<keyof HeaderJson, unknown>>
  if (h.format !== HEADER_FORMAT_NAME) throw new CorruptRecordError('header', 'not a Parley profile header')
  if (typeof h.version !== 'number' || !Number.isSafeInteger(h.version)) {
    throw new CorruptRecordError('header', 'version is not an integer')
  }
  if (!SUPPORTED_FORMAT_VERSIONS.includes(h.version)) throw new UnknownFormatVersionError('header', h.version)
  const kdf = h.kdf as Partial<HeaderJson['kdf']> | undefined
  if (typeof kdf !== 'object' || kdf === null || kdf.name !== 'scrypt') {
    throw new CorruptRecordError('header', 'unknown KDF')
  }
  const { logN, r, p } = kdf
  if (typeof logN !== 'number' || typeof r !== 'number' || typeof p !== 'number') {
    throw new CorruptRecordError('header', 'KDF parameters are not numbers')
  }
  return {
    version: h.version,
    kdf: { logN, r, p },
    salt: bytesField(h.salt, 'salt', SALT_BYTES),
    nonce: bytesField(h.nonce, 'nonce', NONCE_BYTES),
    wrappedKey: bytesField(h.wrappedKey, 'wrappedKey', DATA_KEY_BYTES + TAG_BYTES)
  }
}

/** The version new headers get. */
export const HEADER_VERSION = FORMAT_VERSION
