/**
 * The strict protobuf codec on a schema that uses every field type: protobuf's own documented bytes, the one byte
 * form per value, and each way a decoder must refuse input (unknown, wrong wire type, duplicate, out of order,
 * missing, truncated, trailing garbage, oversize, bad varint, bad UTF-8) with its typed error.
 */
import { fromHex, toHex } from '@parley/crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  DuplicateFieldError,
  InvalidParameterError,
  InvalidUtf8Error,
  InvalidValueError,
  InvalidVarintError,
  MissingFieldError,
  NonCanonicalError,
  OversizeError,
  TruncatedError,
  UnknownFieldError,
  WireError,
  WrongWireTypeError
} from '../src/index.ts'
import { decodeMessage, defineSchema, encodeMessage, encodeVarint, type Infer, readVarint } from '../src/testing.ts'
import { decodeOutcome, expectWireError, FUZZ_RUNS, PROPERTY_RUNS } from './helpers.ts'

const INNER = defineSchema({
  name: 'Inner',
  maxBytes: 16,
  fields: [{ no: 1, name: 'flag', type: { kind: 'bool' }, rule: 'required' }]
})

const TEST = defineSchema({
  name: 'Test',
  maxBytes: 256,
  fields: [
    { no: 1, name: 'n', type: { kind: 'uint' }, rule: 'required' },
    { no: 2, name: 'color', type: { kind: 'enum', values: { red: 1, green: 2 } }, rule: 'optional' },
    { no: 3, name: 'id', type: { kind: 'bytes', length: 4, maxLength: 4 }, rule: 'optional' },
    { no: 4, name: 'tags', type: { kind: 'string', maxLength: 8 }, rule: 'repeated', maxCount: 3 },
    { no: 5, name: 'inner', type: { kind: 'message', schema: INNER, maxLength: 16 }, rule: 'optional' },
    { no: 6, name: 'blob', type: { kind: 'bytes', maxLength: 32 }, rule: 'optional' },
    // Field 20 has a two-byte tag (0xa0 0x01).
    { no: 20, name: 'big', type: { kind: 'uint' }, rule: 'optional' }
  ]
})

type Test = Infer<typeof TEST>

const empty: Test = {
  n: 0,
  color: undefined,
  id: undefined,
  tags: [],
  inner: undefined,
  blob: undefined,
  big: undefined
}

const decode = (hex: string) => decodeMessage(TEST, fromHex(hex.replaceAll(' ', '')))
const encodeHex = (v: Partial<Test>) => toHex(encodeMessage(TEST, { ...empty, ...v }))

describe('varints', () => {
  it('match protobuf encodings at the edges', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [1, '01'],
      [127, '7f'],
      [128, '8001'],
      [150, '9601'],
      [300, 'ac02'],
      [16_383, 'ff7f'],
      [16_384, '808001'],
      [2 ** 32 - 1, 'ffffffff0f'],
      [2 ** 32, '8080808010'],
      [Number.MAX_SAFE_INTEGER, 'ffffffffffffff0f']
    ]
    for (const [n, hex] of cases) {
      expect(toHex(encodeVarint(n)), `${n}`).toBe(hex)
      expect(readVarint(fromHex(hex), 0, 'v'), hex).toEqual([n, hex.length / 2])
    }
  })

  it('non-minimal, over-long, above 2^53 - 1 or truncated varints are refused', () => {
    expect(expectWireError(() => readVarint(fromHex('8000'), 0, 'v'), InvalidVarintError).message).toMatch(/minimal/)
    expectWireError(() => readVarint(fromHex('8080808080808080808001'), 0, 'v'), InvalidVarintError)
    // 2^53 exactly: one more than the largest value a JS number holds exactly.
    expect(expectWireError(() => readVarint(fromHex('8080808080808010'), 0, 'v'), InvalidVarintError).message).toMatch(
      /2\^53/
    )
    // 2^63 as a 10-byte varint (how protobuf writes a negative int64).
    expectWireError(() => readVarint(fromHex('80808080808080808001'), 0, 'v'), InvalidVarintError)
    expectWireError(() => readVarint(fromHex('ffffffffffffffffff01'), 0, 'v'), InvalidVarintError)
    expectWireError(() => readVarint(fromHex('80'), 0, 'v'), TruncatedError)
    expectWireError(() => readVarint(new Uint8Array(0), 0, 'v'), TruncatedError)
  })

  it('encodeVarint refuses negatives, fractions and integers past 2^53 - 1', () => {
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectWireError(() => encodeVarint(bad), InvalidParameterError)
    }
  })

  it('every safe integer round-trips through its minimal encoding', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const b = encodeVarint(n)
        expect(readVarint(b, 0, 'v')).toEqual([n, b.length])
        expect(b.length === 1 || b[b.length - 1] !== 0).toBe(true)
      }),
      { numRuns: PROPERTY_RUNS }
    )
  })

  it('random bytes read as a varint give a value or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (b) => {
        decodeOutcome((x) => readVarint(x, 0, 'v'), b)
      }),
      { numRuns: FUZZ_RUNS }
    )
  })
})

describe('fixed schema encoding', () => {
  it("protobuf's documented example: field 1 = 150 is 08 96 01", () => {
    expect(encodeHex({ n: 150 })).toBe('089601')
    expect(decode('089601')).toEqual({ ...empty, n: 150 })
  })

  it('every field type in ascending field order, required zero written, absent optional omitted', () => {
    const value: Partial<Test> = {
      n: 0,
      color: 'green',
      id: fromHex('01020304'),
      tags: ['a', 'bc'],
      inner: { flag: true },
      blob: new Uint8Array(0),
      big: 1
    }
    const hex = '0800 1002 1a0401020304 220161 22026263 2a020801 3200 a00101'.replaceAll(' ', '')
    expect(encodeHex(value)).toBe(hex)
    expect(decode(hex)).toEqual({ ...empty, ...value })
  })

  it('a leading byte-order mark in a string is content, kept as is', () => {
    expect(decode('0800 2203efbbbf').tags).toEqual(['\ufeff'])
    expect(encodeHex({ tags: ['\ufeff'] })).toBe('08002203efbbbf')
  })

  it('decoded bytes are copies, not views of the input', () => {
    const input = fromHex('08001a0401020304')
    const v = decodeMessage(TEST, input)
    input[4] = 0xff
    expect(toHex(v.id!)).toBe('01020304')
  })

  it('encoders refuse values the schema does not allow', () => {
    const bad: Partial<Record<keyof Test, unknown>>[] = [
      { n: -1 },
      { n: 1.5 },
      { n: 2 ** 53 },
      { n: Number.NaN },
      { n: '1' },
      { n: undefined },
      { color: 'blue' },
      { color: 'toString' },
      { id: fromHex('010203') },
      { id: 'abcd' },
      { tags: ['\ud800'] },
      { tags: ['ééééé'] },
      { tags: ['a', 'b', 'c', 'd'] },
      { tags: 'a' },
      { inner: { flag: 1 } },
      { inner: {} },
      { blob: new Uint8Array(33) }
    ]
    for (const b of bad) {
      expectWireError(() => encodeMessage(TEST, { ...empty, ...b } as Test), InvalidParameterError)
    }
  })
})

describe('strict decoding', () => {
  it('an unknown field number is refused, including field 0', () => {
    expect(expectWireError(() => decode('0800 3801'), UnknownFieldError).field).toBe(7)
    expect(expectWireError(() => decode('0800 00'), UnknownFieldError).field).toBe(0)
    expect(expectWireError(() => decode('0800 a80101'), UnknownFieldError).field).toBe(21)
  })

  it('a known field with another wire type is refused (LEN for varint, fixed32, fixed64, groups)', () => {
    expectWireError(() => decode('0a0100'), WrongWireTypeError)
    expectWireError(() => decode('0800 1500000000'), WrongWireTypeError)
    expectWireError(() => decode('0800 110000000000000000'), WrongWireTypeError)
    expectWireError(() => decode('0b0c'), WrongWireTypeError)
    expectWireError(() => decode('0800 1801'), WrongWireTypeError)
    expectWireError(() => decode('0800 1e'), WrongWireTypeError)
  })

  it('a non-repeated field twice is refused, adjacent or not', () => {
    expectWireError(() => decode('0801 0802'), DuplicateFieldError)
    expectWireError(() => decode('0801 1001 0802'), DuplicateFieldError)
    expectWireError(() => decode('0800 2a020801 2a020800'), DuplicateFieldError)
  })

  it('fields out of ascending order are refused, and a repeated field must be contiguous', () => {
    expectWireError(() => decode('0800 220161 1001'), NonCanonicalError)
    expectWireError(() => decode('0800 220161 2a020801 220162'), NonCanonicalError)
    expectWireError(() => decode('1001 0800'), NonCanonicalError)
  })

  it('a missing required field is refused, in nested messages too', () => {
    expect(expectWireError(() => decode(''), MissingFieldError).message).toMatch(/n is missing/)
    expect(expectWireError(() => decode('1001'), MissingFieldError).message).toMatch(/n is missing/)
    expect(expectWireError(() => decode('0800 2a00'), MissingFieldError).format).toBe('Test.inner')
  })

  it('truncation inside a tag, a varint or a length-delimited value is refused', () => {
    const full = fromHex('0800 1002 1a0401020304 220161 22026263 2a020801 3200 a00101'.replaceAll(' ', ''))
    for (let n = 0; n < full.length; n++) {
      const prefix = full.subarray(0, n)
      const outcome = decodeOutcome((b) => decodeMessage(TEST, b), prefix)
      // A prefix that ends between fields is a shorter, valid message; every other prefix is refused.
      if (outcome === 'ok') expect(toHex(encodeMessage(TEST, decodeMessage(TEST, prefix)))).toBe(toHex(prefix))
    }
    expectWireError(() => decode('08'), TruncatedError)
    expectWireError(() => decode('0800 1a040102'), TruncatedError)
    expectWireError(() => decode('0800 a0'), TruncatedError)
  })

  it('trailing garbage after a valid message is refused', () => {
    expectWireError(() => decode('0800 ff'), TruncatedError)
    expectWireError(() => decode('0800 00'), UnknownFieldError)
    expectWireError(() => decode('0800 0000'), UnknownFieldError)
    expectWireError(() => decode('0800 a00101 ffff'), WireError)
  })

  it('over the message limit is refused before parsing; an over-long field before reading it', () => {
    const e = expectWireError(() => decodeMessage(TEST, new Uint8Array(257)), OversizeError)
    expect(e.limit).toBe(256)
    // The length says 33 and the input is truncated: the limit is what is reported, the bytes are never awaited.
    expectWireError(() => decode('0800 3221'), OversizeError)
    expectWireError(() => decode('0800 2209616161616161616161'), OversizeError)
    expectWireError(() => decode('0800 2a11'), OversizeError)
    // Length 2^53 - 1: refused by the limit, not by an allocation.
    expectWireError(() => decode('0800 32ffffffffffffff0f'), OversizeError)
  })

  it('a repeated field past its count limit is refused', () => {
    expectWireError(() => decode('0800 220161 220162 220163 220164'), OversizeError)
    expect(decode('0800 220161 220162 220163').tags).toEqual(['a', 'b', 'c'])
  })

  it('non-minimal varints in values, lengths and tags are refused', () => {
    expectWireError(() => decode('088000'), InvalidVarintError)
    expectWireError(() => decode('0800 1a840001020304'), InvalidVarintError)
    expectWireError(() => decode('888000 00'), InvalidVarintError)
    expectWireError(() => decode('08 8080808080808010'), InvalidVarintError)
  })

  it('booleans other than 0 or 1, unknown enum values and wrong fixed lengths are refused', () => {
    expectWireError(() => decode('0800 2a020802'), InvalidValueError)
    expectWireError(() => decode('0800 1003'), InvalidValueError)
    expectWireError(() => decode('0800 1000'), InvalidValueError)
    expectWireError(() => decode('0800 1a03010203'), InvalidValueError)
  })

  it('invalid UTF-8 is refused: a stray continuation, an overlong form, a surrogate, a cut sequence', () => {
    for (const bad of ['c328', 'c080', 'eda080', 'e282', 'f4908080', '80']) {
      const hex = `0800 22${(bad.length / 2).toString(16).padStart(2, '0')}${bad}`
      expectWireError(() => decode(hex), InvalidUtf8Error)
    }
  })

  it('a non-Uint8Array input is a typed error, not a TypeError', () => {
    expectWireError(() => decodeMessage(TEST, 'abc' as unknown as Uint8Array), InvalidParameterError)
    expectWireError(() => decodeMessage(TEST, [8, 0] as unknown as Uint8Array), InvalidParameterError)
  })
})

const testValue: fc.Arbitrary<Test> = fc.record({
  n: fc.maxSafeNat(),
  color: fc.option(fc.constantFrom('red' as const, 'green' as const), { nil: undefined }),
  id: fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), { nil: undefined }),
  // At most two code points of any plane: at most 8 UTF-8 bytes.
  tags: fc.array(
    fc.string({ unit: 'binary', maxLength: 2 }).filter((s) => s.isWellFormed()),
    { maxLength: 3 }
  ),
  inner: fc.option(fc.record({ flag: fc.boolean() }), { nil: undefined }),
  blob: fc.option(fc.uint8Array({ maxLength: 32 }), { nil: undefined }),
  big: fc.option(fc.maxSafeNat(), { nil: undefined })
})

// Fields as a decoder meets them: any tag (known or not), then a plausible body for its wire type.
const fieldBytes = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 22 }), fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 10 })),
  fc.tuple(fc.integer({ min: 1, max: 6 }), fc.constant(0), fc.maxSafeNat()),
  fc.tuple(fc.integer({ min: 2, max: 6 }), fc.constant(2), fc.uint8Array({ maxLength: 12 }))
)
function fieldsToBytes(fields: [number, number, Uint8Array | number][]): Uint8Array {
  const parts: number[] = []
  for (const [no, wt, body] of fields) {
    parts.push(...encodeVarint(no * 8 + wt))
    if (typeof body === 'number') parts.push(...encodeVarint(body))
    else if (wt === 2) parts.push(...encodeVarint(body.length), ...body)
    else parts.push(...body)
  }
  return Uint8Array.from(parts)
}

describe('properties', () => {
  it('every value round-trips, and its encoding is the only one the decoder accepts for it', () => {
    fc.assert(
      fc.property(testValue, (v) => {
        const bytes = encodeMessage(TEST, v)
        const back = decodeMessage(TEST, bytes)
        expect(back).toEqual(v)
        expect(toHex(encodeMessage(TEST, back))).toBe(toHex(bytes))
      }),
      { numRuns: PROPERTY_RUNS }
    )
  })

  it('random bytes decode to a value or a typed error, and anything accepted is in canonical form', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        if (decodeOutcome((x) => decodeMessage(TEST, x), b) === 'ok') {
          expect(toHex(encodeMessage(TEST, decodeMessage(TEST, b)))).toBe(toHex(b))
        }
      }),
      { numRuns: FUZZ_RUNS }
    )
  })

  it('random sequences of fields decode to a value or a typed error, and anything accepted is canonical', () => {
    fc.assert(
      fc.property(fc.array(fieldBytes, { maxLength: 8 }), (fields) => {
        const b = fieldsToBytes(fields)
        if (decodeOutcome((x) => decodeMessage(TEST, x), b) === 'ok') {
          expect(toHex(encodeMessage(TEST, decodeMessage(TEST, b)))).toBe(toHex(b))
        }
      }),
      { numRuns: FUZZ_RUNS }
    )
  })
})
