/**
 * Envelope, Payload, Ack, PrekeyRequest and PrekeyResponse: fixed vectors (test/vectors/wire-v1.json, built by an
 * independent encoder), round trips, the refusals every versioned decoder shares, and 20 000 random inputs per
 * decoder that must each end in a value or a typed WireError.
 */
import { defaultBackend, fromHex, toHex } from '@parley/crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type Ack,
  DuplicateFieldError,
  decodeAck,
  decodeDhtRecord,
  decodeEnvelope,
  decodePaddedPayload,
  decodePayload,
  decodePrekeyRequest,
  decodePrekeyResponse,
  encodeAck,
  encodeEnvelope,
  encodePaddedPayload,
  encodePayload,
  encodePrekeyRequest,
  encodePrekeyResponse,
  InvalidParameterError,
  InvalidValueError,
  MAX_ACK_BYTES,
  MAX_CALL_SIGNAL_BYTES,
  MAX_DHT_RECORD_BYTES,
  MAX_ENVELOPE_BYTES,
  MAX_ENVELOPE_CIPHERTEXT_BYTES,
  MAX_PADDED_PAYLOAD_BYTES,
  MAX_PAYLOAD_BYTES,
  MAX_PREKEY_BUNDLE_BYTES,
  MAX_PREKEY_REQUEST_BYTES,
  MAX_PREKEY_RESPONSE_BYTES,
  MAX_RECEIPT_MESSAGE_IDS,
  MAX_TEXT_BYTES,
  MalformedError,
  MissingFieldError,
  OversizeError,
  type Payload,
  type PayloadInit,
  UnknownFieldError,
  UnknownVersionError,
  WireError
} from '../src/index.ts'
import { encodeVarint, readVarint } from '../src/testing.ts'
import { decodeOutcome, expectWireError, FUZZ_RUNS, PROPERTY_RUNS, vector } from './helpers.ts'
import { makeDevice, NOW, prekeyBundleFor } from './parties.ts'

const utf8 = new TextEncoder()

/** [start, end) of each top-level field of a well-formed message. */
function fieldSpans(bytes: Uint8Array): [number, number][] {
  const spans: [number, number][] = []
  let pos = 0
  while (pos < bytes.length) {
    const start = pos
    const [tag, afterTag] = readVarint(bytes, pos, 't')
    const [n, afterValue] = readVarint(bytes, afterTag, 't')
    pos = tag % 8 === 2 ? afterValue + n : afterValue
    spans.push([start, pos])
  }
  return spans
}

function withBytes(bytes: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(bytes.length + parts.reduce((n, p) => n + p.length, 0))
  out.set(bytes)
  let o = bytes.length
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

interface FormatCase {
  readonly name: string
  readonly vectors: string[]
  readonly decode: (b: Uint8Array) => unknown
  readonly maxBytes: number
}

const FORMATS: FormatCase[] = [
  { name: 'Envelope', vectors: ['envelope'], decode: decodeEnvelope, maxBytes: MAX_ENVELOPE_BYTES },
  {
    name: 'Payload',
    vectors: ['payload-text', 'payload-receipt', 'payload-typing', 'payload-call-signal'],
    decode: decodePayload,
    maxBytes: MAX_PAYLOAD_BYTES
  },
  { name: 'Ack', vectors: ['ack-ok', 'ack-error'], decode: decodeAck, maxBytes: MAX_ACK_BYTES },
  {
    name: 'PrekeyRequest',
    vectors: ['prekey-request'],
    decode: decodePrekeyRequest,
    maxBytes: MAX_PREKEY_REQUEST_BYTES
  },
  {
    name: 'PrekeyResponse',
    vectors: ['prekey-response-ok', 'prekey-response-error'],
    decode: decodePrekeyResponse,
    maxBytes: MAX_PREKEY_RESPONSE_BYTES
  },
  { name: 'DhtRecord', vectors: ['dht-record'], decode: decodeDhtRecord, maxBytes: MAX_DHT_RECORD_BYTES }
]

for (const f of FORMATS) {
  describe(`${f.name}: what every versioned decoder refuses`, () => {
    const samples = f.vectors.map((n) => vector(n).bytes)

    it('the fixed vectors decode, and re-encode to the same bytes elsewhere in this file', () => {
      for (const s of samples) expect(() => f.decode(s)).not.toThrow()
    })

    it('an unknown version is UnknownVersionError, even when the rest is unknown to this build', () => {
      for (const s of samples) {
        const body = s.subarray(2)
        for (const version of [0, 2, 3, 127, 128, 2 ** 31]) {
          const bytes = withBytes(Uint8Array.of(0x08), encodeVarint(version), body)
          const e = expectWireError(() => f.decode(bytes), UnknownVersionError)
          expect(e.version).toBe(version)
          expect(e.format).toBe(f.name)
        }
        // A v2 message with a field v1 never had is still reported as a version problem.
        const future = withBytes(Uint8Array.of(0x08, 0x02), body, fromHex('f80701'))
        expectWireError(() => f.decode(future), UnknownVersionError)
      }
    })

    it('a missing version is MissingFieldError', () => {
      for (const s of samples) expectWireError(() => f.decode(s.subarray(2)), MissingFieldError)
    })

    it('over the size limit is OversizeError, before any parsing', () => {
      expect(expectWireError(() => f.decode(new Uint8Array(f.maxBytes + 1)), OversizeError).limit).toBe(f.maxBytes)
      const padded = withBytes(samples[0]!, new Uint8Array(f.maxBytes + 1 - samples[0]!.length))
      expectWireError(() => f.decode(padded), OversizeError)
    })

    it('an unknown field is UnknownFieldError', () => {
      for (const s of samples) {
        expectWireError(() => f.decode(withBytes(s, fromHex('f80701'))), UnknownFieldError)
        expectWireError(() => f.decode(withBytes(s, fromHex('fa070100'))), UnknownFieldError)
      }
    })

    it('the last field repeated is DuplicateFieldError', () => {
      for (const s of samples) {
        const [start, end] = fieldSpans(s).at(-1)!
        const doubled = withBytes(s, s.subarray(start, end))
        // Where the copy pushes the message past its limit (PrekeyRequest: 70 of 64 bytes), the limit speaks first.
        expectWireError(() => f.decode(doubled), doubled.length > f.maxBytes ? OversizeError : DuplicateFieldError)
      }
    })

    it('every truncation is a typed error', () => {
      for (const s of samples) {
        for (let n = 0; n < s.length; n++) expectWireError(() => f.decode(s.subarray(0, n)), WireError)
      }
    })

    it('trailing garbage is a typed error', () => {
      for (const s of samples) {
        for (const tail of ['00', 'ff', '0000', '80', 'ffffffffffffffffffff01']) {
          expectWireError(() => f.decode(withBytes(s, fromHex(tail))), WireError)
        }
      }
    })

    it(`random bytes give a value or a typed error (${FUZZ_RUNS} runs)`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 512 }), (b) => {
          decodeOutcome(f.decode, b)
        }),
        { numRuns: FUZZ_RUNS }
      )
    })

    it(`random bytes behind a valid version give a value or a typed error (${FUZZ_RUNS} runs)`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 512 }), (b) => {
          decodeOutcome(f.decode, withBytes(Uint8Array.of(0x08, 0x01), b))
        }),
        { numRuns: FUZZ_RUNS }
      )
    })

    it(`mutated vectors give a value or a typed error (${FUZZ_RUNS} runs)`, () => {
      const mutation = fc.record({
        sample: fc.integer({ min: 0, max: samples.length - 1 }),
        edits: fc.array(
          fc.tuple(fc.constantFrom('flip', 'set', 'insert', 'delete'), fc.nat(), fc.integer({ min: 0, max: 255 })),
          { minLength: 1, maxLength: 4 }
        )
      })
      fc.assert(
        fc.property(mutation, ({ sample, edits }) => {
          const b = Array.from(samples[sample]!)
          for (const [op, at, v] of edits) {
            const i = at % (b.length + 1)
            if (op === 'flip' && i < b.length) b[i] = b[i]! ^ (1 << (v % 8))
            else if (op === 'set' && i < b.length) b[i] = v
            else if (op === 'insert') b.splice(i, 0, v)
            else if (op === 'delete') b.splice(i, 1)
          }
          decodeOutcome(f.decode, Uint8Array.from(b))
        }),
        { numRuns: FUZZ_RUNS }
      )
    })
  })
}

describe('Envelope', () => {
  const v = vector('envelope')

  it('matches the fixed vector both ways', () => {
    const envelope = { messageId: fromHex(v.fields.messageId as string), ciphertext: fromHex('deadbeef') }
    expect(toHex(encodeEnvelope(envelope))).toBe(v.hex)
    expect(decodeEnvelope(v.bytes)).toEqual({ version: 1, ...envelope })
  })

  it('round-trips any id and ciphertext', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 1, maxLength: 3000 }),
        (messageId, ciphertext) => {
          const bytes = encodeEnvelope({ messageId, ciphertext })
          expect(decodeEnvelope(bytes)).toEqual({ version: 1, messageId, ciphertext })
        }
      ),
      { numRuns: PROPERTY_RUNS }
    )
  })

  it('a message id of 15 or 17 bytes and an empty ciphertext are refused both ways', () => {
    for (const n of [0, 15, 17]) {
      expectWireError(
        () => encodeEnvelope({ messageId: new Uint8Array(n), ciphertext: new Uint8Array(1) }),
        InvalidParameterError
      )
      const id = withBytes(Uint8Array.of(0x12, n), new Uint8Array(n))
      // 17 bytes is over the field's limit (OversizeError), 0 and 15 the wrong length (InvalidValueError).
      expectWireError(() => decodeEnvelope(withBytes(fromHex('0801'), id, fromHex('1a0100'))), MalformedError)
    }
    expectWireError(
      () => encodeEnvelope({ messageId: new Uint8Array(16), ciphertext: new Uint8Array(0) }),
      InvalidParameterError
    )
    expectWireError(() => decodeEnvelope(fromHex(`08011210${'00'.repeat(16)}1a00`)), InvalidValueError)
  })

  it('a caller-supplied version other than 1 is refused', () => {
    expectWireError(
      () => encodeEnvelope({ version: 2, messageId: new Uint8Array(16), ciphertext: new Uint8Array(1) }),
      InvalidParameterError
    )
  })

  it('the largest ciphertext fits and one byte more is refused', () => {
    const messageId = new Uint8Array(16)
    const max = encodeEnvelope({ messageId, ciphertext: new Uint8Array(MAX_ENVELOPE_CIPHERTEXT_BYTES) })
    expect(max.length).toBeLessThanOrEqual(MAX_ENVELOPE_BYTES)
    expect(decodeEnvelope(max).ciphertext.length).toBe(MAX_ENVELOPE_CIPHERTEXT_BYTES)
    expectWireError(
      () => encodeEnvelope({ messageId, ciphertext: new Uint8Array(MAX_ENVELOPE_CIPHERTEXT_BYTES + 1) }),
      InvalidParameterError
    )
    const over = withBytes(
      fromHex(`08011210${'00'.repeat(16)}1a`),
      encodeVarint(MAX_ENVELOPE_CIPHERTEXT_BYTES + 1),
      new Uint8Array(MAX_ENVELOPE_CIPHERTEXT_BYTES + 1)
    )
    expectWireError(() => decodeEnvelope(over), OversizeError)
  })

  it('a payload through padding, PQXDH, the envelope and back, with the largest payload as an initial message', async () => {
    const backend = defaultBackend
    const alice = await makeDevice(backend)
    const bob = await makeDevice(backend)
    const address = await alice.manager.startSession(await prekeyBundleFor(backend, bob))
    const payloads: PayloadInit[] = [
      { kind: 'text', senderSeq: 1, sentAt: NOW, text: 'x'.repeat(MAX_TEXT_BYTES) },
      { kind: 'call-signal', senderSeq: 2, sentAt: NOW, callSignal: new Uint8Array(MAX_CALL_SIGNAL_BYTES) },
      { kind: 'text', senderSeq: 3, sentAt: NOW, text: 'hi' }
    ]
    for (const p of payloads) {
      const messageId = backend.randomBytes(16)
      const { ciphertext, initial } = await alice.manager.encrypt(address, encodePaddedPayload(p), { messageId })
      expect(initial).toBe(true)
      const frame = encodeEnvelope({ messageId, ciphertext })
      const envelope = decodeEnvelope(frame)
      const { plaintext } = await bob.manager.decrypt(envelope.ciphertext, { messageId: envelope.messageId })
      expect(decodePaddedPayload(plaintext)).toEqual({ version: 1, ...p })
    }
    // The largest padded payload, encrypted as an initial message, is within the envelope's ciphertext limit.
    const { ciphertext } = await alice.manager.encrypt(address, new Uint8Array(MAX_PADDED_PAYLOAD_BYTES))
    expect(ciphertext.length).toBeLessThanOrEqual(MAX_ENVELOPE_CIPHERTEXT_BYTES)
    expect(encodeEnvelope({ messageId: new Uint8Array(16), ciphertext }).length).toBeLessThanOrEqual(MAX_ENVELOPE_BYTES)
  })
})

function payloadFromVector(name: string): PayloadInit {
  const f = vector(name).fields as Record<string, unknown>
  const header = { senderSeq: f.senderSeq as number, sentAt: f.sentAt as number }
  switch (f.kind) {
    case 'text':
      return { ...header, kind: 'text', text: f.text as string }
    case 'receipt':
      return {
        ...header,
        kind: 'receipt',
        receipt: { type: f.type as 'read', messageIds: (f.messageIds as string[]).map(fromHex) }
      }
    case 'typing':
      return { ...header, kind: 'typing', typing: { active: f.active as boolean } }
    default:
      return { ...header, kind: 'call-signal', callSignal: fromHex(f.callSignal as string) }
  }
}

const messageIdArb = fc.uint8Array({ minLength: 16, maxLength: 16 })
const payloadArb: fc.Arbitrary<PayloadInit> = fc.oneof(
  fc.record({
    kind: fc.constant('text' as const),
    senderSeq: fc.maxSafeNat(),
    sentAt: fc.maxSafeNat(),
    text: fc.string({ unit: 'binary', maxLength: 200 }).filter((s) => s.isWellFormed())
  }),
  fc.record({
    kind: fc.constant('receipt' as const),
    senderSeq: fc.maxSafeNat(),
    sentAt: fc.maxSafeNat(),
    receipt: fc.record({
      type: fc.constantFrom('delivered' as const, 'read' as const),
      messageIds: fc.array(messageIdArb, { minLength: 1, maxLength: 40 })
    })
  }),
  fc.record({
    kind: fc.constant('typing' as const),
    senderSeq: fc.maxSafeNat(),
    sentAt: fc.maxSafeNat(),
    typing: fc.record({ active: fc.boolean() })
  }),
  fc.record({
    kind: fc.constant('call-signal' as const),
    senderSeq: fc.maxSafeNat(),
    sentAt: fc.maxSafeNat(),
    callSignal: fc.uint8Array({ minLength: 1, maxLength: 300 })
  }),
  fc.record({
    kind: fc.constant('deposit-token' as const),
    senderSeq: fc.maxSafeNat(),
    sentAt: fc.maxSafeNat(),
    depositToken: fc.uint8Array({ minLength: 32, maxLength: 32 })
  }),
  fc.record({
    kind: fc.constant('resend' as const),
    senderSeq: fc.maxSafeNat(),
    sentAt: fc.maxSafeNat(),
    resend: fc.record({
      senderSeqs: fc.array(fc.maxSafeNat(), { minLength: 1, maxLength: 40 }),
      messageIds: fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { maxLength: 40 })
    })
  })
)

describe('Payload', () => {
  it('matches the fixed vectors of each kind both ways', () => {
    for (const name of ['payload-text', 'payload-receipt', 'payload-typing', 'payload-call-signal']) {
      const p = payloadFromVector(name)
      expect(toHex(encodePayload(p)), name).toBe(vector(name).hex)
      expect(decodePayload(vector(name).bytes), name).toEqual({ version: 1, ...p })
    }
  })

  it('matches the padded fixed vector', () => {
    const v = vector('padded-payload-text-hi')
    const p: PayloadInit = { kind: 'text', senderSeq: 1, sentAt: 0, text: 'hi' }
    expect(toHex(encodePaddedPayload(p))).toBe(v.hex)
    expect(v.bytes.length).toBe(64)
    expect(decodePaddedPayload(v.bytes)).toEqual({ version: 1, ...p })
  })

  it('round-trips every kind, padded and unpadded', () => {
    fc.assert(
      fc.property(payloadArb, (p) => {
        const expected: Payload = { version: 1, ...p } as Payload
        expect(decodePayload(encodePayload(p))).toEqual(expected)
        expect(decodePaddedPayload(encodePaddedPayload(p))).toEqual(expected)
      }),
      { numRuns: PROPERTY_RUNS }
    )
  })

  it('a body that does not match the kind is refused: missing, or another kind’s', () => {
    const header = '0801 1001 1800 2000'
    const cases = [
      `${header}`, // text without text
      `${header} 3a020801`, // text with a typing body
      `${header} 2a0161 3a020801`, // text with text and typing
      '0801 1002 1800 2000 2a0161', // receipt carrying text
      '0801 1003 1800 2000', // typing without typing
      '0801 1004 1800 2000 3a020800' // call-signal with typing
    ]
    for (const hex of cases) expectWireError(() => decodePayload(fromHex(hex.replaceAll(' ', ''))), InvalidValueError)
  })

  it('an unknown kind, an empty receipt, a receipt id of 15 bytes and an empty call signal are refused', () => {
    expectWireError(() => decodePayload(fromHex('080110051800200042 0100'.replaceAll(' ', ''))), InvalidValueError)
    expectWireError(() => decodePayload(fromHex('0801100218002000 32020801'.replaceAll(' ', ''))), InvalidValueError)
    const id15 = `120f${'00'.repeat(15)}`
    expectWireError(() => decodePayload(fromHex(`0801100218002000 3213 0801 ${id15}`.replaceAll(' ', ''))), WireError)
    expectWireError(() => decodePayload(fromHex('0801100418002000 4200'.replaceAll(' ', ''))), InvalidValueError)
    expectWireError(
      () => encodePayload({ kind: 'receipt', senderSeq: 0, sentAt: 0, receipt: { type: 'read', messageIds: [] } }),
      InvalidParameterError
    )
    expectWireError(
      () => encodePayload({ kind: 'bogus', senderSeq: 0, sentAt: 0 } as unknown as PayloadInit),
      InvalidParameterError
    )
  })

  it('text, call signals and receipts are bounded: the limit fits, one more is refused', () => {
    const base = { senderSeq: 0, sentAt: 0 }
    expect(encodePayload({ ...base, kind: 'text', text: 'a'.repeat(MAX_TEXT_BYTES) }).length).toBeLessThan(
      MAX_PAYLOAD_BYTES
    )
    expectWireError(
      () => encodePayload({ ...base, kind: 'text', text: 'a'.repeat(MAX_TEXT_BYTES + 1) }),
      InvalidParameterError
    )
    // The limit counts UTF-8 bytes, not UTF-16 units: 'é' is two bytes.
    expectWireError(
      () => encodePayload({ ...base, kind: 'text', text: 'é'.repeat(MAX_TEXT_BYTES / 2 + 1) }),
      InvalidParameterError
    )
    expectWireError(
      () => encodePayload({ ...base, kind: 'call-signal', callSignal: new Uint8Array(MAX_CALL_SIGNAL_BYTES + 1) }),
      InvalidParameterError
    )
    const ids = Array.from({ length: MAX_RECEIPT_MESSAGE_IDS }, () => new Uint8Array(16))
    const full = encodePayload({ ...base, kind: 'receipt', receipt: { type: 'read', messageIds: ids } })
    expect(decodePayload(full).kind).toBe('receipt')
    expectWireError(
      () =>
        encodePayload({
          ...base,
          kind: 'receipt',
          receipt: { type: 'read', messageIds: [...ids, new Uint8Array(16)] }
        }),
      InvalidParameterError
    )
    const over = withBytes(fromHex('0801100218002000'), Uint8Array.of(0x32), encodeVarint(0))
    expect(() => decodePayload(over)).toThrow(WireError)
    const text = withBytes(fromHex('0801100118002000 2a'.replaceAll(' ', '')), encodeVarint(MAX_TEXT_BYTES + 1))
    expectWireError(() => decodePayload(text), OversizeError)
  })

  it('senderSeq and sentAt up to 2^53 - 1 survive; larger ones are refused both ways', () => {
    const p: PayloadInit = {
      kind: 'typing',
      senderSeq: Number.MAX_SAFE_INTEGER,
      sentAt: Number.MAX_SAFE_INTEGER,
      typing: { active: true }
    }
    expect(decodePayload(encodePayload(p))).toEqual({ version: 1, ...p })
    expectWireError(() => encodePayload({ ...p, senderSeq: 2 ** 53 }), InvalidParameterError)
    expectWireError(() => encodePayload({ ...p, sentAt: -1 }), InvalidParameterError)
  })
})

describe('Ack', () => {
  it('matches the fixed vectors both ways', () => {
    const id = fromHex(vector('ack-ok').fields.messageId as string)
    const ok: Ack = { version: 1, messageId: id, status: 'ok' }
    const error: Ack = { version: 1, messageId: id, status: 'error', errorCode: 'NoSession' }
    expect(toHex(encodeAck(ok))).toBe(vector('ack-ok').hex)
    expect(toHex(encodeAck(error))).toBe(vector('ack-error').hex)
    expect(decodeAck(vector('ack-ok').bytes)).toEqual(ok)
    expect(decodeAck(vector('ack-error').bytes)).toEqual(error)
  })

  it('held (a message request: stored, not a delivery receipt) only as true, and only with ok', () => {
    const messageId = new Uint8Array(16).fill(7)
    const held = encodeAck({ messageId, status: 'ok', held: true })
    expect(decodeAck(held)).toEqual({ version: 1, messageId, status: 'ok', held: true })
    expect(decodeAck(encodeAck({ messageId, status: 'ok' }))).toEqual({ version: 1, messageId, status: 'ok' })
    const id = `1210${toHex(messageId)}`
    expectWireError(() => decodeAck(fromHex(`0801${id}18012800`)), InvalidValueError)
    expectWireError(() => decodeAck(fromHex(`0801${id}1802220141 2801`.replaceAll(' ', ''))), InvalidValueError)
  })

  it('an error code exactly with status error, and only an identifier', () => {
    const id = '1210000102030405060708090a0b0c0d0e0f'
    expectWireError(() => decodeAck(fromHex(`0801${id}1801 2201 41`.replaceAll(' ', ''))), InvalidValueError)
    expectWireError(() => decodeAck(fromHex(`0801${id}1802`)), InvalidValueError)
    expectWireError(() => decodeAck(fromHex(`0801${id}1802 2202 2041`.replaceAll(' ', ''))), InvalidValueError)
    expectWireError(() => decodeAck(fromHex(`0801${id}1803`)), InvalidValueError)
    const messageId = new Uint8Array(16)
    for (const bad of ['', 'no session', '1x', 'é', 'A'.repeat(65)]) {
      expectWireError(() => encodeAck({ messageId, status: 'error', errorCode: bad }), InvalidParameterError)
    }
    expect(decodeAck(encodeAck({ messageId, status: 'error', errorCode: `A${'b'.repeat(63)}` })).status).toBe('error')
  })
})

describe('PrekeyRequest and PrekeyResponse', () => {
  it('match the fixed vectors both ways', () => {
    const identityKey = fromHex(vector('prekey-request').fields.identityKey as string)
    expect(toHex(encodePrekeyRequest({ identityKey }))).toBe(vector('prekey-request').hex)
    expect(decodePrekeyRequest(vector('prekey-request').bytes)).toEqual({ version: 1, identityKey })
    const ok = { status: 'ok', prekeyBundle: fromHex('cafebabe') } as const
    const error = { status: 'error', errorCode: 'NotFound' } as const
    expect(toHex(encodePrekeyResponse(ok))).toBe(vector('prekey-response-ok').hex)
    expect(toHex(encodePrekeyResponse(error))).toBe(vector('prekey-response-error').hex)
    expect(decodePrekeyResponse(vector('prekey-response-ok').bytes)).toEqual({ version: 1, ...ok })
    expect(decodePrekeyResponse(vector('prekey-response-error').bytes)).toEqual({ version: 1, ...error })
  })

  it('carry a real prekey bundle with both one-time prekeys within the limit', async () => {
    const { encodePrekeyBundle, decodePrekeyBundle } = await import('@parley/crypto')
    const device = await makeDevice(defaultBackend)
    const bundle = encodePrekeyBundle(await prekeyBundleFor(defaultBackend, device))
    expect(bundle.length).toBeLessThanOrEqual(MAX_PREKEY_BUNDLE_BYTES)
    const response = decodePrekeyResponse(encodePrekeyResponse({ status: 'ok', prekeyBundle: bundle }))
    expect(response.status).toBe('ok')
    if (response.status === 'ok') expect(decodePrekeyBundle(response.prekeyBundle).oneTimeKemPrekey).toBeDefined()
  })

  it('a response with both a bundle and an error code, or neither, is refused', () => {
    expectWireError(() => decodePrekeyResponse(fromHex('08011001')), InvalidValueError)
    expectWireError(() => decodePrekeyResponse(fromHex('08011002')), InvalidValueError)
    expectWireError(() => decodePrekeyResponse(fromHex('080110011a0101220141')), InvalidValueError)
    expectWireError(() => decodePrekeyResponse(fromHex('080110021a0101220141')), InvalidValueError)
    expectWireError(() => decodePrekeyResponse(fromHex('080110011a00')), InvalidValueError)
  })

  it('an identity key of 31 or 33 bytes and a bundle over the limit are refused', () => {
    for (const n of [31, 33]) {
      expectWireError(() => encodePrekeyRequest({ identityKey: new Uint8Array(n) }), InvalidParameterError)
    }
    expectWireError(
      () => encodePrekeyResponse({ status: 'ok', prekeyBundle: new Uint8Array(MAX_PREKEY_BUNDLE_BYTES + 1) }),
      InvalidParameterError
    )
    const over = withBytes(fromHex('080110011a'), encodeVarint(MAX_PREKEY_BUNDLE_BYTES + 1))
    expectWireError(() => decodePrekeyResponse(over), OversizeError)
  })
})

describe('typed errors', () => {
  it('carry a stable code and name, and never the bytes or text they refused', () => {
    const secret = 'top secret message text'
    const bytes = withBytes(encodePayload({ kind: 'text', senderSeq: 0, sentAt: 0, text: secret }), fromHex('00'))
    const e = expectWireError(() => decodePayload(bytes), UnknownFieldError)
    expect(e.code).toBe('UnknownField')
    expect(e.name).toBe('UnknownFieldError')
    expect(e.message).not.toContain(secret)
    expect(e.message).not.toContain(toHex(utf8.encode(secret)))
  })
})
