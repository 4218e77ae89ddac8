/**
 * The commands a running node answers — the same for `run --json` (stdin lines), the control socket (one-shot
 * commands while a node runs) and the one-shot path (the CLI opens the profile itself).
 */
import { defaultBackend, safetyNumber } from '@parley/crypto'
import type { ContactRecord, MessageRequest, Messenger } from '@parley/messenger'
import { EXIT_FAILURE } from './constants.ts'
import { executeGroup, type GroupCommand, parseGroupCommand } from './group.ts'

export type Command =
  | { cmd: 'id' }
  | { cmd: 'add'; contact: string; name?: string }
  | { cmd: 'contacts' }
  | { cmd: 'send'; contact: string; text: string }
  | { cmd: 'history'; contact: string }
  | { cmd: 'verify'; contact: string }
  | { cmd: 'accept'; contact: string; name?: string }
  | { cmd: 'read'; contact: string; ids: string[] }
  | { cmd: 'requests' }
  | { cmd: 'decline'; contact: string }
  | GroupCommand

/** A failure the user can act on: a stable `code` (JSON events, the control socket) and the process exit code. */
export class CommandError extends Error {
  readonly code: string
  readonly exitCode: number
  constructor(code: string, message: string, exitCode: number = EXIT_FAILURE) {
    super(message)
    this.name = 'CommandError'
    this.code = code
    this.exitCode = exitCode
  }
}

/** Validates a parsed JSON command; a clear typed error for anything else. */
export function parseCommand(value: unknown): Command {
  if (typeof value !== 'object' || value === null) throw new CommandError('BadCommand', 'a command is a JSON object')
  const v = value as Record<string, unknown>
  const str = (k: string) => {
    if (typeof v[k] !== 'string' || (v[k] as string).length === 0)
      throw new CommandError('BadCommand', `"${k}" must be a non-empty string`)
    return v[k] as string
  }
  switch (v.cmd) {
    case 'id':
    case 'contacts':
    case 'requests':
      return { cmd: v.cmd }
    case 'add':
      return { cmd: 'add', contact: str('contact'), ...(typeof v.name === 'string' && { name: v.name }) }
    case 'send':
      return { cmd: 'send', contact: str('contact'), text: str('text') }
    case 'history':
    case 'verify':
    case 'decline':
      return { cmd: v.cmd, contact: str('contact') }
    case 'accept':
      return { cmd: 'accept', contact: str('contact'), ...(typeof v.name === 'string' && { name: v.name }) }
    case 'read':
      if (!Array.isArray(v.ids) || !v.ids.every((x) => typeof x === 'string'))
        throw new CommandError('BadCommand', '"ids" must be strings')
      return { cmd: 'read', contact: str('contact'), ids: v.ids as string[] }
    case 'group':
      return parseGroupCommand(v)
    default:
      throw new CommandError('BadCommand', `unknown command ${JSON.stringify(v.cmd)}`)
  }
}

/** A contact by name, full identity hex or a unique identity prefix (at least 8 hex digits). */
export async function findContact(m: Messenger, ref: string): Promise<ContactRecord> {
  const all = await m.contacts()
  const byName = all.filter((c) => c.name === ref)
  if (byName.length === 1) return byName[0]!
  const lower = ref.toLowerCase()
  const byId = /^[0-9a-f]{8,64}$/.test(lower) ? all.filter((c) => c.identity.startsWith(lower)) : []
  if (byId.length === 1) return byId[0]!
  if (byName.length + byId.length > 1) throw new CommandError('AmbiguousContact', `"${ref}" names several contacts`)
  throw new CommandError('UnknownContact', `no contact "${ref}" (see 'parley contacts')`)
}

/**
 * A pending message request by the sender's full identity hex or a unique prefix of it (8+ hex digits). Requests have
 * no names: a stranger chooses nothing we show as a name.
 */
export async function findRequest(m: Messenger, ref: string): Promise<MessageRequest> {
  const lower = ref.toLowerCase()
  const found = /^[0-9a-f]{8,64}$/.test(lower) ? (await m.requests()).filter((r) => r.identity.startsWith(lower)) : []
  if (found.length === 1) return found[0]!
  if (found.length > 1) throw new CommandError('AmbiguousRequest', `"${ref}" names several message requests`)
  throw new CommandError('UnknownRequest', `no message request from "${ref}" (see 'parley requests')`)
}

/** Whether `e` says no contact matched (then a message request may). */
const noContact = (e: unknown) => e instanceof CommandError && e.code === 'UnknownContact'

/** The 30-digit fingerprint of an identity (hex), as `parley id` shows one's own: the half it adds to safety numbers. */
export async function fingerprintOf(identity: string): Promise<string> {
  const key = Uint8Array.from(identity.match(/../g) ?? [], (h) => Number.parseInt(h, 16))
  return (await safetyNumber(defaultBackend, key, key)).display.slice(0, 35)
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

/** Runs one command; the result is plain JSON. */
export async function execute(m: Messenger, c: Command): Promise<unknown> {
  switch (c.cmd) {
    case 'id':
      return {
        identity: hex(m.identityKey),
        fingerprint: await m.fingerprint(),
        invite: m.invite(),
        addresses: m.addresses
      }
    case 'add': {
      const r = await m.addContact(c.contact, c.name !== undefined ? { name: c.name } : {})
      return { contact: r.identity, name: r.name, status: r.status }
    }
    case 'contacts':
      return (await m.contacts()).map((r) => ({
        contact: r.identity,
        name: r.name,
        status: r.status,
        verified: r.verified
      }))
    case 'send': {
      const contact = await findContact(m, c.contact)
      const r = await m.send(contact.identity, c.text)
      return { id: r.id, status: r.status, contact: contact.identity }
    }
    case 'history': {
      // A message request's messages can be read before it is accepted or declined.
      const identity = await findContact(m, c.contact).then(
        (r) => r.identity,
        async (e: unknown) => {
          if (!noContact(e)) throw e
          return (await findRequest(m, c.contact).catch(() => Promise.reject(e))).identity
        }
      )
      return (await m.history(identity)).map((h) => ({
        id: h.id,
        direction: h.direction,
        text: h.text,
        senderSeq: h.senderSeq,
        sentAt: h.sentAt,
        state: h.state,
        ...(h.waitingAt !== undefined && { waitingAt: h.waitingAt })
      }))
    }
    case 'verify': {
      const contact = await findContact(m, c.contact)
      const session = await m.sessionWith(contact.identity)
      return {
        contact: contact.identity,
        safetyNumber: await m.safetyNumber(contact.identity),
        status: contact.status,
        ...(session !== undefined && { session: session.sessionId })
      }
    }
    case 'accept': {
      // A contact: its new identity after a safety-number change. Otherwise a message request: the sender becomes
      // a contact (named `name`), and its messages get their delivered receipts.
      const contact = await findContact(m, c.contact).catch((e: unknown) => {
        if (noContact(e)) return undefined
        throw e
      })
      if (contact !== undefined) {
        const r = await m.acceptIdentity(contact.identity)
        return { contact: r.identity, status: r.status }
      }
      const request = await findRequest(m, c.contact)
      const r = await m.acceptRequest(request.identity, c.name !== undefined ? { name: c.name } : {})
      return { contact: r.identity, ...(r.name !== undefined && { name: r.name }), status: r.status, request: true }
    }
    case 'requests':
      return Promise.all(
        (await m.requests())
          .sort((a, b) => b.lastAt - a.lastAt)
          .map(async (r) => ({
            contact: r.identity,
            fingerprint: await fingerprintOf(r.identity),
            messages: r.messages,
            bytes: r.bytes,
            firstAt: r.firstAt,
            lastAt: r.lastAt
          }))
      )
    case 'decline': {
      const request = await findRequest(m, c.contact)
      await m.declineRequest(request.identity)
      return { contact: request.identity, declined: true }
    }
    case 'read': {
      const contact = await findContact(m, c.contact)
      await m.markRead(contact.identity, c.ids)
      return { contact: contact.identity, read: c.ids.length }
    }
    case 'group':
      return executeGroup(m, c)
  }
}
