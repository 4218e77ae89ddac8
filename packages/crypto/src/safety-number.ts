/**
 * Safety numbers: a 60-digit number both people compare to rule out a man in the middle, and a QR payload that
 * encodes the same. Built like Signal's numeric fingerprint (version 0): per identity, SHA-512 iterated 5200 times
 * over the identity key, the first 30 bytes read as six 5-byte big-endian numbers mod 100 000. The two 30-digit
 * halves are sorted, so both sides see the same 60 digits whoever computes it; a change of either identity changes it.
 */
import { concat } from 'uint8arrays'
import type { CryptoBackend } from './backend/types.ts'
import { expectBytes } from './backend/util.ts'
import { equalBytes } from './codec.ts'
import { INFO_SAFETY_NUMBER_VERSION, SAFETY_NUMBER_ITERATIONS } from './constants.ts'
import { MalformedError } from './errors.ts'

/** QR payload format version. */
export const SAFETY_QR_VERSION = 1

export interface SafetyNumber {
  /** 60 digits, no separators. */
  readonly digits: string
  /** The digits in 12 groups of 5, as shown to people. */
  readonly display: string
  /** Bytes for a QR code: version (1) || fingerprint hash of the lower half (30) || of the higher half (30). */
  readonly qrPayload: Uint8Array
}

async function fingerprint(backend: CryptoBackend, identityKey: Uint8Array): Promise<Uint8Array> {
  const version = new Uint8Array([0, INFO_SAFETY_NUMBER_VERSION])
  let hash = await backend.sha512(concat([version, identityKey, identityKey]))
  for (let i = 1; i < SAFETY_NUMBER_ITERATIONS; i++) hash = await backend.sha512(concat([hash, identityKey]))
  return hash.slice(0, 30)
}

function digitsOf(fp: Uint8Array): string {
  let out = ''
  for (let i = 0; i < 30; i += 5) {
    let v = 0
    for (let j = 0; j < 5; j++) v = v * 256 + fp[i + j]!
    out += String(v % 100000).padStart(5, '0')
  }
  return out
}

/** The safety number of two identity keys (order does not matter). */
export async function safetyNumber(
  backend: CryptoBackend,
  identityA: Uint8Array,
  identityB: Uint8Array
): Promise<SafetyNumber> {
  expectBytes('identityA', identityA, 32)
  expectBytes('identityB', identityB, 32)
  const halves = await Promise.all(
    [identityA, identityB].map(async (k) => {
      const fp = await fingerprint(backend, k)
      return { fp, digits: digitsOf(fp) }
    })
  )
  halves.sort((x, y) => (x.digits < y.digits ? -1 : x.digits > y.digits ? 1 : 0))
  const digits = halves[0]!.digits + halves[1]!.digits
  return {
    digits,
    display: digits.match(/.{5}/g)!.join(' '),
    qrPayload: concat([new Uint8Array([SAFETY_QR_VERSION]), halves[0]!.fp, halves[1]!.fp])
  }
}

/** True when a scanned QR payload matches the safety number we computed; MalformedError for a foreign payload. */
export function matchesSafetyQr(ours: SafetyNumber, scanned: Uint8Array): boolean {
  if (scanned.length !== 61 || scanned[0] !== SAFETY_QR_VERSION)
    throw new MalformedError('safety number QR', 'unknown format')
  return equalBytes(ours.qrPayload, scanned)
}
