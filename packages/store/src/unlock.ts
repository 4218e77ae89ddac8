/**
 * Unlocking a profile: checking a passphrase, writing a new header (salt, KDF cost, the data key wrapped under the
 * passphrase's key) and unwrapping the data key from the stored one. The records never see the passphrase.
 */
import { type Datastore, Key } from 'interface-datastore'
import { DATA_KEY_BYTES, FORMAT_VERSION, HEADER_KEY, NONCE_BYTES, SALT_BYTES } from './constants.ts'
import { CorruptRecordError, InvalidParameterError, PassphraseRequiredError, ProfileNotFoundError } from './errors.ts'
import { decodeHeader, encodeHeader, type Header } from './header.ts'
import {
  type AbortOptions,
  checkScryptParams,
  DEFAULT_SCRYPT_PARAMS,
  type ScryptFunction,
  TEST_SCRYPT_PARAMS
} from './kdf.ts'
import { deriveKek, type RandomSource, unwrapDataKey, wrapDataKey } from './keys.ts'

function isNotFound(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'NotFoundError'
}

/** The backend's value under `key`, or undefined where interface-datastore would throw NotFoundError. */
export async function getOrUndefined(
  backend: Datastore,
  key: Key,
  options: AbortOptions
): Promise<Uint8Array | undefined> {
  try {
    return await backend.get(key, options)
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
}

/** A passphrase must be a non-empty, well-formed string; names the parameter, never the value. */
export function checkPassphrase(passphrase: unknown, parameter: string): asserts passphrase is string {
  if (typeof passphrase !== 'string') throw new InvalidParameterError(parameter, 'a string')
  if (passphrase.length === 0) throw new PassphraseRequiredError(`${parameter} was empty`)
  if (!passphrase.isWellFormed()) throw new InvalidParameterError(parameter, 'well-formed Unicode')
}

/** A new header wrapping `dataKey` under `passphrase` (fresh salt and nonce, the current KDF cost). */
export async function newHeader(
  scrypt: ScryptFunction,
  passphrase: string,
  dataKey: Uint8Array,
  random: RandomSource,
  allowWeak: boolean,
  options: AbortOptions
): Promise<Header> {
  const kdf = allowWeak ? TEST_SCRYPT_PARAMS : DEFAULT_SCRYPT_PARAMS
  const salt = random(SALT_BYTES)
  const nonce = random(NONCE_BYTES)
  if (salt.length !== SALT_BYTES || nonce.length !== NONCE_BYTES) {
    throw new InvalidParameterError('random', 'a source returning the requested length')
  }
  const kek = await deriveKek(scrypt, passphrase, salt, kdf, options)
  const partial = { version: FORMAT_VERSION, kdf, salt, nonce }
  return { ...partial, wrappedKey: await wrapDataKey(kek, dataKey, partial) }
}

/** Reads the header and unwraps the data key with `passphrase` (undefined: no header). The caller zeroes the key. */
export async function unlock(
  scrypt: ScryptFunction,
  backend: Datastore,
  passphrase: string,
  allowWeak: boolean,
  options: AbortOptions
): Promise<Uint8Array | undefined> {
  const raw = await getOrUndefined(backend, new Key(HEADER_KEY), options)
  if (raw === undefined) return undefined
  const header = decodeHeader(raw)
  checkScryptParams(header.kdf, allowWeak)
  const kek = await deriveKek(scrypt, passphrase, header.salt, header.kdf, options)
  return unwrapDataKey(kek, header)
}

/** Whether the backend holds any record at all (a header lost next to records must not be papered over). */
export async function hasAnyRecord(backend: Datastore, options: AbortOptions): Promise<boolean> {
  for await (const _ of backend.queryKeys({ limit: 1 }, options)) return true
  return false
}

/**
 * The profile's data key, unwrapped with `passphrase`; with `create`, a new random one under a new header when the
 * backend holds no profile (ProfileNotFoundError without it). The caller zeroes the key.
 */
export async function unlockOrCreate(
  scrypt: ScryptFunction,
  backend: Datastore,
  passphrase: string,
  options: AbortOptions & { create: boolean; random: RandomSource; allowWeak: boolean }
): Promise<Uint8Array> {
  const { signal, random, allowWeak } = options
  const existing = await unlock(scrypt, backend, passphrase, allowWeak, { signal })
  if (existing !== undefined) return existing
  if (!options.create) throw new ProfileNotFoundError()
  // Records without a header are a profile whose header was lost: a new header would hide them, not recover them.
  if (await hasAnyRecord(backend, { signal })) {
    throw new CorruptRecordError('header', 'missing, but the store holds records')
  }
  const dataKey = random(DATA_KEY_BYTES).slice()
  if (dataKey.length !== DATA_KEY_BYTES) {
    throw new InvalidParameterError('random', 'a source returning the requested length')
  }
  try {
    const header = await newHeader(scrypt, passphrase, dataKey, random, allowWeak, { signal })
    signal?.throwIfAborted()
    await backend.put(new Key(HEADER_KEY), encodeHeader(header))
  } catch (err) {
    dataKey.fill(0)
    throw err
  }
  return dataKey
}
