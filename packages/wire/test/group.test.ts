/** Group formats (src/group.ts): round trips, the exact-fields rule, part bounds and every named size limit. */
import { describe, expect, it } from 'vitest'
import {
  GROUP_CONTROL_CHUNK_BYTES,
  MAX_GROUP_CONTROL_PARTS,
  MAX_GROUP_ENVELOPE_BYTES,
  MAX_GROUP_SYNC_ENVELOPES,
  MAX_GROUP_TEXT_BYTES
} from '../src/constants.ts'
import { InvalidParameterError, InvalidValueError, OversizeError, WireError } from '../src/errors.ts'
import {
  decodeGroupApp,
  decodeGroupControl,
  decodeGroupEnvelope,
  decodeGroupSyncRequest,
  decodeGroupSyncResponse,
  encodeGroupApp,
  encodeGroupControl,
  encodeGroupEnvelope,
  encodeGroupSyncRequest,
  encodeGroupSyncResponse,
  GROUP_APP_SCHEMA,
  GROUP_CONTROL_SCHEMA,
  joinGroupWelcome,
  splitGroupWelcome
} from '../src/group.ts'
import { decodePayload, encodePayload } from '../src/payload.ts'
import { encodeMessage } from '../src/protobuf.ts'

const id16 = () => crypto.getRandomValues(new Uint8Array(16))
const bytes = (n: number, fill = 7) => new Uint8Array(n).fill(fill)

describe('group wire formats', () => {
  it('envelope, app, control and sync messages round trip', () => {
    const mls = bytes(1000)
    expect(decodeGroupEnvelope(encodeGroupEnvelope(mls)).mls).toEqual(mls)
    const text = { kind: 'text', messageId: id16(), senderSeq: 3, sentAt: 1_700_000_000_000, text: 'hé' } as const
    expect(decodeGroupApp(encodeGroupApp(text))).toEqual(text)
    const leave = { kind: 'leave', messageId: id16(), senderSeq: 4, sentAt: 5 } as const
    expect(decodeGroupApp(encodeGroupApp(leave))).toEqual(leave)
    for (const c of [
      { kind: 'key-package-request', requestId: id16(), groupId: id16() },
      { kind: 'key-package', requestId: id16(), keyPackage: bytes(3000) },
      { kind: 'welcome', requestId: id16(), groupId: id16(), part: 1, parts: 2, chunk: bytes(10) }
    ] as const) {
      expect(decodeGroupControl(encodeGroupControl(c))).toEqual(c)
    }
    const req = { topic: bytes(32), fromEpoch: 12, skip: 256 }
    expect(decodeGroupSyncRequest(encodeGroupSyncRequest(req))).toEqual(req)
    const res = { envelopes: [bytes(5), bytes(6)], more: true }
    expect(decodeGroupSyncResponse(encodeGroupSyncResponse(res))).toEqual(res)
    const p = encodePayload({ kind: 'group-control', senderSeq: 0, sentAt: 1, groupControl: bytes(9) })
    expect(decodePayload(p)).toMatchObject({ kind: 'group-control', groupControl: bytes(9) })
  })

  it('a Welcome of a full group splits into parts within the bounds and joins back', () => {
    const w = {
      welcome: bytes(150_000, 1),
      ratchetTree: bytes(200_000, 2),
      topic: bytes(32, 3),
      positions: [{ identity: bytes(32, 4), next: 7 }]
    }
    const parts = splitGroupWelcome(w)
    expect(parts.length).toBeGreaterThan(1)
    expect(parts.length).toBeLessThanOrEqual(MAX_GROUP_CONTROL_PARTS)
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(GROUP_CONTROL_CHUNK_BYTES)
    expect(joinGroupWelcome(parts)).toEqual(w)
    expect(() => joinGroupWelcome(parts.slice(0, -1))).toThrow(WireError)
    expect(() => joinGroupWelcome(new Array(MAX_GROUP_CONTROL_PARTS + 1).fill(bytes(1)))).toThrow(InvalidParameterError)
  })

  it('fields of another kind, a missing body, sequence 0 and out-of-range parts are refused', () => {
    const both = encodeMessage(GROUP_APP_SCHEMA, {
      version: 1,
      kind: 'leave',
      messageId: id16(),
      senderSeq: 1,
      sentAt: 1,
      text: 'x'
    })
    expect(() => decodeGroupApp(both)).toThrow(InvalidValueError)
    const noText = encodeMessage(GROUP_APP_SCHEMA, {
      version: 1,
      kind: 'text',
      messageId: id16(),
      senderSeq: 1,
      sentAt: 1,
      text: undefined
    })
    expect(() => decodeGroupApp(noText)).toThrow(InvalidValueError)
    const zero = encodeMessage(GROUP_APP_SCHEMA, {
      version: 1,
      kind: 'leave',
      messageId: id16(),
      senderSeq: 0,
      sentAt: 1,
      text: undefined
    })
    expect(() => decodeGroupApp(zero)).toThrow(InvalidValueError)
    expect(() => encodeGroupApp({ kind: 'leave', messageId: id16(), senderSeq: 0, sentAt: 1 })).toThrow(
      InvalidParameterError
    )
    const stray = encodeMessage(GROUP_CONTROL_SCHEMA, {
      version: 1,
      kind: 'key-package',
      requestId: id16(),
      groupId: id16(),
      keyPackage: bytes(4),
      part: undefined,
      parts: undefined,
      chunk: undefined
    })
    expect(() => decodeGroupControl(stray)).toThrow(InvalidValueError)
    const badPart = encodeMessage(GROUP_CONTROL_SCHEMA, {
      version: 1,
      kind: 'welcome',
      requestId: id16(),
      groupId: id16(),
      keyPackage: undefined,
      part: 2,
      parts: 2,
      chunk: bytes(1)
    })
    expect(() => decodeGroupControl(badPart)).toThrow(InvalidValueError)
    expect(() =>
      encodeGroupControl({
        kind: 'welcome',
        requestId: id16(),
        groupId: id16(),
        part: 0,
        parts: MAX_GROUP_CONTROL_PARTS + 1,
        chunk: bytes(1)
      })
    ).toThrow(InvalidParameterError)
  })

  it('named limits: envelope bytes, group text bytes, sync envelopes', () => {
    expect(() => encodeGroupEnvelope(bytes(MAX_GROUP_ENVELOPE_BYTES))).toThrow(WireError)
    expect(() => decodeGroupEnvelope(bytes(MAX_GROUP_ENVELOPE_BYTES + 1))).toThrow(OversizeError)
    const max = 'a'.repeat(MAX_GROUP_TEXT_BYTES)
    expect(
      decodeGroupApp(encodeGroupApp({ kind: 'text', messageId: id16(), senderSeq: 1, sentAt: 1, text: max })).kind
    ).toBe('text')
    expect(() => encodeGroupApp({ kind: 'text', messageId: id16(), senderSeq: 1, sentAt: 1, text: `${max}a` })).toThrow(
      WireError
    )
    const many = new Array(MAX_GROUP_SYNC_ENVELOPES).fill(bytes(1))
    expect(decodeGroupSyncResponse(encodeGroupSyncResponse({ envelopes: many, more: false })).envelopes).toHaveLength(
      MAX_GROUP_SYNC_ENVELOPES
    )
    expect(() => encodeGroupSyncResponse({ envelopes: [...many, bytes(1)], more: false })).toThrow(WireError)
  })
})
