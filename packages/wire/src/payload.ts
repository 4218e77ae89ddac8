/**
 * Payload: the plaintext inside the ratchet (end-to-end encrypted), padded before encryption (see padding.ts).
 *
 * ```proto
 * message Payload {
 *   uint64 version = 1;      // 1
 *   Kind kind = 2;           // TEXT = 1, RECEIPT = 2, TYPING = 3, CALL_SIGNAL = 4, DEPOSIT_TOKEN = 5, RESEND = 6
 *   uint64 sender_seq = 3;   // per-sender sequence number
 *   uint64 sent_at = 4;      // sender's clock, ms since the epoch
 *   string text = 5;         // kind TEXT: at most MAX_TEXT_BYTES
 *   Receipt receipt = 6;     // kind RECEIPT
 *   Typing typing = 7;       // kind TYPING
 *   bytes call_signal = 8;   // kind CALL_SIGNAL: opaque to us (owned by @parley/calls), 1..MAX_CALL_SIGNAL_BYTES
 *   bytes deposit_token = 9; // kind DEPOSIT_TOKEN: 32 bytes that let the receiver deposit at the sender's mailboxes
 *   Resend resend = 10;      // kind RESEND
 *   bytes group_control = 11; // kind GROUP_CONTROL (= 7): a GroupControl (group.ts), 1..MAX_GROUP_CONTROL_BYTES
 * }
 * message Resend {                   // "send these again": a gap that did not fill, or a message we could not open
 *   repeated uint64 sender_seqs = 1; // text sequence numbers of the receiver's missing messages
 *   repeated bytes message_ids = 2;  // 16 bytes each; together with sender_seqs 1..MAX_RESEND_ITEMS
 * }
 * message Receipt {
 *   ReceiptType type = 1;            // DELIVERED = 1, READ = 2
 *   repeated bytes message_ids = 2;  // 1..MAX_RECEIPT_MESSAGE_IDS, 16 bytes each
 * }
 * message Typing {
 *   bool active = 1;
 * }
 * ```
 * Exactly the field that matches `kind` is present. `senderSeq` lets the receiver order each sender's messages
 * without blocking on gaps (a missing number is shown late, never waited for).
 */
import {
  DEPOSIT_TOKEN_BYTES,
  MAX_CALL_SIGNAL_BYTES,
  MAX_GROUP_CONTROL_BYTES,
  MAX_PAYLOAD_BYTES,
  MAX_RECEIPT_MESSAGE_IDS,
  MAX_RESEND_ITEMS,
  MAX_TEXT_BYTES,
  MESSAGE_ID_BYTES
} from './constants.ts'
import { InvalidParameterError, InvalidValueError } from './errors.ts'
import { padPayload, unpad } from './padding.ts'
import { defineSchema, encodeMessage, fixedBytes, type Infer } from './protobuf.ts'
import { checkVersion, decodeVersioned, VERSION_FIELD } from './versioned.ts'

/** What kind of message a payload is. */
export type PayloadKind = 'text' | 'receipt' | 'typing' | 'call-signal' | 'deposit-token' | 'resend' | 'group-control'

/** Delivery or read receipt for one or more messages of the same conversation. */
export interface Receipt {
  readonly type: 'delivered' | 'read'
  /** 1..MAX_RECEIPT_MESSAGE_IDS ids, 16 bytes each. */
  readonly messageIds: readonly Uint8Array[]
}

/**
 * A request to send messages again: text sequence numbers the receiver is missing (a gap that did not fill) and ids
 * of messages it received but could not open (a session problem). The sender resends from its own copy.
 */
export interface Resend {
  readonly senderSeqs: readonly number[]
  readonly messageIds: readonly Uint8Array[]
}

/** A typing indicator. */
export interface Typing {
  readonly active: boolean
}

/** Fields every payload has. */
export interface PayloadHeader {
  readonly version: number
  /** Per-sender sequence number (0..2^53 - 1). */
  readonly senderSeq: number
  /** The sender's clock when sent, ms since the epoch (untrusted: for display only). */
  readonly sentAt: number
}

/** A decrypted payload: the header and exactly the body its kind names. */
export type Payload = PayloadHeader &
  (
    | { readonly kind: 'text'; readonly text: string }
    | { readonly kind: 'receipt'; readonly receipt: Receipt }
    | { readonly kind: 'typing'; readonly typing: Typing }
    | { readonly kind: 'call-signal'; readonly callSignal: Uint8Array }
    | { readonly kind: 'deposit-token'; readonly depositToken: Uint8Array }
    | { readonly kind: 'resend'; readonly resend: Resend }
    | { readonly kind: 'group-control'; readonly groupControl: Uint8Array }
  )

/** What a sender supplies: the version is always ours. */
export type PayloadInit = Omit<PayloadHeader, 'version'> & { readonly version?: number } & (
    | { readonly kind: 'text'; readonly text: string }
    | { readonly kind: 'receipt'; readonly receipt: Receipt }
    | { readonly kind: 'typing'; readonly typing: Typing }
    | { readonly kind: 'call-signal'; readonly callSignal: Uint8Array }
    | { readonly kind: 'deposit-token'; readonly depositToken: Uint8Array }
    | { readonly kind: 'resend'; readonly resend: Resend }
    | { readonly kind: 'group-control'; readonly groupControl: Uint8Array }
  )

const RECEIPT_SCHEMA = defineSchema({
  name: 'Receipt',
  maxBytes: MAX_RECEIPT_MESSAGE_IDS * (2 + MESSAGE_ID_BYTES) + 8,
  fields: [
    { no: 1, name: 'type', type: { kind: 'enum', values: { delivered: 1, read: 2 } }, rule: 'required' },
    {
      no: 2,
      name: 'messageIds',
      type: fixedBytes(MESSAGE_ID_BYTES),
      rule: 'repeated',
      maxCount: MAX_RECEIPT_MESSAGE_IDS
    }
  ]
})

const RESEND_SCHEMA = defineSchema({
  name: 'Resend',
  maxBytes: MAX_RESEND_ITEMS * (2 + MESSAGE_ID_BYTES) + 8,
  fields: [
    { no: 1, name: 'senderSeqs', type: { kind: 'uint' }, rule: 'repeated', maxCount: MAX_RESEND_ITEMS },
    {
      no: 2,
      name: 'messageIds',
      type: fixedBytes(MESSAGE_ID_BYTES),
      rule: 'repeated',
      maxCount: MAX_RESEND_ITEMS
    }
  ]
})

const TYPING_SCHEMA = defineSchema({
  name: 'Typing',
  maxBytes: 8,
  fields: [{ no: 1, name: 'active', type: { kind: 'bool' }, rule: 'required' }]
})

/** The Payload schema. */
export const PAYLOAD_SCHEMA = defineSchema({
  name: 'Payload',
  maxBytes: MAX_PAYLOAD_BYTES,
  fields: [
    VERSION_FIELD,
    {
      no: 2,
      name: 'kind',
      type: {
        kind: 'enum',
        values: { text: 1, receipt: 2, typing: 3, 'call-signal': 4, 'deposit-token': 5, resend: 6, 'group-control': 7 }
      },
      rule: 'required'
    },
    { no: 3, name: 'senderSeq', type: { kind: 'uint' }, rule: 'required' },
    { no: 4, name: 'sentAt', type: { kind: 'uint' }, rule: 'required' },
    { no: 5, name: 'text', type: { kind: 'string', maxLength: MAX_TEXT_BYTES }, rule: 'optional' },
    {
      no: 6,
      name: 'receipt',
      type: { kind: 'message', schema: RECEIPT_SCHEMA, maxLength: RECEIPT_SCHEMA.maxBytes },
      rule: 'optional'
    },
    {
      no: 7,
      name: 'typing',
      type: { kind: 'message', schema: TYPING_SCHEMA, maxLength: TYPING_SCHEMA.maxBytes },
      rule: 'optional'
    },
    {
      no: 8,
      name: 'callSignal',
      type: { kind: 'bytes', minLength: 1, maxLength: MAX_CALL_SIGNAL_BYTES },
      rule: 'optional'
    },
    {
      no: 9,
      name: 'depositToken',
      type: fixedBytes(DEPOSIT_TOKEN_BYTES),
      rule: 'optional'
    },
    {
      no: 10,
      name: 'resend',
      type: { kind: 'message', schema: RESEND_SCHEMA, maxLength: RESEND_SCHEMA.maxBytes },
      rule: 'optional'
    },
    {
      no: 11,
      name: 'groupControl',
      type: { kind: 'bytes', minLength: 1, maxLength: MAX_GROUP_CONTROL_BYTES },
      rule: 'optional'
    }
  ]
})

type RawPayload = Infer<typeof PAYLOAD_SCHEMA>

const BODY_OF: Record<
  PayloadKind,
  'text' | 'receipt' | 'typing' | 'callSignal' | 'depositToken' | 'resend' | 'groupControl'
> = {
  text: 'text',
  receipt: 'receipt',
  typing: 'typing',
  'call-signal': 'callSignal',
  'deposit-token': 'depositToken',
  resend: 'resend',
  'group-control': 'groupControl'
}

/** Encodes a payload (unpadded); InvalidParameterError when a field breaks its limit. */
export function encodePayload(payload: PayloadInit): Uint8Array {
  checkVersion('Payload', payload.version)
  const raw: RawPayload = {
    version: 1,
    kind: payload.kind,
    senderSeq: payload.senderSeq,
    sentAt: payload.sentAt,
    text: undefined,
    receipt: undefined,
    typing: undefined,
    callSignal: undefined,
    depositToken: undefined,
    resend: undefined,
    groupControl: undefined
  }
  switch (payload.kind) {
    case 'text':
      raw.text = payload.text
      break
    case 'receipt':
      if (payload.receipt?.messageIds?.length === 0) {
        throw new InvalidParameterError('Payload.receipt.messageIds', 'at least one id')
      }
      raw.receipt = payload.receipt
      break
    case 'typing':
      raw.typing = payload.typing
      break
    case 'call-signal':
      raw.callSignal = payload.callSignal
      break
    case 'deposit-token':
      raw.depositToken = payload.depositToken
      break
    case 'resend': {
      const n = (payload.resend?.senderSeqs?.length ?? 0) + (payload.resend?.messageIds?.length ?? 0)
      if (n === 0 || n > MAX_RESEND_ITEMS) {
        throw new InvalidParameterError('Payload.resend', `1..${MAX_RESEND_ITEMS} sequence numbers and ids`)
      }
      raw.resend = payload.resend
      break
    }
    case 'group-control':
      raw.groupControl = payload.groupControl
      break
    default:
      throw new InvalidParameterError('Payload.kind', 'text, receipt, typing, call-signal, deposit-token or resend')
  }
  return encodeMessage(PAYLOAD_SCHEMA, raw)
}

/** Decodes an (unpadded) payload; the body must match the kind, and a receipt must name at least one message. */
export function decodePayload(bytes: Uint8Array): Payload {
  const raw = decodeVersioned(PAYLOAD_SCHEMA, bytes)
  const body = BODY_OF[raw.kind]
  for (const name of Object.values(BODY_OF)) {
    if (name === body && raw[name] === undefined)
      throw new InvalidValueError('Payload', name, `missing for ${raw.kind}`)
    if (name !== body && raw[name] !== undefined) throw new InvalidValueError('Payload', name, `present in ${raw.kind}`)
  }
  const header = { version: raw.version, senderSeq: raw.senderSeq, sentAt: raw.sentAt }
  switch (raw.kind) {
    case 'text':
      return { ...header, kind: 'text', text: raw.text! }
    case 'receipt':
      if (raw.receipt!.messageIds.length === 0) throw new InvalidValueError('Payload', 'receipt', 'names no message')
      return { ...header, kind: 'receipt', receipt: raw.receipt! }
    case 'typing':
      return { ...header, kind: 'typing', typing: raw.typing! }
    case 'call-signal':
      return { ...header, kind: 'call-signal', callSignal: raw.callSignal! }
    case 'deposit-token':
      return { ...header, kind: 'deposit-token', depositToken: raw.depositToken! }
    case 'resend': {
      const n = raw.resend!.senderSeqs.length + raw.resend!.messageIds.length
      if (n === 0 || n > MAX_RESEND_ITEMS) throw new InvalidValueError('Payload', 'resend', 'names 0 or too many items')
      return { ...header, kind: 'resend', resend: raw.resend! }
    }
    case 'group-control':
      return { ...header, kind: 'group-control', groupControl: raw.groupControl! }
  }
}

/** Encodes and pads a payload: the bytes to hand to the ratchet. */
export function encodePaddedPayload(payload: PayloadInit): Uint8Array {
  return padPayload(encodePayload(payload))
}

/** Unpads and decodes what the ratchet decrypted. */
export function decodePaddedPayload(padded: Uint8Array): Payload {
  return decodePayload(unpad(padded))
}
