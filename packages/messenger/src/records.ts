/**
 * The messenger's own records at rest (inside the encrypted profile store): contacts, history, outbox, dedup ids.
 * Versioned JSON with strict decoders: an unknown version or a malformed record is a typed error, never a guess.
 */

import { MAX_DEVICE_CLAIMS } from './constants.ts'
import { CorruptProfileRecordError } from './errors.ts'

export const RECORD_VERSION = 1

/** The profile store's namespaces. */
export type Namespace = 'meta' | 'sessions' | 'contacts' | 'history' | 'outbox' | 'seen' | 'devices'
export const NAMESPACES: readonly Namespace[] = ['meta', 'sessions', 'contacts', 'history', 'outbox', 'seen', 'devices']

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
/**
 * `deposited`: held by the contact's mailbox relays (listed in `waitingAt`) until the contact comes online;
 * `sent`: stored by the contact's device; `failed`: dropped unsent (queued for an identity the user then replaced).
 */
export type DeliveryState = 'pending' | 'deposited' | 'sent' | 'delivered' | 'read' | 'failed'

/** How far along each state is: a receipt never moves a message back. */
export const DELIVERY_RANK: Readonly<Record<DeliveryState, number>> = {
  failed: -1,
  pending: 0,
  deposited: 1,
  sent: 2,
  delivered: 3,
  read: 4
}

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
  /** For `deposited`: the peer ids of the relays holding it. */
  readonly waitingAt?: readonly string[]
  /**
   * A message request's message whose sender has not learnt of its delivery (it came by mail or a single DM stream,
   * not acknowledged on the session stream): a delivered receipt is owed once the request is accepted.
   */
  readonly receiptOwed?: boolean
}

/** A message waiting for delivery: plaintext payload until a session exists, then the exact ciphertext. */
export interface OutboxRecord {
  readonly v: 1
  readonly id: string
  readonly contact: string
  /**
   * `token`: a deposit token for the contact (see mailbox.requireDepositTokens); `resend`: asks the contact to send
   * messages again. Everything but `text` is control traffic: bounded apart from texts, and it expires.
   */
  readonly kind: 'text' | 'receipt' | 'token' | 'resend'
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
  /** The contact's mailbox relays (multiaddrs with /p2p/) from that record. */
  readonly relays?: readonly string[]
  /** hex X25519 agreement key of the device (from its certificate): what deposits seal the sender to. */
  readonly agreementKey?: string
}

export function decodeDevice(bytes: Uint8Array): DeviceRecord {
  const r = parse('device', bytes)
  require('device', hex(r.deviceKey) &&
    Array.isArray(r.addresses) &&
    (r.addresses as unknown[]).every(str) &&
    opt(r.sequence, nat) &&
    opt(r.relays, (x) => Array.isArray(x) && x.every(str)) &&
    opt(r.agreementKey, hex))
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
    Object.hasOwn(DELIVERY_RANK, r.state as string) &&
    opt(r.waitingAt, (x) => Array.isArray(x) && x.every(str)) &&
    opt(r.receiptOwed, (x) => typeof x === 'boolean'))
  return r as unknown as HistoryRecord
}

export function decodeOutbox(bytes: Uint8Array): OutboxRecord {
  const r = parse('outbox', bytes)
  require('outbox', hex(r.id) &&
    hex(r.contact) &&
    (r.kind === 'text' || r.kind === 'receipt' || r.kind === 'token' || r.kind === 'resend') &&
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

/**
 * meta keys of received texts stored but not yet announced (`<prefix><contact>/<id>` → history key): written in the
 * batch that stores the text, deleted once its `message` event was emitted. What a crash left here is announced on
 * the next start, so every stored message is announced (at least once; exactly once unless the process dies between
 * the event and the deletion).
 */
export const UNANNOUNCED = 'unannounced/'

/** meta keys of deposit tokens: the one we gave a contact (`out`), the one a contact gave us (`in`). */
export const TOKEN_OUT = 'deposit-token/out/'
export const TOKEN_IN = 'deposit-token/in/'

/** What reads a profile (a ProfileStore or the messenger's cached view of one). */
export interface ProfileReader {
  get(namespace: Namespace, key: string): Promise<Uint8Array | undefined>
}

/** What writes a batch of profile records. */
export interface RecordBatch {
  put(namespace: Namespace, key: string, value: Uint8Array): void
  delete(namespace: Namespace, key: string): void
}

/**
 * A contact's last known device (key and addresses). Kept apart from the contact record, which only send() changes
 * under the contact's lock, so that learning a device never races a sequence-number update.
 */
export async function readDevice(store: ProfileReader, identity: string): Promise<DeviceRecord | undefined> {
  const bytes = await store.get('devices', `of/${identity}`)
  return bytes === undefined ? undefined : decodeDevice(bytes)
}

/** Records, in `b`, the device an identity uses (identity -> device): where messages to that identity go. */
export function putDeviceOf(
  b: RecordBatch,
  identity: string,
  deviceKey: string,
  addresses: string[],
  fromRecord?: { sequence: number; relays: string[]; agreementKey: string }
): void {
  b.put('devices', `of/${identity}`, encodeRecord({ v: 1, deviceKey, addresses, ...fromRecord }))
}

/**
 * The identity a device key is bound to (device -> identity): who sent what arrives over a connection from that
 * device. A binding is written only on proof — a message over a connection authenticated as that device, or a
 * contact's signed DHT record for a device bound to nobody yet — never on a claim that came through a mailbox.
 */
export async function boundIdentity(store: ProfileReader, deviceKey: string): Promise<string | undefined> {
  const bytes = await store.get('devices', deviceKey)
  return bytes === undefined ? undefined : dec.decode(bytes)
}

export function bindDevice(b: RecordBatch, deviceKey: string, identity: string): void {
  b.put('devices', deviceKey, enc.encode(identity))
}

const claimKey = (deviceKey: string) => `claim/${deviceKey}`

/**
 * Identities whose messages through a mailbox named this device key (unproven: a sealed sender is not an
 * authenticated connection). A direct message from the device later tries their sessions, and binds the one it
 * opens under.
 */
export async function deviceClaims(store: ProfileReader, deviceKey: string): Promise<string[]> {
  const bytes = await store.get('devices', claimKey(deviceKey))
  if (bytes === undefined) return []
  const r = parse('device claims', bytes)
  require('device claims', Array.isArray(r.identities) && (r.identities as unknown[]).every(hex))
  return r.identities as string[]
}

export async function addDeviceClaim(
  store: ProfileReader,
  b: RecordBatch,
  deviceKey: string,
  identity: string
): Promise<void> {
  const claims = await deviceClaims(store, deviceKey)
  if (claims[0] === identity) return
  const next = [identity, ...claims.filter((c) => c !== identity)].slice(0, MAX_DEVICE_CLAIMS)
  b.put('devices', claimKey(deviceKey), encodeRecord({ v: 1, identities: next }))
}

export async function removeDeviceClaim(
  store: ProfileReader,
  b: RecordBatch & { delete(namespace: Namespace, key: string): void },
  deviceKey: string,
  identity: string
): Promise<void> {
  const claims = await deviceClaims(store, deviceKey)
  if (!claims.includes(identity)) return
  const rest = claims.filter((c) => c !== identity)
  if (rest.length === 0) b.delete('devices', claimKey(deviceKey))
  else b.put('devices', claimKey(deviceKey), encodeRecord({ v: 1, identities: rest }))
}

/**
 * Dedup keys of received messages: the authenticated sender's identity and the message id. A message id alone is not
 * enough (a relay that saw Alice's id could send us a message of its own under it first, and Alice's would then be
 * dropped as a duplicate). Our own sent messages keep the bare id (they index history for receipts).
 */
export function receivedKey(identity: string, id: string): string {
  return `in/${identity}/${id}`
}

/**
 * Whether a message `id` from `identity` was received already. Profiles from before per-sender keys hold bare ids:
 * those count when they point at a message received from the same identity or at no history (a control message).
 */
export async function wasReceived(store: ProfileReader, identity: string, id: string): Promise<boolean> {
  if ((await store.get('seen', receivedKey(identity, id))) !== undefined) return true
  const legacy = await store.get('seen', id)
  if (legacy === undefined) return false
  const history = decodeSeen(legacy).history
  return history === undefined || history.startsWith(`${identity}/in/`)
}
