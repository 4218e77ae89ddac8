/**
 * The commands a running node answers — the same for `run --json` (stdin lines), the control socket (one-shot
 * commands while a node runs) and the one-shot path (the CLI opens the profile itself).
 */
import type { ContactRecord, Messenger } from '@parley/messenger'
import { EXIT_FAILURE } from './constants.ts'

export type Command =
  | { cmd: 'id' }
  | { cmd: 'add'; contact: string; name?: string }
  | { cmd: 'contacts' }
  | { cmd: 'send'; contact: string; text: string }
  | { cmd: 'history'; contact: string }
  | { cmd: 'verify'; contact: string }
  | { cmd: 'accept'; contact: string }
  | { cmd: 'read'; contact: string; ids: string[] }

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
      return { cmd: v.cmd }
    case 'add':
      return { cmd: 'add', contact: str('contact'), ...(typeof v.name === 'string' && { name: v.name }) }
    case 'send':
      return { cmd: 'send', contact: str('contact'), text: str('text') }
    case 'history':
    case 'verify':
    case 'accept':
      return { cmd: v.cmd, contact: str('contact') }
    case 'read':
      if (!Array.isArray(v.ids) || !v.ids.every((x) => typeof x === 'string'))
        throw new CommandError('BadCommand', '"ids" must be strings')
      return { cmd: 'read', contact: str('contact'), ids: v.ids as string[] }
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
      const contact = await findContact(m, c.contact)
      return (await m.history(contact.identity)).map((h) => ({
        id: h.id,
        direction: h.direction,
        text: h.text,
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
      const contact = await findContact(m, c.contact)
      const r = await m.acceptIdentity(contact.identity)
      return { contact: r.identity, status: r.status }
    }
    case 'read': {
      const contact = await findContact(m, c.contact)
      await m.markRead(contact.identity, c.ids)
      return { contact: contact.identity, read: c.ids.length }
    }
  }
}
