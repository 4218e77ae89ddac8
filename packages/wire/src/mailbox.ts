/**
 * The mailbox protocol on `/parley/mailbox/1.0.0`: store-and-forward of opaque envelopes at a relay, and the
 * one-time prekey batches a node leaves there. Every stream is a sequence of length-prefixed MailboxRequest frames,
 * each answered by one MailboxResponse.
 *
 * ```proto
 * message MailboxRegistration {        // signed by the owner's identity key
 *   uint64 version = 1;                // 1
 *   bytes identity_key = 2;            // 32 bytes: the mailbox is this identity's
 *   bytes relay = 3;                   // the relay's peer id (binary): a registration is valid at one relay only
 *   uint64 expires_at = 4;             // ms since the epoch
 *   repeated bytes deposit_token_hashes = 5;  // SHA-256 of deposit tokens, at most 256; none: anyone may deposit
 *   bytes signature = 6;               // Ed25519 over "Parley/v1/mailbox-registration" ‖ 0x00 ‖ fields 1–5
 * }
 * message MailboxRequest {
 *   uint64 version = 1;
 *   Op op = 2;                         // REGISTER 1, DEPOSIT 2, CHALLENGE 3, AUTH 4, FETCH 5, ACK 6, PUT_PREKEYS 7,
 *                                      // TAKE_PREKEYS 8
 *   bytes registration = 3;            // REGISTER: an encoded MailboxRegistration
 *   bytes mailbox = 4;                 // DEPOSIT, CHALLENGE, AUTH, TAKE_PREKEYS: the owner's 32-byte identity key
 *   bytes envelope = 5;                // DEPOSIT: opaque, 1..MAX_MAILBOX_ENVELOPE_BYTES
 *   bytes deposit_token = 6;           // DEPOSIT, optional: 32 bytes
 *   bytes challenge = 7;               // AUTH: the 32 bytes CHALLENGE returned
 *   bytes signature = 8;               // AUTH: Ed25519 over "Parley/v1/mailbox-auth" ‖ 0x00 ‖ len(relay) ‖ relay ‖ mailbox ‖ challenge
 *   repeated uint64 ids = 9;           // ACK: ids of fetched items, at most MAX_MAILBOX_ACK_IDS
 *   reserved 10;
 *   repeated bytes one_time_prekeys = 11;  // PUT_PREKEYS: encodeOneTimePrekey, at most MAX_MAILBOX_PREKEYS_PER_PUT
 * }
 * message MailboxItem { uint64 id = 1; uint64 deposited_at = 2; bytes envelope = 3; }
 * message MailboxResponse {
 *   uint64 version = 1;
 *   Status status = 2;                 // OK 1, ERROR 2
 *   string error_code = 3;             // exactly when ERROR
 *   uint64 id = 4;                     // DEPOSIT: the item's id at this relay
 *   bytes challenge = 5;               // CHALLENGE: 32 fresh random bytes, single use
 *   repeated MailboxItem items = 6;    // FETCH: oldest first
 *   bool more = 7;                     // FETCH: more items wait after these
 *   uint64 prekeys_x25519 = 8;         // AUTH, PUT_PREKEYS: one-time prekeys the relay still holds for the owner
 *   uint64 prekeys_kem = 9;
 *   uint64 retry_after_ms = 10;        // ERROR RateLimited: when to try again
 *   repeated bytes one_time_prekeys = 11;  // TAKE_PREKEYS: at most one of each kind, never handed out again
 * }
 * ```
 *
 * An owner session is CHALLENGE → AUTH on one stream; FETCH, ACK and PUT_PREKEYS are accepted on that stream after
 * a successful AUTH only (the stream belongs to one Noise-authenticated connection). A challenge is single use and
 * names the relay, so neither a replayed AUTH nor one relayed from another relay is accepted.
 *
 * What a relay stores names no one: mailboxes are keyed by `mailboxId(identity)`, a hash of the identity key, and the
 * registration itself is not kept (only its expiry and deposit-token hashes). The owner's identity key crosses the
 * wire in requests, never to disk. Prekey batches hold one-time prekeys only: a sender takes the signed bundle from
 * the owner's DHT record (it found the relays there) and one-time prekeys from TAKE_PREKEYS, and verifies both.
 */
import { checkErrorCode, checkStatus, ERROR_CODE_TYPE } from './ack.ts'
import {
  DEPOSIT_TOKEN_BYTES,
  IDENTITY_KEY_BYTES,
  MAILBOX_CHALLENGE_BYTES,
  MAX_MAILBOX_ACK_IDS,
  MAX_MAILBOX_ENVELOPE_BYTES,
  MAX_MAILBOX_PAGE_ITEMS,
  MAX_MAILBOX_PREKEYS_PER_PUT,
  MAX_MAILBOX_REGISTRATION_BYTES,
  MAX_MAILBOX_REQUEST_BYTES,
  MAX_MAILBOX_RESPONSE_BYTES,
  MAX_ONE_TIME_PREKEY_BYTES,
  SIGNATURE_BYTES
} from './constants.ts'
import { InvalidValueError } from './errors.ts'
import { decodeMessage, defineSchema, encodeMessage, fixedBytes } from './protobuf.ts'
import { decodeVersioned, VERSION_FIELD } from './versioned.ts'

// ---------------------------------------------------------------- requests

export type MailboxOp = 'register' | 'deposit' | 'challenge' | 'auth' | 'fetch' | 'ack' | 'put-prekeys' | 'take-prekeys'

export type MailboxRequest =
  | { readonly op: 'register'; readonly registration: Uint8Array }
  | {
      readonly op: 'deposit'
      readonly mailbox: Uint8Array
      readonly envelope: Uint8Array
      readonly depositToken?: Uint8Array
    }
  | { readonly op: 'challenge'; readonly mailbox: Uint8Array }
  | {
      readonly op: 'auth'
      readonly mailbox: Uint8Array
      readonly challenge: Uint8Array
      readonly signature: Uint8Array
    }
  | { readonly op: 'fetch' }
  | { readonly op: 'ack'; readonly ids: readonly number[] }
  | { readonly op: 'put-prekeys'; readonly oneTimePrekeys: readonly Uint8Array[] }
  | { readonly op: 'take-prekeys'; readonly mailbox: Uint8Array }

const OPS = {
  register: 1,
  deposit: 2,
  challenge: 3,
  auth: 4,
  fetch: 5,
  ack: 6,
  'put-prekeys': 7,
  'take-prekeys': 8
} as const

export const MAILBOX_REQUEST_SCHEMA = defineSchema({
  name: 'MailboxRequest',
  maxBytes: MAX_MAILBOX_REQUEST_BYTES,
  fields: [
    VERSION_FIELD,
    { no: 2, name: 'op', type: { kind: 'enum', values: OPS }, rule: 'required' },
    {
      no: 3,
      name: 'registration',
      type: { kind: 'bytes', minLength: 1, maxLength: MAX_MAILBOX_REGISTRATION_BYTES },
      rule: 'optional'
    },
    {
      no: 4,
      name: 'mailbox',
      type: fixedBytes(IDENTITY_KEY_BYTES),
      rule: 'optional'
    },
    {
      no: 5,
      name: 'envelope',
      type: { kind: 'bytes', minLength: 1, maxLength: MAX_MAILBOX_ENVELOPE_BYTES },
      rule: 'optional'
    },
    {
      no: 6,
      name: 'depositToken',
      type: fixedBytes(DEPOSIT_TOKEN_BYTES),
      rule: 'optional'
    },
    {
      no: 7,
      name: 'challenge',
      type: fixedBytes(MAILBOX_CHALLENGE_BYTES),
      rule: 'optional'
    },
    {
      no: 8,
      name: 'signature',
      type: fixedBytes(SIGNATURE_BYTES),
      rule: 'optional'
    },
    { no: 9, name: 'ids', type: { kind: 'uint' }, rule: 'repeated', maxCount: MAX_MAILBOX_ACK_IDS },
    {
      no: 11,
      name: 'oneTimePrekeys',
      type: { kind: 'bytes', minLength: 1, maxLength: MAX_ONE_TIME_PREKEY_BYTES },
      rule: 'repeated',
      maxCount: MAX_MAILBOX_PREKEYS_PER_PUT
    }
  ]
})

type RawRequest = {
  version: number
  op: MailboxOp
  registration?: Uint8Array | undefined
  mailbox?: Uint8Array | undefined
  envelope?: Uint8Array | undefined
  depositToken?: Uint8Array | undefined
  challenge?: Uint8Array | undefined
  signature?: Uint8Array | undefined
  ids: number[]
  oneTimePrekeys: Uint8Array[]
}

// Which fields each op requires; every other field must be absent.
const REQUIRED: Record<MailboxOp, readonly (keyof RawRequest)[]> = {
  register: ['registration'],
  deposit: ['mailbox', 'envelope'],
  challenge: ['mailbox'],
  auth: ['mailbox', 'challenge', 'signature'],
  fetch: [],
  ack: ['ids'],
  'put-prekeys': ['oneTimePrekeys'],
  'take-prekeys': ['mailbox']
}
const OPTIONAL: Partial<Record<MailboxOp, readonly (keyof RawRequest)[]>> = { deposit: ['depositToken'] }
const PAYLOAD_FIELDS = [
  'registration',
  'mailbox',
  'envelope',
  'depositToken',
  'challenge',
  'signature',
  'ids',
  'oneTimePrekeys'
] as const

function present(raw: RawRequest, f: (typeof PAYLOAD_FIELDS)[number]): boolean {
  const v = raw[f]
  return Array.isArray(v) ? v.length > 0 : v !== undefined
}

function checkRequestShape(raw: RawRequest): MailboxRequest {
  const required = REQUIRED[raw.op]
  const optional = OPTIONAL[raw.op] ?? []
  for (const f of PAYLOAD_FIELDS) {
    const has = present(raw, f)
    if (required.includes(f) && !has) throw new InvalidValueError('MailboxRequest', f, `missing for ${raw.op}`)
    if (!required.includes(f) && !optional.includes(f) && has) {
      throw new InvalidValueError('MailboxRequest', f, `not allowed for ${raw.op}`)
    }
  }
  const { version: _v, ...rest } = raw
  const out: Record<string, unknown> = { op: raw.op }
  for (const f of [...required, ...optional]) if (present(rest as RawRequest, f as never)) out[f] = rest[f as never]
  return out as MailboxRequest
}

export function encodeMailboxRequest(request: MailboxRequest): Uint8Array {
  const raw: RawRequest = { version: 1, ids: [], oneTimePrekeys: [], ...(request as Partial<RawRequest>) } as RawRequest
  checkRequestShape(raw)
  return encodeMessage(MAILBOX_REQUEST_SCHEMA, raw as never)
}

/** Decodes a request; a field its op does not use, or a missing one it needs, is an InvalidValueError. */
export function decodeMailboxRequest(bytes: Uint8Array): MailboxRequest {
  return checkRequestShape(decodeVersioned(MAILBOX_REQUEST_SCHEMA, bytes) as RawRequest)
}

// ---------------------------------------------------------------- responses

export interface MailboxItem {
  readonly id: number
  readonly depositedAt: number
  readonly envelope: Uint8Array
}

export const MAILBOX_ITEM_SCHEMA = defineSchema({
  name: 'MailboxItem',
  maxBytes: MAX_MAILBOX_ENVELOPE_BYTES + 32,
  fields: [
    { no: 1, name: 'id', type: { kind: 'uint' }, rule: 'required' },
    { no: 2, name: 'depositedAt', type: { kind: 'uint' }, rule: 'required' },
    {
      no: 3,
      name: 'envelope',
      type: { kind: 'bytes', minLength: 1, maxLength: MAX_MAILBOX_ENVELOPE_BYTES },
      rule: 'required'
    }
  ]
})

/** Encodes a mailbox item (a relay keeps each deposited envelope in this form on disk). */
export function encodeMailboxItem(item: MailboxItem): Uint8Array {
  return encodeMessage(MAILBOX_ITEM_SCHEMA, item)
}

/** Decodes a mailbox item; typed errors for anything but exactly the form encodeMailboxItem writes. */
export function decodeMailboxItem(bytes: Uint8Array): MailboxItem {
  return decodeMessage(MAILBOX_ITEM_SCHEMA, bytes)
}

/**
 * The error codes a mailbox relay of this version answers with (`MailboxResponse.errorCode`). A client must still
 * take any other well-formed code: a later relay may add some.
 */
export const MAILBOX_ERROR_CODES = [
  'Malformed',
  'RateLimited',
  'TooLarge',
  'QuotaExceeded',
  'UnknownMailbox',
  'DepositTokenRequired',
  'TooManyMailboxes',
  'RelayFull',
  'WrongRelay',
  'RegistrationExpired',
  'StaleRegistration',
  'BadSignature',
  'UnknownChallenge',
  'NotAuthenticated',
  'BadPrekey',
  'StoreFailed',
  'ShuttingDown'
] as const
/** One of MAILBOX_ERROR_CODES. */
export type MailboxErrorCode = (typeof MAILBOX_ERROR_CODES)[number]

export type MailboxResponse =
  | {
      readonly status: 'ok'
      readonly id?: number
      readonly challenge?: Uint8Array
      readonly items?: readonly MailboxItem[]
      readonly more?: boolean
      readonly prekeysX25519?: number
      readonly prekeysKem?: number
      readonly oneTimePrekeys?: readonly Uint8Array[]
    }
  | { readonly status: 'error'; readonly errorCode: string; readonly retryAfterMs?: number }

export const MAILBOX_RESPONSE_SCHEMA = defineSchema({
  name: 'MailboxResponse',
  maxBytes: MAX_MAILBOX_RESPONSE_BYTES,
  fields: [
    VERSION_FIELD,
    { no: 2, name: 'status', type: { kind: 'enum', values: { ok: 1, error: 2 } }, rule: 'required' },
    { no: 3, name: 'errorCode', type: ERROR_CODE_TYPE, rule: 'optional' },
    { no: 4, name: 'id', type: { kind: 'uint' }, rule: 'optional' },
    {
      no: 5,
      name: 'challenge',
      type: fixedBytes(MAILBOX_CHALLENGE_BYTES),
      rule: 'optional'
    },
    {
      no: 6,
      name: 'items',
      type: { kind: 'message', schema: MAILBOX_ITEM_SCHEMA, maxLength: MAILBOX_ITEM_SCHEMA.maxBytes },
      rule: 'repeated',
      maxCount: MAX_MAILBOX_PAGE_ITEMS
    },
    { no: 7, name: 'more', type: { kind: 'bool' }, rule: 'optional' },
    { no: 8, name: 'prekeysX25519', type: { kind: 'uint' }, rule: 'optional' },
    { no: 9, name: 'prekeysKem', type: { kind: 'uint' }, rule: 'optional' },
    { no: 10, name: 'retryAfterMs', type: { kind: 'uint' }, rule: 'optional' },
    {
      no: 11,
      name: 'oneTimePrekeys',
      type: { kind: 'bytes', minLength: 1, maxLength: MAX_ONE_TIME_PREKEY_BYTES },
      rule: 'repeated',
      maxCount: 2
    }
  ]
})

export function encodeMailboxResponse(response: MailboxResponse): Uint8Array {
  if (response.status === 'error') {
    checkErrorCode('MailboxResponse.errorCode', response.errorCode)
    return encodeMessage(MAILBOX_RESPONSE_SCHEMA, {
      version: 1,
      status: 'error',
      errorCode: response.errorCode,
      items: [],
      oneTimePrekeys: [],
      ...(response.retryAfterMs !== undefined && { retryAfterMs: response.retryAfterMs })
    } as never)
  }
  const { status: _s, items, oneTimePrekeys, ...rest } = response
  return encodeMessage(MAILBOX_RESPONSE_SCHEMA, {
    version: 1,
    status: 'ok',
    items: items ? [...items] : [],
    oneTimePrekeys: oneTimePrekeys ? [...oneTimePrekeys] : [],
    ...rest
  } as never)
}

export function decodeMailboxResponse(bytes: Uint8Array): MailboxResponse {
  const raw = decodeVersioned(MAILBOX_RESPONSE_SCHEMA, bytes)
  checkStatus('MailboxResponse', raw.status, raw.errorCode)
  if (raw.status === 'error') {
    if (raw.items.length > 0 || raw.oneTimePrekeys.length > 0 || raw.id !== undefined || raw.challenge !== undefined) {
      throw new InvalidValueError('MailboxResponse', 'status', 'error with ok fields')
    }
    return {
      status: 'error',
      errorCode: raw.errorCode!,
      ...(raw.retryAfterMs !== undefined && { retryAfterMs: raw.retryAfterMs })
    }
  }
  if (raw.retryAfterMs !== undefined) throw new InvalidValueError('MailboxResponse', 'retryAfterMs', 'present with ok')
  return {
    status: 'ok',
    ...(raw.id !== undefined && { id: raw.id }),
    ...(raw.challenge !== undefined && { challenge: raw.challenge }),
    ...(raw.items.length > 0 && { items: raw.items }),
    ...(raw.more !== undefined && { more: raw.more }),
    ...(raw.prekeysX25519 !== undefined && { prekeysX25519: raw.prekeysX25519 }),
    ...(raw.prekeysKem !== undefined && { prekeysKem: raw.prekeysKem }),
    ...(raw.oneTimePrekeys.length > 0 && { oneTimePrekeys: raw.oneTimePrekeys })
  }
}
