/**
 * Group formats. Every one is strict protobuf with a version (see versioned.ts) and a size limit in constants.ts.
 *
 * ```proto
 * // The data of one gossipsub message on a group's topic.
 * message GroupEnvelope {
 *   uint64 version = 1;   // 1
 *   bytes mls = 2;        // one MLS PrivateMessage (application or commit), 1..MAX_GROUP_ENVELOPE_BYTES - 64
 * }
 * // The plaintext inside an MLS application message.
 * message GroupApp {
 *   uint64 version = 1;    // 1
 *   Kind kind = 2;         // TEXT = 1, LEAVE = 2 (the sender asks an admin to commit its removal)
 *   bytes message_id = 3;  // 16 random bytes: dedup across re-sends after a lost fork
 *   uint64 sender_seq = 4; // per-sender, per-group sequence number, from 1
 *   uint64 sent_at = 5;    // sender's clock (display only)
 *   string text = 6;       // kind TEXT: 0..MAX_GROUP_TEXT_BYTES
 * }
 * // Group control between two contacts, inside a `group-control` E2EE payload.
 * message GroupControl {
 *   uint64 version = 1;       // 1
 *   Kind kind = 2;            // KEY_PACKAGE_REQUEST = 1, KEY_PACKAGE = 2, WELCOME = 3
 *   bytes request_id = 3;     // 16 bytes: ties a key package to its request and a welcome to its key package
 *   bytes group_id = 4;       // 16 bytes (REQUEST and WELCOME)
 *   bytes key_package = 5;    // KEY_PACKAGE: an MLS KeyPackage message
 *   uint64 part = 6;          // WELCOME: 0..parts-1
 *   uint64 parts = 7;         // WELCOME: 1..MAX_GROUP_CONTROL_PARTS
 *   bytes chunk = 8;          // WELCOME: part of an encoded GroupWelcome, 1..GROUP_CONTROL_CHUNK_BYTES
 * }
 * message GroupWelcome {      // reassembled from the WELCOME parts
 *   uint64 version = 1;
 *   bytes welcome = 2;        // MLS Welcome
 *   bytes ratchet_tree = 3;   // the tree (its hash is in the Welcome's GroupInfo)
 *   bytes topic = 4;          // 32-byte topic id of the group (from the MLS exporter at the first epoch)
 *   repeated Position positions = 5; // the adder's next expected number per sender, ≤ MAX_GROUP_WELCOME_POSITIONS
 * }
 * message Position { bytes identity = 1; uint64 next = 2; }  // 32-byte identity key
 * // Direct stream /parley/group-sync/1.0.0: one request, one answer.
 * message GroupSyncRequest { uint64 version = 1; bytes topic = 2; uint64 from_epoch = 3; uint64 skip = 4; }
 * message GroupSyncResponse { uint64 version = 1; repeated bytes envelopes = 2; bool more = 3; }
 * ```
 */
import {
  GROUP_CONTROL_CHUNK_BYTES,
  GROUP_ID_WIRE_BYTES,
  GROUP_REQUEST_ID_BYTES,
  GROUP_TOPIC_ID_BYTES,
  MAX_GROUP_APP_BYTES,
  MAX_GROUP_CONTROL_BYTES,
  MAX_GROUP_CONTROL_PARTS,
  MAX_GROUP_ENVELOPE_BYTES,
  MAX_GROUP_SYNC_ENVELOPES,
  MAX_GROUP_SYNC_REQUEST_BYTES,
  MAX_GROUP_SYNC_RESPONSE_BYTES,
  MAX_GROUP_TEXT_BYTES,
  MAX_GROUP_TRANSFER_BYTES,
  MAX_GROUP_WELCOME_POSITIONS,
  MESSAGE_ID_BYTES
} from './constants.ts'
import { InvalidParameterError, InvalidValueError } from './errors.ts'
import { defineSchema, encodeMessage, fixedBytes } from './protobuf.ts'
import { decodeVersioned, VERSION_FIELD } from './versioned.ts'

const MLS_BYTES = MAX_GROUP_ENVELOPE_BYTES - 64

/** The GroupEnvelope schema. */
export const GROUP_ENVELOPE_SCHEMA = defineSchema({
  name: 'GroupEnvelope',
  maxBytes: MAX_GROUP_ENVELOPE_BYTES,
  fields: [
    VERSION_FIELD,
    { no: 2, name: 'mls', type: { kind: 'bytes', minLength: 1, maxLength: MLS_BYTES }, rule: 'required' }
  ]
})

/** Encodes the data of one gossipsub message. */
export function encodeGroupEnvelope(mls: Uint8Array): Uint8Array {
  return encodeMessage(GROUP_ENVELOPE_SCHEMA, { version: 1, mls })
}

/** Decodes one gossipsub message's data; typed errors for anything else. */
export function decodeGroupEnvelope(bytes: Uint8Array): { version: number; mls: Uint8Array } {
  return decodeVersioned(GROUP_ENVELOPE_SCHEMA, bytes)
}

/** A group application message (the MLS plaintext). */
export type GroupApp =
  | {
      readonly kind: 'text'
      readonly messageId: Uint8Array
      readonly senderSeq: number
      readonly sentAt: number
      readonly text: string
    }
  | { readonly kind: 'leave'; readonly messageId: Uint8Array; readonly senderSeq: number; readonly sentAt: number }

/** The GroupApp schema. */
export const GROUP_APP_SCHEMA = defineSchema({
  name: 'GroupApp',
  maxBytes: MAX_GROUP_APP_BYTES,
  fields: [
    VERSION_FIELD,
    { no: 2, name: 'kind', type: { kind: 'enum', values: { text: 1, leave: 2 } }, rule: 'required' },
    { no: 3, name: 'messageId', type: fixedBytes(MESSAGE_ID_BYTES), rule: 'required' },
    { no: 4, name: 'senderSeq', type: { kind: 'uint' }, rule: 'required' },
    { no: 5, name: 'sentAt', type: { kind: 'uint' }, rule: 'required' },
    { no: 6, name: 'text', type: { kind: 'string', maxLength: MAX_GROUP_TEXT_BYTES }, rule: 'optional' }
  ]
})

/** Encodes a group application message. */
export function encodeGroupApp(app: GroupApp): Uint8Array {
  if (!Number.isSafeInteger(app.senderSeq) || app.senderSeq < 1) {
    throw new InvalidParameterError('GroupApp.senderSeq', 'an integer from 1')
  }
  return encodeMessage(GROUP_APP_SCHEMA, {
    version: 1,
    kind: app.kind,
    messageId: app.messageId,
    senderSeq: app.senderSeq,
    sentAt: app.sentAt,
    text: app.kind === 'text' ? app.text : undefined
  })
}

/** Decodes a group application message; the text is present exactly for TEXT, sequence numbers start at 1. */
export function decodeGroupApp(bytes: Uint8Array): GroupApp {
  const raw = decodeVersioned(GROUP_APP_SCHEMA, bytes)
  if (raw.senderSeq < 1) throw new InvalidValueError('GroupApp', 'senderSeq', 'must be at least 1')
  const head = { messageId: raw.messageId, senderSeq: raw.senderSeq, sentAt: raw.sentAt }
  if (raw.kind === 'text') {
    if (raw.text === undefined) throw new InvalidValueError('GroupApp', 'text', 'missing for text')
    return { kind: 'text', ...head, text: raw.text }
  }
  if (raw.text !== undefined) throw new InvalidValueError('GroupApp', 'text', `present in ${raw.kind}`)
  return { kind: 'leave', ...head }
}

/** Group control between two contacts (inside an E2EE `group-control` payload). */
export type GroupControl =
  | { readonly kind: 'key-package-request'; readonly requestId: Uint8Array; readonly groupId: Uint8Array }
  | { readonly kind: 'key-package'; readonly requestId: Uint8Array; readonly keyPackage: Uint8Array }
  | {
      readonly kind: 'welcome'
      readonly requestId: Uint8Array
      readonly groupId: Uint8Array
      readonly part: number
      readonly parts: number
      readonly chunk: Uint8Array
    }

/** The GroupControl schema. */
export const GROUP_CONTROL_SCHEMA = defineSchema({
  name: 'GroupControl',
  maxBytes: MAX_GROUP_CONTROL_BYTES,
  fields: [
    VERSION_FIELD,
    {
      no: 2,
      name: 'kind',
      type: { kind: 'enum', values: { 'key-package-request': 1, 'key-package': 2, welcome: 3 } },
      rule: 'required'
    },
    { no: 3, name: 'requestId', type: fixedBytes(GROUP_REQUEST_ID_BYTES), rule: 'required' },
    { no: 4, name: 'groupId', type: fixedBytes(GROUP_ID_WIRE_BYTES), rule: 'optional' },
    { no: 5, name: 'keyPackage', type: { kind: 'bytes', minLength: 1, maxLength: 8 * 1024 }, rule: 'optional' },
    { no: 6, name: 'part', type: { kind: 'uint' }, rule: 'optional' },
    { no: 7, name: 'parts', type: { kind: 'uint' }, rule: 'optional' },
    {
      no: 8,
      name: 'chunk',
      type: { kind: 'bytes', minLength: 1, maxLength: GROUP_CONTROL_CHUNK_BYTES },
      rule: 'optional'
    }
  ]
})

/** Encodes a group control message. */
export function encodeGroupControl(c: GroupControl): Uint8Array {
  const base = { version: 1, kind: c.kind, requestId: c.requestId } as const
  const none = { groupId: undefined, keyPackage: undefined, part: undefined, parts: undefined, chunk: undefined }
  switch (c.kind) {
    case 'key-package-request':
      return encodeMessage(GROUP_CONTROL_SCHEMA, { ...base, ...none, groupId: c.groupId })
    case 'key-package':
      return encodeMessage(GROUP_CONTROL_SCHEMA, { ...base, ...none, keyPackage: c.keyPackage })
    case 'welcome':
      if (c.parts < 1 || c.parts > MAX_GROUP_CONTROL_PARTS || c.part >= c.parts) {
        throw new InvalidParameterError('GroupControl.part', `0..parts-1 of 1..${MAX_GROUP_CONTROL_PARTS} parts`)
      }
      return encodeMessage(GROUP_CONTROL_SCHEMA, {
        ...base,
        ...none,
        groupId: c.groupId,
        part: c.part,
        parts: c.parts,
        chunk: c.chunk
      })
    default:
      throw new InvalidParameterError('GroupControl.kind', 'key-package-request, key-package or welcome')
  }
}

/** Decodes a group control message: exactly the fields of its kind, parts within MAX_GROUP_CONTROL_PARTS. */
export function decodeGroupControl(bytes: Uint8Array): GroupControl {
  const r = decodeVersioned(GROUP_CONTROL_SCHEMA, bytes)
  const allowed: Record<GroupControl['kind'], readonly string[]> = {
    'key-package-request': ['groupId'],
    'key-package': ['keyPackage'],
    welcome: ['groupId', 'part', 'parts', 'chunk']
  }
  for (const f of ['groupId', 'keyPackage', 'part', 'parts', 'chunk'] as const) {
    const want = allowed[r.kind].includes(f)
    if (want && r[f] === undefined) throw new InvalidValueError('GroupControl', f, `missing for ${r.kind}`)
    if (!want && r[f] !== undefined) throw new InvalidValueError('GroupControl', f, `present in ${r.kind}`)
  }
  switch (r.kind) {
    case 'key-package-request':
      return { kind: r.kind, requestId: r.requestId, groupId: r.groupId as Uint8Array }
    case 'key-package':
      return { kind: r.kind, requestId: r.requestId, keyPackage: r.keyPackage as Uint8Array }
    case 'welcome': {
      const parts = r.parts as number
      const part = r.part as number
      if (parts < 1 || parts > MAX_GROUP_CONTROL_PARTS || part >= parts) {
        throw new InvalidValueError('GroupControl', 'part', `out of 1..${MAX_GROUP_CONTROL_PARTS} parts`)
      }
      return {
        kind: 'welcome',
        requestId: r.requestId,
        groupId: r.groupId as Uint8Array,
        part,
        parts,
        chunk: r.chunk as Uint8Array
      }
    }
  }
}

/** A Welcome with what the joiner needs besides it. */
export interface GroupWelcome {
  readonly welcome: Uint8Array
  readonly ratchetTree: Uint8Array
  readonly topic: Uint8Array
  /** Where each sender's numbering stands for the adder (the joiner starts ordering there). */
  readonly positions: readonly { readonly identity: Uint8Array; readonly next: number }[]
}

const POSITION_SCHEMA = defineSchema({
  name: 'GroupPosition',
  maxBytes: 48,
  fields: [
    { no: 1, name: 'identity', type: fixedBytes(32), rule: 'required' },
    { no: 2, name: 'next', type: { kind: 'uint' }, rule: 'required' }
  ]
})

/** The GroupWelcome schema. */
export const GROUP_WELCOME_SCHEMA = defineSchema({
  name: 'GroupWelcome',
  maxBytes: MAX_GROUP_TRANSFER_BYTES,
  fields: [
    VERSION_FIELD,
    { no: 2, name: 'welcome', type: { kind: 'bytes', minLength: 1, maxLength: MLS_BYTES }, rule: 'required' },
    { no: 3, name: 'ratchetTree', type: { kind: 'bytes', minLength: 1, maxLength: MLS_BYTES }, rule: 'required' },
    { no: 4, name: 'topic', type: fixedBytes(GROUP_TOPIC_ID_BYTES), rule: 'required' },
    {
      no: 5,
      name: 'positions',
      type: { kind: 'message', schema: POSITION_SCHEMA, maxLength: POSITION_SCHEMA.maxBytes },
      rule: 'repeated',
      maxCount: MAX_GROUP_WELCOME_POSITIONS
    }
  ]
})

/** Encodes a Welcome and splits it into WELCOME parts of at most GROUP_CONTROL_CHUNK_BYTES. */
export function splitGroupWelcome(w: GroupWelcome): Uint8Array[] {
  const bytes = encodeMessage(GROUP_WELCOME_SCHEMA, { version: 1, ...w, positions: [...w.positions] })
  const out: Uint8Array[] = []
  for (let i = 0; i < bytes.length; i += GROUP_CONTROL_CHUNK_BYTES)
    out.push(bytes.subarray(i, i + GROUP_CONTROL_CHUNK_BYTES))
  return out
}

/** Joins the parts of a Welcome (in part order) and decodes it strictly. */
export function joinGroupWelcome(chunks: readonly Uint8Array[]): GroupWelcome {
  if (chunks.length < 1 || chunks.length > MAX_GROUP_CONTROL_PARTS) {
    throw new InvalidParameterError('GroupWelcome', `1..${MAX_GROUP_CONTROL_PARTS} parts`)
  }
  const total = chunks.reduce((n, c) => n + c.length, 0)
  const bytes = new Uint8Array(total)
  let at = 0
  for (const c of chunks) {
    bytes.set(c, at)
    at += c.length
  }
  const r = decodeVersioned(GROUP_WELCOME_SCHEMA, bytes)
  return { welcome: r.welcome, ratchetTree: r.ratchetTree, topic: r.topic, positions: r.positions }
}

/** The GroupSyncRequest schema. */
export const GROUP_SYNC_REQUEST_SCHEMA = defineSchema({
  name: 'GroupSyncRequest',
  maxBytes: MAX_GROUP_SYNC_REQUEST_BYTES,
  fields: [
    VERSION_FIELD,
    { no: 2, name: 'topic', type: fixedBytes(GROUP_TOPIC_ID_BYTES), rule: 'required' },
    { no: 3, name: 'fromEpoch', type: { kind: 'uint' }, rule: 'required' },
    { no: 4, name: 'skip', type: { kind: 'uint' }, rule: 'required' }
  ]
})

/** The GroupSyncResponse schema. */
export const GROUP_SYNC_RESPONSE_SCHEMA = defineSchema({
  name: 'GroupSyncResponse',
  maxBytes: MAX_GROUP_SYNC_RESPONSE_BYTES,
  fields: [
    VERSION_FIELD,
    {
      no: 2,
      name: 'envelopes',
      type: { kind: 'bytes', minLength: 1, maxLength: MAX_GROUP_ENVELOPE_BYTES },
      rule: 'repeated',
      maxCount: MAX_GROUP_SYNC_ENVELOPES
    },
    { no: 3, name: 'more', type: { kind: 'bool' }, rule: 'required' }
  ]
})

/** Encodes a sync request: "what you hold of this group from this epoch on, after the first `skip`" (paging). */
export function encodeGroupSyncRequest(r: { topic: Uint8Array; fromEpoch: number; skip: number }): Uint8Array {
  return encodeMessage(GROUP_SYNC_REQUEST_SCHEMA, { version: 1, ...r })
}

/** Decodes a sync request. */
export function decodeGroupSyncRequest(bytes: Uint8Array): { topic: Uint8Array; fromEpoch: number; skip: number } {
  const r = decodeVersioned(GROUP_SYNC_REQUEST_SCHEMA, bytes)
  return { topic: r.topic, fromEpoch: r.fromEpoch, skip: r.skip }
}

/** Encodes a sync answer (at most MAX_GROUP_SYNC_ENVELOPES envelopes; `more` when the holder had more). */
export function encodeGroupSyncResponse(r: { envelopes: readonly Uint8Array[]; more: boolean }): Uint8Array {
  return encodeMessage(GROUP_SYNC_RESPONSE_SCHEMA, { version: 1, envelopes: [...r.envelopes], more: r.more })
}

/** Decodes a sync answer. */
export function decodeGroupSyncResponse(bytes: Uint8Array): { envelopes: Uint8Array[]; more: boolean } {
  const r = decodeVersioned(GROUP_SYNC_RESPONSE_SCHEMA, bytes)
  return { envelopes: [...r.envelopes], more: r.more }
}

/** The group sync protocol id under a protocol prefix (default `/parley`). */
export function groupSyncProtocol(prefix = '/parley'): string {
  return `${prefix}/group-sync/1.0.0`
}
