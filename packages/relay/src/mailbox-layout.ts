/**
 * What the mailbox service keeps on disk, and how. One datastore record per registration, envelope and one-time
 * prekey, all under `/parley-mailbox/`:
 *
 *   /parley-mailbox/r/<mailbox id>                       registration: JSON `{"expiresAt":…,"tokens":[…]}`
 *   /parley-mailbox/e/<mailbox id>/<item id>             envelope: wire's mailbox item (id, depositedAt, bytes)
 *   /parley-mailbox/k/<mailbox id>/<kind>/<prekey id>    one-time prekey, exactly as the owner encoded and signed it
 *
 * `<mailbox id>` is the hex of `mailboxId(identity)` (a hash: no key names a user), `<item id>` 14 hex digits and
 * `<prekey id>` 8, so key order is id order. Token values are SHA-256 hashes (hex) of the owner's deposit tokens.
 */
import { decodeMailboxItem, encodeMailboxItem, type MailboxItem } from '@parley/wire'
import { Key } from 'interface-datastore'

/** Every mailbox record lives under this prefix (one query lists them all). */
export const MAILBOX_KEY_PREFIX = '/parley-mailbox'
const REG = `${MAILBOX_KEY_PREFIX}/r/`
const ENV = `${MAILBOX_KEY_PREFIX}/e/`
const OTK = `${MAILBOX_KEY_PREFIX}/k/`

/** The two kinds of one-time prekey a relay holds. */
export type PrekeyKind = 'x25519' | 'kem'
export const PREKEY_KINDS: readonly PrekeyKind[] = ['x25519', 'kem']

/** A registration as stored: its expiry and the deposit-token hashes (hex; empty: anyone may deposit). */
export interface RegistrationRecord {
  expiresAt: number
  tokens: readonly string[]
}

const utf8 = new TextEncoder()
const utf8d = new TextDecoder()
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0')

export function registrationKey(mailbox: string): Key {
  return new Key(`${REG}${mailbox}`)
}

export function envelopeKey(mailbox: string, id: number): Key {
  return new Key(`${ENV}${mailbox}/${hex(id, 14)}`)
}

/** The prefix under which one mailbox's envelopes sort in id order (one range read serves a page). */
export function envelopePrefix(mailbox: string): string {
  return `${ENV}${mailbox}/`
}

export function prekeyKey(mailbox: string, kind: PrekeyKind, id: number): Key {
  return new Key(`${OTK}${mailbox}/${kind}/${hex(id, 8)}`)
}

/** What a stored key names; undefined for a key this layout does not know (left alone). */
export type ParsedKey =
  | { type: 'registration'; mailbox: string }
  | { type: 'envelope'; mailbox: string; id: number }
  | { type: 'prekey'; mailbox: string; kind: PrekeyKind; id: number }

export function parseKey(key: string): ParsedKey | undefined {
  if (key.startsWith(REG)) return { type: 'registration', mailbox: key.slice(REG.length) }
  if (key.startsWith(ENV)) {
    const [mailbox, id] = key.slice(ENV.length).split('/')
    if (mailbox === undefined || id === undefined) return undefined
    return { type: 'envelope', mailbox, id: Number.parseInt(id, 16) }
  }
  if (key.startsWith(OTK)) {
    const [mailbox, kind, id] = key.slice(OTK.length).split('/')
    if (mailbox === undefined || id === undefined || (kind !== 'x25519' && kind !== 'kem')) return undefined
    return { type: 'prekey', mailbox, kind, id: Number.parseInt(id, 16) }
  }
  return undefined
}

export function encodeRegistration(record: RegistrationRecord): Uint8Array {
  return utf8.encode(JSON.stringify({ expiresAt: record.expiresAt, tokens: record.tokens }))
}

export function decodeRegistration(bytes: Uint8Array): RegistrationRecord {
  const rec = JSON.parse(utf8d.decode(bytes)) as { expiresAt: number; tokens: string[] }
  return { expiresAt: rec.expiresAt, tokens: rec.tokens }
}

export function encodeItem(item: MailboxItem): Uint8Array {
  return encodeMailboxItem(item)
}

export function decodeItem(bytes: Uint8Array): MailboxItem {
  return decodeMailboxItem(bytes)
}

/** What one record counts against the store's byte cap: its key and its value, as written. */
export function recordBytes(key: Key, value: Uint8Array): number {
  return key.uint8Array().length + value.length
}
