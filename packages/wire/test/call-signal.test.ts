/**
 * CallSignal: round trips of every type, the per-type shape (a field a type does not carry is refused both ways), the
 * limits named in constants.ts, and random inputs that must end in a value or a typed WireError.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CALL_ID_BYTES,
  CALL_MEDIA_SECRET_BYTES,
  type CallSignalInit,
  decodeCallSignal,
  encodeCallSignal,
  InvalidParameterError,
  InvalidValueError,
  isWireError,
  MAX_CALL_CANDIDATE_BYTES,
  MAX_CALL_FINGERPRINTS,
  MAX_CALL_PARTICIPANTS,
  MAX_CALL_SDP_BYTES,
  MAX_CALL_SIGNAL_BYTES,
  UnknownVersionError
} from '../src/index.ts'
import { encodeVarint } from '../src/testing.ts'

const callId = new Uint8Array(CALL_ID_BYTES).fill(7)
const secret = new Uint8Array(CALL_MEDIA_SECRET_BYTES).fill(9)
const fp = 'sha-256 AB:CD:EF'
const base = { callId, seq: 1, sentAt: 1_700_000_000_000 }

const samples: CallSignalInit[] = [
  { ...base, type: 'offer', sdp: 'v=0', fingerprints: [fp], mediaSecret: secret, video: true },
  {
    ...base,
    type: 'offer',
    sdp: 'v=0',
    fingerprints: [fp],
    mediaSecret: secret,
    groupId: new Uint8Array(CALL_ID_BYTES).fill(1),
    members: [new Uint8Array(32).fill(2)]
  },
  { ...base, seq: 2, type: 'offer', sdp: 'v=0', fingerprints: [fp], restart: true },
  { ...base, type: 'answer', sdp: 'v=0', fingerprints: [fp], mediaSecret: secret },
  { ...base, type: 'answer', sdp: 'v=0', fingerprints: [fp], restart: true },
  { ...base, type: 'ice', candidate: 'candidate:1 1 udp 1 10.99.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 },
  { ...base, type: 'ringing' },
  { ...base, type: 'decline' },
  { ...base, type: 'busy' },
  { ...base, type: 'hangup', reason: 'security' },
  { ...base, type: 'rekey', mediaSecret: secret, keyId: 1 },
  { ...base, type: 'rekey-ack', keyId: 1 }
]

describe('CallSignal', () => {
  it('every type round-trips with exactly its fields', () => {
    for (const s of samples) {
      const decoded = decodeCallSignal(encodeCallSignal(s))
      expect(decoded).toEqual({ version: 1, ...s })
    }
  })

  it('a field the type does not carry is refused when encoding and when decoding', () => {
    expect(() => encodeCallSignal({ ...base, type: 'ringing', sdp: 'v=0' })).toThrow(InvalidParameterError)
    // Hand-built: a ringing signal with an sdp field (6) appended in order.
    const ringing = encodeCallSignal({ ...base, type: 'ringing' })
    const sdp = new TextEncoder().encode('v=0')
    const bad = new Uint8Array([...ringing, (6 << 3) | 2, sdp.length, ...sdp])
    expect(() => decodeCallSignal(bad)).toThrow(InvalidValueError)
  })

  it('offers and answers need an sdp and a fingerprint; a first one needs a secret, a restart must not carry one', () => {
    expect(() => encodeCallSignal({ ...base, type: 'offer', sdp: 'v=0', fingerprints: [] } as CallSignalInit)).toThrow(
      InvalidParameterError
    )
    expect(() => encodeCallSignal({ ...base, type: 'offer', sdp: 'v=0', fingerprints: [fp] })).toThrow(/mediaSecret/)
    expect(() =>
      encodeCallSignal({ ...base, type: 'answer', sdp: 'v=0', fingerprints: [fp], mediaSecret: secret, restart: true })
    ).toThrow(/mediaSecret/)
  })

  it('seq and keyId start at 1; members need a group', () => {
    expect(() => encodeCallSignal({ ...base, seq: 0, type: 'busy' })).toThrow(/seq/)
    expect(() => encodeCallSignal({ ...base, type: 'rekey-ack', keyId: 0 })).toThrow(/keyId/)
    expect(() =>
      encodeCallSignal({
        ...base,
        type: 'offer',
        sdp: 'v=0',
        fingerprints: [fp],
        mediaSecret: secret,
        members: [new Uint8Array(32)]
      })
    ).toThrow(/group/)
  })

  it('limits: sdp, candidate, fingerprints, members, secret and call id lengths, whole signal', () => {
    const offer = (over: Partial<CallSignalInit>) =>
      encodeCallSignal({
        ...base,
        type: 'offer',
        sdp: 'v=0',
        fingerprints: [fp],
        mediaSecret: secret,
        ...over
      } as CallSignalInit)
    expect(() => offer({ sdp: 'x'.repeat(MAX_CALL_SDP_BYTES) })).not.toThrow()
    expect(() => offer({ sdp: 'x'.repeat(MAX_CALL_SDP_BYTES + 1) })).toThrow(InvalidParameterError)
    expect(() => offer({ fingerprints: Array(MAX_CALL_FINGERPRINTS).fill(fp) })).not.toThrow()
    expect(() => offer({ fingerprints: Array(MAX_CALL_FINGERPRINTS + 1).fill(fp) })).toThrow(InvalidParameterError)
    const group = new Uint8Array(CALL_ID_BYTES)
    expect(() =>
      offer({ groupId: group, members: Array(MAX_CALL_PARTICIPANTS - 2).fill(new Uint8Array(32)) })
    ).not.toThrow()
    expect(() => offer({ groupId: group, members: Array(MAX_CALL_PARTICIPANTS - 1).fill(new Uint8Array(32)) })).toThrow(
      InvalidParameterError
    )
    expect(() => offer({ mediaSecret: new Uint8Array(CALL_MEDIA_SECRET_BYTES - 1) })).toThrow(InvalidParameterError)
    expect(() => offer({ callId: new Uint8Array(CALL_ID_BYTES + 1) })).toThrow(InvalidParameterError)
    const ice = (candidate: string) => encodeCallSignal({ ...base, type: 'ice', candidate })
    expect(() => ice('c'.repeat(MAX_CALL_CANDIDATE_BYTES))).not.toThrow()
    expect(() => ice('c'.repeat(MAX_CALL_CANDIDATE_BYTES + 1))).toThrow(InvalidParameterError)
    expect(() => decodeCallSignal(new Uint8Array(MAX_CALL_SIGNAL_BYTES + 1))).toThrow(/CallSignal/)
  })

  it('a later version is UnknownVersion, not garbage', () => {
    const v2 = new Uint8Array([0x08, ...encodeVarint(2)])
    expect(() => decodeCallSignal(v2)).toThrow(UnknownVersionError)
  })

  it('random bytes and mutated signals end in a value or a typed WireError', () => {
    const valid = samples.map(encodeCallSignal)
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, i, x]) => {
            const c = b.slice()
            c[i % c.length] = x
            return c
          })
        ),
        (bytes) => {
          try {
            decodeCallSignal(bytes)
          } catch (e) {
            expect(isWireError(e)).toBe(true)
          }
        }
      ),
      { numRuns: 5000 }
    )
  })
})
