/**
 * Protobuf compatibility, checked against protobufjs (an independent implementation) and proto/parley.proto:
 * the .proto matches our TypeScript schemas field by field, protobufjs reads every fixed vector and writes back the
 * same bytes, and what protobufjs writes from the .proto our strict decoders accept. Node only: protobufjs is CommonJS
 * and the browser project pre-bundles a fixed dependency list.
 */
import { readFileSync } from 'node:fs'
import { defaultBackend, generateIdentity, toHex } from '@parley/crypto'
import fc from 'fast-check'
import protobuf from 'protobufjs'
import { describe, expect, it } from 'vitest'
import {
  decodeEnvelope,
  decodePayload,
  encodeEnvelope,
  encodeMailboxRegistration,
  encodeMailboxRequest,
  encodeMailboxResponse,
  encodePaddedPayload,
  encodePayload,
  type PayloadInit,
  signMailboxRegistration,
  unpad
} from '../src/index.ts'
import {
  ACK_SCHEMA,
  DHT_RECORD_SCHEMA,
  ENVELOPE_SCHEMA,
  INVITE_SCHEMA,
  MAILBOX_REGISTRATION_SCHEMA,
  MAILBOX_REQUEST_SCHEMA,
  MAILBOX_RESPONSE_SCHEMA,
  type MessageSchema,
  PAYLOAD_SCHEMA,
  PREKEY_REQUEST_SCHEMA,
  PREKEY_RESPONSE_SCHEMA
} from '../src/testing.ts'
import { vector } from './helpers.ts'

const root = protobuf.parse(readFileSync(new URL('../proto/parley.proto', import.meta.url), 'utf8')).root
root.resolveAll()
const typeOf = (name: string) => root.lookupType(`parley.wire.v1.${name}`)

const PROTO_SCALAR = { uint: 'uint64', bool: 'bool', bytes: 'bytes', string: 'string' } as const

function checkSchema(schema: MessageSchema, type: protobuf.Type): void {
  expect(type.fieldsArray.length, schema.name).toBe(schema.fields.length)
  for (const f of schema.fields) {
    const pf = type.fieldsById[f.no]
    const where = `${schema.name}.${f.name}`
    expect(pf, where).toBeDefined()
    expect(pf!.name, where).toBe(f.name)
    expect(pf!.repeated, where).toBe(f.rule === 'repeated')
    expect(pf!.required, where).toBe(f.rule === 'required')
    if (f.type.kind === 'enum') {
      const e = pf!.resolvedType as protobuf.Enum
      expect(e, where).toBeInstanceOf(protobuf.Enum)
      const ours = Object.fromEntries(
        Object.entries(f.type.values).map(([k, n]) => [k.toUpperCase().replaceAll('-', '_'), n])
      )
      expect(e.values, where).toEqual(ours)
    } else if (f.type.kind === 'message') {
      expect(pf!.resolvedType, where).toBeInstanceOf(protobuf.Type)
      expect(pf!.resolvedType!.name, where).toBe(f.type.schema.name)
      checkSchema(f.type.schema, pf!.resolvedType as protobuf.Type)
    } else {
      expect(pf!.type, where).toBe(PROTO_SCALAR[f.type.kind])
    }
  }
}

const SCHEMAS: [MessageSchema, string[]][] = [
  [ENVELOPE_SCHEMA, ['envelope']],
  [PAYLOAD_SCHEMA, ['payload-text', 'payload-receipt', 'payload-typing', 'payload-call-signal']],
  [ACK_SCHEMA, ['ack-ok', 'ack-error']],
  [PREKEY_REQUEST_SCHEMA, ['prekey-request']],
  [PREKEY_RESPONSE_SCHEMA, ['prekey-response-ok', 'prekey-response-error']],
  [DHT_RECORD_SCHEMA, ['dht-record']],
  [INVITE_SCHEMA, ['invite']],
  [MAILBOX_REGISTRATION_SCHEMA, []],
  [MAILBOX_REQUEST_SCHEMA, []],
  [MAILBOX_RESPONSE_SCHEMA, []]
]

describe('proto/parley.proto and protobufjs', () => {
  for (const [schema, vectors] of SCHEMAS) {
    it(`${schema.name}: the .proto has our fields, numbers, rules and enum values`, () => {
      checkSchema(schema, typeOf(schema.name))
    })

    if (vectors.length === 0) continue
    it(`${schema.name}: protobufjs reads the fixed vectors and writes the same bytes back`, () => {
      const type = typeOf(schema.name)
      for (const name of vectors) {
        const bytes = vector(name).bytes
        const message = type.decode(bytes)
        expect(type.verify(message), name).toBeNull()
        expect(toHex(type.encode(message).finish()), name).toBe(toHex(bytes))
      }
    })
  }

  it('mailbox messages from our encoders read and re-encode byte for byte in protobufjs', async () => {
    const identity = await generateIdentity(defaultBackend)
    const registration = encodeMailboxRegistration(
      await signMailboxRegistration(defaultBackend, identity, {
        relay: Uint8Array.of(0, 36, 8, 1),
        expiresAt: 1_900_000_000_000,
        depositTokenHashes: [new Uint8Array(32).fill(3)]
      })
    )
    const samples: [string, Uint8Array][] = [
      ['MailboxRegistration', registration],
      ['MailboxRequest', encodeMailboxRequest({ op: 'register', registration })],
      [
        'MailboxRequest',
        encodeMailboxRequest({
          op: 'deposit',
          mailbox: identity.publicKey,
          envelope: Uint8Array.of(9),
          depositToken: new Uint8Array(32)
        })
      ],
      ['MailboxRequest', encodeMailboxRequest({ op: 'ack', ids: [1, 2 ** 40] })],
      [
        'MailboxRequest',
        encodeMailboxRequest({ op: 'put-prekeys', oneTimePrekeys: [Uint8Array.of(1), Uint8Array.of(2)] })
      ],
      [
        'MailboxResponse',
        encodeMailboxResponse({
          status: 'ok',
          items: [{ id: 5, depositedAt: 6, envelope: Uint8Array.of(7) }],
          more: true
        })
      ],
      [
        'MailboxResponse',
        encodeMailboxResponse({ status: 'ok', oneTimePrekeys: [Uint8Array.of(1)], prekeysX25519: 3, prekeysKem: 0 })
      ],
      ['MailboxResponse', encodeMailboxResponse({ status: 'error', errorCode: 'RateLimited', retryAfterMs: 10 })],
      [
        'Envelope',
        encodeEnvelope({ messageId: new Uint8Array(16), ciphertext: Uint8Array.of(1), sealedSender: Uint8Array.of(2) })
      ]
    ]
    for (const [name, bytes] of samples) {
      const type = typeOf(name)
      const message = type.decode(bytes)
      expect(type.verify(message), name).toBeNull()
      expect(toHex(type.encode(message).finish()), name).toBe(toHex(bytes))
    }
  })

  it('messages built with protobufjs alone decode with our strict decoders', () => {
    const Envelope = typeOf('Envelope')
    const bytes = Envelope.encode(
      Envelope.create({ version: 1, messageId: new Uint8Array(16).fill(7), ciphertext: Uint8Array.of(1, 2, 3) })
    ).finish()
    expect(decodeEnvelope(bytes).ciphertext).toEqual(Uint8Array.of(1, 2, 3))
    const Payload = typeOf('Payload')
    const typing = Payload.encode(
      Payload.fromObject({ version: 1, kind: 'TYPING', senderSeq: 0, sentAt: 0, typing: { active: false } })
    ).finish()
    expect(decodePayload(typing)).toEqual({
      version: 1,
      kind: 'typing',
      senderSeq: 0,
      sentAt: 0,
      typing: { active: false }
    })
  })

  it('Node Buffers in give plain Uint8Array copies out (a Buffer slice would be a view of the input)', () => {
    const input = Buffer.from(vector('envelope').bytes)
    const envelope = decodeEnvelope(input)
    expect(Object.getPrototypeOf(envelope.messageId)).toBe(Uint8Array.prototype)
    input.fill(0)
    expect(toHex(envelope.ciphertext)).toBe('deadbeef')
    const padded = Buffer.from(encodePaddedPayload({ kind: 'text', senderSeq: 0, sentAt: 0, text: 'x' }))
    const payload = unpad(padded)
    expect(Object.getPrototypeOf(payload)).toBe(Uint8Array.prototype)
    padded.fill(0)
    expect(decodePayload(payload).kind).toBe('text')
  })

  it('any payload we write, protobufjs reads and rewrites byte for byte, and we read its bytes back', () => {
    const Payload = typeOf('Payload')
    const arb: fc.Arbitrary<PayloadInit> = fc.oneof(
      fc.record({
        kind: fc.constant('text' as const),
        senderSeq: fc.maxSafeNat(),
        sentAt: fc.maxSafeNat(),
        text: fc.string({ unit: 'binary', maxLength: 50 }).filter((s) => s.isWellFormed())
      }),
      fc.record({
        kind: fc.constant('receipt' as const),
        senderSeq: fc.maxSafeNat(),
        sentAt: fc.maxSafeNat(),
        receipt: fc.record({
          type: fc.constantFrom('delivered' as const, 'read' as const),
          messageIds: fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 5 })
        })
      }),
      fc.record({
        kind: fc.constant('call-signal' as const),
        senderSeq: fc.maxSafeNat(),
        sentAt: fc.maxSafeNat(),
        callSignal: fc.uint8Array({ minLength: 1, maxLength: 50 })
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
          senderSeqs: fc.array(fc.maxSafeNat(), { minLength: 1, maxLength: 5 }),
          messageIds: fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { maxLength: 5 })
        })
      })
    )
    fc.assert(
      fc.property(arb, (p) => {
        const ours = encodePayload(p)
        const theirs = Payload.encode(Payload.decode(ours)).finish()
        expect(toHex(theirs)).toBe(toHex(ours))
        expect(decodePayload(theirs)).toEqual({ version: 1, ...p })
      }),
      { numRuns: 500 }
    )
  })
})
