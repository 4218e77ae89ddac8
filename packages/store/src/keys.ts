/**
 * The key hierarchy. The passphrase key and the header wrap are on WebCrypto everywhere (once per open); the record
 * subkeys and their per-record operations go through the entry point's RecordCrypto (node:crypto in Node,
 * WebCrypto in browsers, same bytes):
 *
 *   passphrase ─scrypt(salt)→ KEK ─AES-256-GCM unwrap→ data key (32 random bytes)
 *   data key ─HKDF-SHA-256(info = INFO_RECORD_KEY)→ AES-256-GCM key for values
 *   data key ─HKDF-SHA-256(info = INFO_NAME_KEY)→ HMAC-SHA-256 key that names records
 *
 * Two subkeys instead of the data key itself for both jobs: one key, one algorithm. Subkeys are imported once per
 * open profile (non-extractable CryptoKeys, or KeyObjects in Node); the raw data key is zeroed right after.
 */
import { withArrayBuffer as buf, concat, fromString as utf8 } from 'uint8arrays'
import { fromUtf8 } from './bytes.ts'
import {
  DATA_KEY_BYTES,
  FORMAT_VERSION,
  INFO_NAME_KEY,
  INFO_RECORD_KEY,
  MAX_CACHED_RECORD_NAMES,
  MAX_KEY_BYTES,
  NONCE_BYTES,
  SUPPORTED_FORMAT_VERSIONS,
  TAG_BYTES
} from './constants.ts'
import { CorruptRecordError, UnknownFormatVersionError, WrongPassphraseError } from './errors.ts'
import { type Header, headerAssociatedData } from './header.ts'
import type { AbortOptions, ScryptFunction, ScryptParams } from './kdf.ts'
import { NameCache } from './name-cache.ts'
import type { RecordCrypto, RecordKeys } from './record-crypto.ts'

const subtle = globalThis.crypto.subtle

/** Source of random bytes; injectable so tests and simulations can be deterministic. */
export type RandomSource = (length: number) => Uint8Array

/** The platform CSPRNG. */
export const defaultRandom: RandomSource = (length) => globalThis.crypto.getRandomValues(new Uint8Array(length))

/**
 * Passphrase → AES-256-GCM key-encryption key. The passphrase is NFKC-normalised first so the same passphrase typed
 * on two keyboards (composed vs decomposed accents) opens the same profile.
 */
export async function deriveKek(
  scrypt: ScryptFunction,
  passphrase: string,
  salt: Uint8Array,
  params: ScryptParams,
  options: AbortOptions = {}
): Promise<CryptoKey> {
  const password = utf8(passphrase.normalize('NFKC'))
  let raw: Uint8Array | undefined
  try {
    raw = await scrypt(password, salt, params, 32, options)
    return await subtle.importKey('raw', buf(raw), 'AES-GCM', false, ['encrypt', 'decrypt'])
  } finally {
    password.fill(0)
    raw?.fill(0)
  }
}

/** Wraps the data key under the KEK, bound to the header's version, parameters and salt. */
export async function wrapDataKey(
  kek: CryptoKey,
  dataKey: Uint8Array,
  header: Omit<Header, 'wrappedKey'>
): Promise<Uint8Array> {
  const additionalData = buf(headerAssociatedData(header.version, header.kdf, header.salt))
  const sealed = await subtle.encrypt({ name: 'AES-GCM', iv: buf(header.nonce), additionalData }, kek, buf(dataKey))
  return new Uint8Array(sealed)
}

/** Unwraps the data key; an authentication failure means the passphrase is wrong (or the header was altered). */
export async function unwrapDataKey(kek: CryptoKey, header: Header): Promise<Uint8Array> {
  const additionalData = buf(headerAssociatedData(header.version, header.kdf, header.salt))
  let opened: ArrayBuffer
  try {
    opened = await subtle.decrypt(
      { name: 'AES-GCM', iv: buf(header.nonce), additionalData },
      kek,
      buf(header.wrappedKey)
    )
  } catch {
    throw new WrongPassphraseError()
  }
  const dataKey = new Uint8Array(opened)
  if (dataKey.length !== DATA_KEY_BYTES) {
    dataKey.fill(0)
    throw new CorruptRecordError('header', 'wrapped key has the wrong length')
  }
  return dataKey
}

/** A logical record as callers see it. */
export interface Entry {
  readonly key: string
  readonly value: Uint8Array
}

/**
 * Record layout (version 1):
 *   record    = version (1 byte) ‖ nonce (12) ‖ AES-256-GCM(plaintext) with its 16-byte tag
 *   plaintext = key length (u16 BE) ‖ logical key (UTF-8) ‖ value
 *   AD        = version (1 byte) ‖ datastore key ("/<namespace>/<name hex>", UTF-8)
 *   name      = HMAC-SHA-256(name key, namespace length (u8) ‖ namespace ‖ logical key)
 *
 * The AD is the datastore key rather than the logical key because a query must decrypt records whose logical key
 * it does not know yet. After decryption the name is recomputed from the embedded logical key and must match, so a
 * value moved to another key (or namespace) fails either the tag or the name check.
 */
export class ProfileKeys {
  readonly #keys: RecordKeys
  readonly #names: NameCache
  readonly #random: RandomSource

  private constructor(keys: RecordKeys, names: NameCache, random: RandomSource) {
    this.#keys = keys
    this.#names = names
    this.#random = random
  }

  /**
   * Derives the two subkeys from the raw data key with `records`. The caller zeroes `dataKey` afterwards.
   * `maxCachedNames` bounds the record-name cache (0 turns it off).
   */
  static async fromDataKey(
    records: RecordCrypto,
    dataKey: Uint8Array,
    random: RandomSource,
    maxCachedNames: number = MAX_CACHED_RECORD_NAMES
  ): Promise<ProfileKeys> {
    const names = new NameCache(maxCachedNames)
    return new ProfileKeys(await records.deriveRecordKeys(dataKey, INFO_RECORD_KEY, INFO_NAME_KEY), names, random)
  }

  /**
   * The datastore key of a logical key: `/<namespace>/<hex HMAC>`; reveals the namespace only. Repeated keys come
   * from the name cache. `remember: false` computes a missing name without caching it (a query's scan of a whole
   * namespace would otherwise evict the keys in actual use).
   */
  async storageKey(namespace: string, key: string, remember = true): Promise<string> {
    const cached = this.#names.get(namespace, key)
    if (cached !== undefined) return cached
    const ns = utf8(namespace)
    const name = `/${namespace}/${await this.#keys.name(concat([Uint8Array.of(ns.length), ns, utf8(key)]))}`
    if (remember) this.#names.set(namespace, key, name)
    return name
  }

  /** Encrypts one record for `storageKey` (which the caller got from storageKey(namespace, key)). */
  async seal(storageKey: string, key: string, value: Uint8Array): Promise<Uint8Array> {
    const keyBytes = utf8(key)
    const plaintext = new Uint8Array(2 + keyBytes.length + value.length)
    new DataView(plaintext.buffer).setUint16(0, keyBytes.length)
    plaintext.set(keyBytes, 2)
    plaintext.set(value, 2 + keyBytes.length)
    const nonce = this.#random(NONCE_BYTES)
    if (nonce.length !== NONCE_BYTES) throw new TypeError('random source returned the wrong length')
    const additionalData = concat([Uint8Array.of(FORMAT_VERSION), utf8(storageKey)])
    let sealed: Uint8Array
    try {
      sealed = await this.#keys.seal(nonce, plaintext, additionalData)
    } finally {
      plaintext.fill(0)
    }
    const record = new Uint8Array(1 + NONCE_BYTES + sealed.length)
    record[0] = FORMAT_VERSION
    record.set(nonce, 1)
    record.set(sealed, 1 + NONCE_BYTES)
    return record
  }

  /**
   * Decrypts and checks a record read from `storageKey` in `namespace`. `remember` is passed on to the name re-check
   * (false for query scans).
   */
  async open(namespace: string, storageKey: string, record: Uint8Array, remember = true): Promise<Entry> {
    const what = `record in '${namespace}'`
    if (record.length < 1) throw new CorruptRecordError(what, 'empty')
    const version = record[0]!
    if (!SUPPORTED_FORMAT_VERSIONS.includes(version)) throw new UnknownFormatVersionError(what, version)
    if (record.length < 1 + NONCE_BYTES + TAG_BYTES + 2) throw new CorruptRecordError(what, 'truncated')
    const nonce = record.subarray(1, 1 + NONCE_BYTES)
    const additionalData = concat([Uint8Array.of(version), utf8(storageKey)])
    let plaintext: Uint8Array
    try {
      plaintext = await this.#keys.open(nonce, record.subarray(1 + NONCE_BYTES), additionalData)
    } catch {
      throw new CorruptRecordError(what, 'did not authenticate (damaged, or moved from another key)')
    }
    const keyLength = new DataView(plaintext.buffer, plaintext.byteOffset).getUint16(0)
    if (keyLength > MAX_KEY_BYTES || 2 + keyLength > plaintext.length)
      throw new CorruptRecordError(what, 'bad key length')
    let key: string
    try {
      key = fromUtf8(plaintext.subarray(2, 2 + keyLength))
    } catch {
      throw new CorruptRecordError(what, 'key is not UTF-8')
    }
    // A cached name is the HMAC of this very (namespace, key), so the check is as strong with the cache as without.
    if ((await this.storageKey(namespace, key, remember)) !== storageKey) {
      throw new CorruptRecordError(what, 'embedded key does not match the record name')
    }
    return { key, value: plaintext.slice(2 + keyLength) }
  }

  /** Drops the cached names (the store is closing). */
  forget(): void {
    this.#names.clear()
  }
}
