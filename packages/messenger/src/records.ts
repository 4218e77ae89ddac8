/**
 * The messenger's own records at rest (inside the encrypted profile store): contacts, history, outbox, dedup ids.
 * Versioned JSON with strict decoders: an unknown version or a malformed record is a typed error, never a guess.
 */
import { MessengerError } from './errors.ts'

export const RECORD_VERSION = 1

/** The profile store's namespaces. */
export type Namespace = 'meta' | 'sessions' | 'contacts' | 'history' | 'outbox' | 'seen' | 'devices'
export const NAMESPACES: readonly Namespace[] = ['meta', 'sessions', 'contacts', 'history', 'outbox', 'seen', 'devices']

export class CorruptProfileRecordError extends MessengerError {
  static override readonly name = 'CorruptProfileRecordError'
  constructor(what: string) {
    super('CorruptProfileRecord', `${what}: malformed or unknown version`)
  }
}

export interface ContactRecord {
  readonly v: 1
  /** hex Ed25519 identity key. */
  readonly identity: string
  readonly name?: string
  /** Addresses from the invite (hints; the device record has the current ones). */
  readonly addresses: readonly string[]
  /** `identity-changed`: a new identity was presented under this contact's name; sending is blocked until accepted. */
  readonly status: 'ok' | 'identity-changed'
  readonly pendingIdentity?: string
  /** Next sequence number of our messages to this contact. */
  readonly nextSeq: number
  readonly verified: boolean
  readonly createdAt: number
}

export type Direction = 'in' | 'out'
/** `failed`: dropped unsent (queued for an identity the user then replaced). */
export type DeliveryState = 'pending' | 'sent' | 'delivered' | 'read' | 'failed'

export interface HistoryRecord {
  readonly v: 1
  /** hex 16-byte message id. */
  readonly id: string
  readonly contact: string
  readonly direction: Direction
  readonly senderSeq: number
  readonly sentAt: number
  readonly receivedAt?: number
  readonly text: string
  readonly state: DeliveryState
}

/** A message waiting for delivery: plaintext payload until a session exists, then the exact ciphertext. */
export interface OutboxRecord {
  readonly v: 1
  readonly id: string
  readonly contact: string
  readonly kind: 'text' | 'receipt'
  /** hex padded payload; kept only until the message is encrypted. */
  readonly payload?: string
  /** hex ciphertext and the device address it is for; retries resend exactly these bytes. */
  readonly ciphertext?: string
  readonly address?: string
  readonly attempts: number
  readonly nextAttemptAt: number
  readonly createdAt: number
}

/** A contact's last known device: its key (hex libp2p public key protobuf) and addresses (multiaddr strings). */
export interface DeviceRecord {
  readonly v: 1
  readonly deviceKey: string
  readonly addresses: readonly string[]
  /** Sequence of the DHT record it came from (absent when learnt from a message): older records never win. */
  readonly sequence?: number
}

export function decodeDevice(bytes: Uint8Array): DeviceRecord {
  const r = parse('device', bytes)
  require('device', hex(r.deviceKey) &&
    Array.isArray(r.addresses) &&
    (r.addresses as unknown[]).every(str) &&
    opt(r.sequence, nat))
  return r as unknown as DeviceRecord
}

/** A received (or sent) message id: dedup, and where the history entry lives. */
export interface SeenRecord {
  readonly v: 1
  readonly at: number
  readonly history?: string
}

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

export function encodeRecord(r: object): Uint8Array {
  return enc.encode(JSON.stringify(r))
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

function parse(what: string, bytes: Uint8Array): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(dec.decode(bytes))
  } catch {
    throw new CorruptProfileRecordError(what)
  }
  if (!isObject(value) || value.v !== RECORD_VERSION) throw new CorruptProfileRecordError(what)
  return value
}

const HEX = /^[0-9a-f]*$/
const str = (x: unknown) => typeof x === 'string'
const hex = (x: unknown) => typeof x === 'string' && HEX.test(x)
const nat = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
const opt = (x: unknown, check: (y: unknown) => boolean) => x === undefined || check(x)

function require(what: string, ok: boolean): void {
  if (!ok) throw new CorruptProfileRecordError(what)
}

export function decodeContact(bytes: Uint8Array): ContactRecord {
  const r = parse('contact', bytes)
  require('contact', hex(r.identity) &&
    opt(r.name, str) &&
    opt(r.deviceKey, hex) &&
    Array.isArray(r.addresses) &&
    (r.addresses as unknown[]).every(str) &&
    (r.status === 'ok' || r.status === 'identity-changed') &&
    opt(r.pendingIdentity, hex) &&
    nat(r.nextSeq) &&
    typeof r.verified === 'boolean' &&
    nat(r.createdAt))
  return r as unknown as ContactRecord
}

export function decodeHistory(bytes: Uint8Array): HistoryRecord {
  const r = parse('history', bytes)
  require('history', hex(r.id) &&
    hex(r.contact) &&
    (r.direction === 'in' || r.direction === 'out') &&
    nat(r.senderSeq) &&
    nat(r.sentAt) &&
    opt(r.receivedAt, nat) &&
    str(r.text) &&
    ['pending', 'sent', 'delivered', 'read', 'failed'].includes(r.state as string))
  return r as unknown as HistoryRecord
}

export function decodeOutbox(bytes: Uint8Array): OutboxRecord {
  const r = parse('outbox', bytes)
  require('outbox', hex(r.id) &&
    hex(r.contact) &&
    (r.kind === 'text' || r.kind === 'receipt') &&
    opt(r.payload, hex) &&
    opt(r.ciphertext, hex) &&
    opt(r.address, str) &&
    nat(r.attempts) &&
    nat(r.nextAttemptAt) &&
    nat(r.createdAt))
  return r as unknown as OutboxRecord
}

export function decodeSeen(bytes: Uint8Array): SeenRecord {
  const r = parse('seen', bytes)
  require('seen', nat(r.at) && opt(r.history, str))
  return r as unknown as SeenRecord
}

/**
 * History key: contact, direction, sequence, then the message id — one prefix query returns a conversation, and no
 * message can overwrite another, even one that reuses a sequence number.
 */
export function historyKey(contact: string, direction: Direction, senderSeq: number, id: string): string {
  return `${contact}/${direction}/${String(senderSeq).padStart(16, '0')}/${id}`
}
