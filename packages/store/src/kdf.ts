/**
 * Passphrase → key-encryption key with scrypt. The KDF itself is injected by the entry point (node:crypto in Node,
 * @noble/hashes in browsers); both compute the same RFC 7914 function, so a profile opens on either.
 */
import {
  MAX_SCRYPT_MEMORY_BYTES,
  MAX_SCRYPT_P,
  MIN_SCRYPT_LOG_N,
  SCRYPT_LOG_N,
  SCRYPT_MAXMEM_SLACK_BYTES,
  SCRYPT_P,
  SCRYPT_R,
  TEST_SCRYPT_LOG_N
} from './constants.ts'
import { KdfParametersError } from './errors.ts'

/** scrypt cost parameters as stored in the header (N = 2^logN). */
export interface ScryptParams {
  readonly logN: number
  readonly r: number
  readonly p: number
}

/** Options every waiting call takes. */
export interface AbortOptions {
  signal?: AbortSignal
}

/** One scrypt implementation: `dkLen` bytes of scrypt(password, salt, N = 2^logN, r, p). */
export type ScryptFunction = (
  password: Uint8Array,
  salt: Uint8Array,
  params: ScryptParams,
  dkLen: number,
  options?: AbortOptions
) => Promise<Uint8Array>

/** The cost new profiles get. */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ logN: SCRYPT_LOG_N, r: SCRYPT_R, p: SCRYPT_P })
/** The cost `unsafeFastKdfForTests` profiles get: cheap enough for hundreds of test profiles, useless otherwise. */
export const TEST_SCRYPT_PARAMS: ScryptParams = Object.freeze({ logN: TEST_SCRYPT_LOG_N, r: SCRYPT_R, p: SCRYPT_P })

/** Memory scrypt needs for these parameters (128·N·r bytes). */
export function scryptMemoryBytes(params: ScryptParams): number {
  return 128 * 2 ** params.logN * params.r
}

/** The `maxmem` both scrypt implementations get: what the parameters need, p times, plus the slack. */
export function scryptMaxmem(params: ScryptParams): number {
  return scryptMemoryBytes(params) * params.p + SCRYPT_MAXMEM_SLACK_BYTES
}

/**
 * Rejects parameters a header must not ask for: below the minimum (unless the caller explicitly allows test
 * parameters) or above the memory and parallelism ceilings (a hostile header must not exhaust the machine).
 */
export function checkScryptParams(params: ScryptParams, allowWeak: boolean): void {
  const { logN, r, p } = params
  if (![logN, r, p].every((v) => Number.isSafeInteger(v) && v >= 1)) {
    throw new KdfParametersError('scrypt parameters must be positive integers')
  }
  if (logN < (allowWeak ? 1 : MIN_SCRYPT_LOG_N)) {
    throw new KdfParametersError(`scrypt N = 2^${logN} is below the minimum of 2^${MIN_SCRYPT_LOG_N}`)
  }
  if (logN > 30 || scryptMemoryBytes(params) > MAX_SCRYPT_MEMORY_BYTES) {
    throw new KdfParametersError(`scrypt N = 2^${logN}, r = ${r} needs more than ${MAX_SCRYPT_MEMORY_BYTES} bytes`)
  }
  if (p > MAX_SCRYPT_P) throw new KdfParametersError(`scrypt p = ${p} exceeds the limit of ${MAX_SCRYPT_P}`)
}
