/**
 * Padding of the plaintext payload to size buckets (ISO/IEC 7816-4: 0x80 then zeros): the bucket boundaries, the
 * round trip for every length, and each bad padding refused.
 */
import { equalBytes } from '@parley/crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BadPaddingError,
  InvalidParameterError,
  isBucketSize,
  MAX_PADDED_PAYLOAD_BYTES,
  MAX_PAYLOAD_BYTES,
  PADDING_STEP_BYTES,
  padCiphertext,
  paddedLength,
  padPayload,
  unpad
} from '../src/index.ts'
import { expectWireError, FUZZ_RUNS, PROPERTY_RUNS } from './helpers.ts'

describe('padding buckets', () => {
  it('lengths go to 64, 128, …, 4096, then multiples of 4 KiB; the marker byte always fits', () => {
    const cases: [number, number][] = [
      [0, 64],
      [63, 64],
      [64, 128],
      [127, 128],
      [128, 256],
      [511, 512],
      [512, 1024],
      [1023, 1024],
      [2047, 2048],
      [4095, 4096],
      [4096, 8192],
      [8191, 8192],
      [8192, 12_288],
      [100_000, 102_400],
      [MAX_PAYLOAD_BYTES, MAX_PADDED_PAYLOAD_BYTES]
    ]
    for (const [n, bucket] of cases) expect(paddedLength(n), `${n}`).toBe(bucket)
  })

  it('there are 7 small buckets and 63 steps of 4 KiB up to 256 KiB, 70 in all', () => {
    let count = 0
    for (let n = 1; n <= MAX_PADDED_PAYLOAD_BYTES; n++) if (isBucketSize(n)) count++
    expect(count).toBe(7 + (MAX_PADDED_PAYLOAD_BYTES - PADDING_STEP_BYTES) / PADDING_STEP_BYTES)
    expect(isBucketSize(MAX_PADDED_PAYLOAD_BYTES + PADDING_STEP_BYTES)).toBe(false)
  })

  it('a payload over MAX_PAYLOAD_BYTES cannot be padded', () => {
    expectWireError(() => paddedLength(MAX_PAYLOAD_BYTES + 1), InvalidParameterError)
    expectWireError(() => padPayload(new Uint8Array(MAX_PAYLOAD_BYTES + 1)), InvalidParameterError)
    expectWireError(() => paddedLength(-1), InvalidParameterError)
  })

  it('padded bytes are the payload, 0x80, then zeros', () => {
    const padded = padPayload(Uint8Array.of(1, 2, 3))
    expect(padded.length).toBe(64)
    expect(Array.from(padded.subarray(0, 5))).toEqual([1, 2, 3, 0x80, 0])
    expect(padded.subarray(4).every((b) => b === 0)).toBe(true)
    expect(padCiphertext).toBe(padPayload)
  })

  it('every length round-trips, to the smallest bucket that holds it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_PAYLOAD_BYTES }), fc.integer({ min: 0, max: 255 }), (n, fill) => {
        const payload = new Uint8Array(n).fill(fill)
        const padded = padPayload(payload)
        const smallest = [64, 128, 256, 512, 1024, 2048, 4096].find((b) => b > n) ?? Math.ceil((n + 1) / 4096) * 4096
        expect(padded.length).toBe(smallest)
        expect(isBucketSize(padded.length)).toBe(true)
        // equalBytes, not toEqual: deep equality of 256 KiB arrays is what would make this property slow.
        expect(equalBytes(unpad(padded), payload)).toBe(true)
      }),
      { numRuns: PROPERTY_RUNS }
    )
  })

  it('payloads ending in 0x80 or zeros are unambiguous', () => {
    for (const tail of [[0x80], [0], [0x80, 0], [0, 0x80], [0x80, 0x80]]) {
      const payload = Uint8Array.of(7, ...tail)
      expect(unpad(padPayload(payload))).toEqual(payload)
    }
    expect(unpad(padPayload(new Uint8Array(63).fill(0x80)))).toEqual(new Uint8Array(63).fill(0x80))
  })
})

describe('unpad refuses bad padding', () => {
  it('a length that is not a bucket size', () => {
    for (const n of [0, 1, 63, 65, 4097, 8193, MAX_PADDED_PAYLOAD_BYTES + PADDING_STEP_BYTES]) {
      const b = new Uint8Array(n)
      if (n > 0) b[0] = 0x80
      expectWireError(() => unpad(b), BadPaddingError)
    }
  })

  it('all zeros, no marker', () => {
    expectWireError(() => unpad(new Uint8Array(64)), BadPaddingError)
  })

  it('a last non-zero byte other than 0x80', () => {
    const b = new Uint8Array(64)
    b[10] = 0x81
    expectWireError(() => unpad(b), BadPaddingError)
    b[10] = 0x01
    expectWireError(() => unpad(b), BadPaddingError)
    const full = new Uint8Array(64).fill(0xff)
    expectWireError(() => unpad(full), BadPaddingError)
  })

  it('a sender may pad past the smallest bucket: the padding is still unambiguous', () => {
    const b = new Uint8Array(4096)
    b.set([1, 2, 3, 0x80])
    expect(Array.from(unpad(b))).toEqual([1, 2, 3])
  })

  it(`random bytes of bucket sizes unpad or fail with BadPaddingError (${FUZZ_RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.constantFrom(64, 128, 256), fc.uint8Array({ maxLength: 8 }), fc.nat(255), (n, tail, at) => {
        const b = new Uint8Array(n)
        b.set(tail, Math.min(at, n - tail.length))
        try {
          unpad(b)
        } catch (e) {
          expect(e).toBeInstanceOf(BadPaddingError)
          expect((e as BadPaddingError).code).toBe('BadPadding')
        }
      }),
      { numRuns: FUZZ_RUNS }
    )
  })
})
