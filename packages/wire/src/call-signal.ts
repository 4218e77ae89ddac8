/**
 * CallSignal: one call-signalling message (offer, answer, ICE candidate, ringing, decline, busy, hang-up, re-key),
 * carried as the opaque body of a `call-signal` Payload, so it is end-to-end encrypted and authenticated by the
 * session like any text. Owned by @parley/calls (docs/calls.md); defined here with every other byte format.
 *
 * ```proto
 * message CallSignal {
 *   uint64 version = 1;              // 1
 *   bytes call_id = 2;               // CALL_ID_BYTES, chosen at random by the caller
 *   uint64 seq = 3;                  // per sender and call, from 1, strictly increasing (replays are refused)
 *   Type type = 4;                   // OFFER = 1, ANSWER = 2, ICE = 3, RINGING = 4, DECLINE = 5, BUSY = 6,
 *                                    // HANGUP = 7, REKEY = 8, REKEY_ACK = 9
 *   uint64 sent_at = 5;              // sender's clock, ms since the epoch
 *   string sdp = 6;                  // OFFER, ANSWER: 1..MAX_CALL_SDP_BYTES
 *   repeated string fingerprints = 7;// OFFER, ANSWER: 1..MAX_CALL_FINGERPRINTS DTLS fingerprints ("sha-256 AB:..")
 *   bytes media_secret = 8;          // OFFER, ANSWER (first of a call), REKEY: CALL_MEDIA_SECRET_BYTES
 *   uint64 key_id = 9;               // REKEY, REKEY_ACK: the media key epoch (>= 1)
 *   bool video = 10;                 // OFFER: the caller sends video
 *   string candidate = 11;           // ICE: 1..MAX_CALL_CANDIDATE_BYTES
 *   string sdp_mid = 12;             // ICE (optional): 0..MAX_CALL_MID_BYTES
 *   uint64 sdp_mline_index = 13;     // ICE (optional)
 *   bool restart = 14;               // OFFER, ANSWER: an ICE restart of a running call (no media secret)
 *   Reason reason = 15;              // HANGUP: NORMAL = 1, FAILED = 2, NO_ANSWER = 3, SECURITY = 4
 *   bytes group_id = 16;             // OFFER (optional): the mesh call this pair belongs to, CALL_ID_BYTES
 *   repeated bytes members = 17;     // OFFER (optional): the other members' identity keys, 0..MAX_CALL_PARTICIPANTS-2
 * }
 * ```
 * Exactly the fields a type names are present (the decoder refuses others).
 */
import {
  CALL_ID_BYTES,
  CALL_MEDIA_SECRET_BYTES,
  IDENTITY_KEY_BYTES,
  MAX_CALL_CANDIDATE_BYTES,
  MAX_CALL_FINGERPRINT_BYTES,
  MAX_CALL_FINGERPRINTS,
  MAX_CALL_MID_BYTES,
  MAX_CALL_PARTICIPANTS,
  MAX_CALL_SDP_BYTES,
  MAX_CALL_SIGNAL_BYTES
} from './constants.ts'
import { InvalidParameterError, InvalidValueError } from './errors.ts'
import { defineSchema, encodeMessage, fixedBytes, type Infer } from './protobuf.ts'
import { checkVersion, decodeVersioned, VERSION_FIELD } from './versioned.ts'

/** What a call signal says. */
export type CallSignalType =
  | 'offer'
  | 'answer'
  | 'ice'
  | 'ringing'
  | 'decline'
  | 'busy'
  | 'hangup'
  | 'rekey'
  | 'rekey-ack'

/** Why a call was hung up. */
export type CallHangupReason = 'normal' | 'failed' | 'no-answer' | 'security'

/** A decoded call signal (fields absent for types that do not carry them). */
export interface CallSignal {
  readonly version: number
  readonly callId: Uint8Array
  readonly seq: number
  readonly type: CallSignalType
  readonly sentAt: number
  readonly sdp?: string
  readonly fingerprints?: readonly string[]
  readonly mediaSecret?: Uint8Array
  readonly keyId?: number
  readonly video?: boolean
  readonly candidate?: string
  readonly sdpMid?: string
  readonly sdpMLineIndex?: number
  readonly restart?: boolean
  readonly reason?: CallHangupReason
  readonly groupId?: Uint8Array
  readonly members?: readonly Uint8Array[]
}

/** What a sender supplies: the version is always ours. */
export type CallSignalInit = Omit<CallSignal, 'version'> & { readonly version?: number }

const TYPES = {
  offer: 1,
  answer: 2,
  ice: 3,
  ringing: 4,
  decline: 5,
  busy: 6,
  hangup: 7,
  rekey: 8,
  'rekey-ack': 9
} as const

/** The CallSignal schema. */
export const CALL_SIGNAL_SCHEMA = defineSchema({
  name: 'CallSignal',
  maxBytes: MAX_CALL_SIGNAL_BYTES,
  fields: [
    VERSION_FIELD,
    { no: 2, name: 'callId', type: fixedBytes(CALL_ID_BYTES), rule: 'required' },
    { no: 3, name: 'seq', type: { kind: 'uint' }, rule: 'required' },
    { no: 4, name: 'type', type: { kind: 'enum', values: TYPES }, rule: 'required' },
    { no: 5, name: 'sentAt', type: { kind: 'uint' }, rule: 'required' },
    { no: 6, name: 'sdp', type: { kind: 'string', minLength: 1, maxLength: MAX_CALL_SDP_BYTES }, rule: 'optional' },
    {
      no: 7,
      name: 'fingerprints',
      type: { kind: 'string', minLength: 1, maxLength: MAX_CALL_FINGERPRINT_BYTES },
      rule: 'repeated',
      maxCount: MAX_CALL_FINGERPRINTS
    },
    { no: 8, name: 'mediaSecret', type: fixedBytes(CALL_MEDIA_SECRET_BYTES), rule: 'optional' },
    { no: 9, name: 'keyId', type: { kind: 'uint' }, rule: 'optional' },
    { no: 10, name: 'video', type: { kind: 'bool' }, rule: 'optional' },
    {
      no: 11,
      name: 'candidate',
      type: { kind: 'string', minLength: 1, maxLength: MAX_CALL_CANDIDATE_BYTES },
      rule: 'optional'
    },
    { no: 12, name: 'sdpMid', type: { kind: 'string', maxLength: MAX_CALL_MID_BYTES }, rule: 'optional' },
    { no: 13, name: 'sdpMLineIndex', type: { kind: 'uint' }, rule: 'optional' },
    { no: 14, name: 'restart', type: { kind: 'bool' }, rule: 'optional' },
    {
      no: 15,
      name: 'reason',
      type: { kind: 'enum', values: { normal: 1, failed: 2, 'no-answer': 3, security: 4 } },
      rule: 'optional'
    },
    { no: 16, name: 'groupId', type: fixedBytes(CALL_ID_BYTES), rule: 'optional' },
    {
      no: 17,
      name: 'members',
      type: fixedBytes(IDENTITY_KEY_BYTES),
      rule: 'repeated',
      maxCount: MAX_CALL_PARTICIPANTS - 2
    }
  ]
})

type Raw = Infer<typeof CALL_SIGNAL_SCHEMA>
type Field = Exclude<keyof Raw, 'version' | 'callId' | 'seq' | 'type' | 'sentAt'>

const OPTIONAL_FIELDS: readonly Field[] = [
  'sdp',
  'fingerprints',
  'mediaSecret',
  'keyId',
  'video',
  'candidate',
  'sdpMid',
  'sdpMLineIndex',
  'restart',
  'reason',
  'groupId',
  'members'
]

/** Per type: the fields it must carry and the ones it may carry. */
const SHAPE: Record<CallSignalType, { required: readonly Field[]; optional: readonly Field[] }> = {
  offer: {
    required: ['sdp', 'fingerprints'],
    optional: ['mediaSecret', 'video', 'restart', 'groupId', 'members']
  },
  answer: { required: ['sdp', 'fingerprints'], optional: ['mediaSecret', 'restart'] },
  ice: { required: ['candidate'], optional: ['sdpMid', 'sdpMLineIndex'] },
  ringing: { required: [], optional: [] },
  decline: { required: [], optional: [] },
  busy: { required: [], optional: [] },
  hangup: { required: ['reason'], optional: [] },
  rekey: { required: ['mediaSecret', 'keyId'], optional: [] },
  'rekey-ack': { required: ['keyId'], optional: [] }
}

function present(raw: Raw, f: Field): boolean {
  const v = raw[f]
  return Array.isArray(v) ? v.length > 0 : v !== undefined
}

/** Checks the per-type shape; `fail` builds the error (a parameter error when encoding, a value error decoding). */
function checkShape(raw: Raw, fail: (field: string, why: string) => Error): void {
  const shape = SHAPE[raw.type]
  for (const f of OPTIONAL_FIELDS) {
    const has = present(raw, f)
    if (shape.required.includes(f) && !has) throw fail(f, `missing for ${raw.type}`)
    if (!shape.required.includes(f) && !shape.optional.includes(f) && has) throw fail(f, `present in ${raw.type}`)
  }
  if (raw.seq < 1) throw fail('seq', 'at least 1')
  // A restart renegotiates a running call: its keys stand, so it carries no new secret; a first offer or answer must.
  if ((raw.type === 'offer' || raw.type === 'answer') && (raw.restart === true) === (raw.mediaSecret !== undefined)) {
    throw fail('mediaSecret', raw.restart === true ? 'present in a restart' : 'missing for a first offer or answer')
  }
  if ((raw.type === 'rekey' || raw.type === 'rekey-ack') && raw.keyId! < 1) throw fail('keyId', 'at least 1')
  if (raw.members.length > 0 && raw.groupId === undefined) throw fail('members', 'without a groupId')
}

/** Encodes a call signal; InvalidParameterError when a field breaks its limit or the type's shape. */
export function encodeCallSignal(signal: CallSignalInit): Uint8Array {
  checkVersion('CallSignal', signal.version)
  const raw: Raw = {
    version: 1,
    callId: signal.callId,
    seq: signal.seq,
    type: signal.type,
    sentAt: signal.sentAt,
    sdp: signal.sdp,
    fingerprints: [...(signal.fingerprints ?? [])],
    mediaSecret: signal.mediaSecret,
    keyId: signal.keyId,
    video: signal.video,
    candidate: signal.candidate,
    sdpMid: signal.sdpMid,
    sdpMLineIndex: signal.sdpMLineIndex,
    restart: signal.restart,
    reason: signal.reason,
    groupId: signal.groupId,
    members: [...(signal.members ?? [])]
  }
  if (!(raw.type in TYPES)) throw new InvalidParameterError('CallSignal.type', Object.keys(TYPES).join(', '))
  checkShape(raw, (field, why) => new InvalidParameterError(`CallSignal.${field}`, why))
  return encodeMessage(CALL_SIGNAL_SCHEMA, raw)
}

/** Decodes a call signal: strict protobuf, the version first, then the per-type shape. */
export function decodeCallSignal(bytes: Uint8Array): CallSignal {
  const raw = decodeVersioned(CALL_SIGNAL_SCHEMA, bytes)
  checkShape(raw, (field, why) => new InvalidValueError('CallSignal', field, why))
  const out: Record<string, unknown> = {
    version: raw.version,
    callId: raw.callId,
    seq: raw.seq,
    type: raw.type,
    sentAt: raw.sentAt
  }
  for (const f of OPTIONAL_FIELDS) if (present(raw, f)) out[f] = raw[f]
  return out as unknown as CallSignal
}
