/**
 * `parley group create|invite|remove|leave|rename|list|send|history`: MLS groups through the messenger. The same
 * command runs from the command line, as a `run --json` line (`{"cmd":"group","action":"send","group":…,"text":…}`)
 * and over the control socket. A group is named by its id, a unique id prefix (8+ hex digits) or its exact name.
 */
import type { Messenger } from '@parley/messenger'
import { CommandError, findContact } from './commands.ts'
import { EXIT_USAGE } from './constants.ts'
import { safeText } from './terminal.ts'

/** A group command. */
export type GroupCommand =
  | { cmd: 'group'; action: 'create'; name: string }
  | { cmd: 'group'; action: 'invite' | 'remove'; group: string; contact: string }
  | { cmd: 'group'; action: 'leave' | 'history'; group: string }
  | { cmd: 'group'; action: 'rename'; group: string; name: string }
  | { cmd: 'group'; action: 'send'; group: string; text: string }
  | { cmd: 'group'; action: 'list' }

/** The help text of `parley group`. */
export const GROUP_HELP = `Usage: parley group <action> ...

  group create <name>               a new group with you as its only member and admin
  group invite <group> <contact>    add a contact (admins; the contact's node must be online)
  group remove <group> <contact>    remove a member (admins)
  group leave <group>               leave: the admins remove you; the group is forgotten here
  group rename <group> <name>       rename (admins)
  group list                        your groups, their members and admins
  group send <group> <text>         send a text to the group
  group history <group>             the group's texts and membership notices

A group is its id, a unique id prefix (8+ hex digits) or its name. Groups need the network: run 'parley run'
(commands then go to the running node), or a one-shot command starts the network briefly. End-to-end encrypted
with MLS (RFC 9420, X-Wing post-quantum hybrid) over gossipsub: see docs/groups.md.`

const ACTIONS = ['create', 'invite', 'remove', 'leave', 'rename', 'list', 'send', 'history'] as const

/** A group command from command-line arguments (after `group`). */
export function groupFromArgs(args: string[]): GroupCommand {
  const [action, ...rest] = args
  const need = (n: number, what: string) => {
    if (rest.length < n)
      throw new CommandError('BadUsage', `group ${action} needs ${what} (see 'parley group --help')`, EXIT_USAGE)
  }
  switch (action) {
    case 'create':
      need(1, 'a name')
      return { cmd: 'group', action, name: rest.join(' ') }
    case 'invite':
    case 'remove':
      need(2, 'a group and a contact')
      return { cmd: 'group', action, group: rest[0] as string, contact: rest[1] as string }
    case 'leave':
    case 'history':
      need(1, 'a group')
      return { cmd: 'group', action, group: rest[0] as string }
    case 'rename':
      need(2, 'a group and a name')
      return { cmd: 'group', action, group: rest[0] as string, name: rest.slice(1).join(' ') }
    case 'send':
      need(2, 'a group and a text')
      return { cmd: 'group', action, group: rest[0] as string, text: rest.slice(1).join(' ') }
    case 'list':
      return { cmd: 'group', action }
    default:
      throw new CommandError(
        'BadUsage',
        `unknown group action '${action ?? ''}' (one of ${ACTIONS.join(', ')})`,
        EXIT_USAGE
      )
  }
}

/** A group command from a JSON object (`run --json`, the control socket). */
export function parseGroupCommand(v: Record<string, unknown>): GroupCommand {
  const str = (k: string) => {
    if (typeof v[k] !== 'string' || (v[k] as string).length === 0)
      throw new CommandError('BadCommand', `"${k}" must be a non-empty string`)
    return v[k] as string
  }
  switch (v.action) {
    case 'create':
      return { cmd: 'group', action: 'create', name: str('name') }
    case 'invite':
    case 'remove':
      return { cmd: 'group', action: v.action, group: str('group'), contact: str('contact') }
    case 'leave':
    case 'history':
      return { cmd: 'group', action: v.action, group: str('group') }
    case 'rename':
      return { cmd: 'group', action: 'rename', group: str('group'), name: str('name') }
    case 'send':
      return { cmd: 'group', action: 'send', group: str('group'), text: str('text') }
    case 'list':
      return { cmd: 'group', action: 'list' }
    default:
      throw new CommandError('BadCommand', `unknown group action ${JSON.stringify(v.action)}`)
  }
}

/** A group by id, unique id prefix (8+ hex digits) or exact name. */
export function findGroup(m: Messenger, ref: string): string {
  const all = m.groups.list()
  const lower = ref.toLowerCase()
  const byId = /^[0-9a-f]{8,32}$/.test(lower) ? all.filter((g) => g.id.startsWith(lower)) : []
  if (byId.length === 1) return (byId[0] as { id: string }).id
  const byName = all.filter((g) => g.name === ref)
  if (byName.length === 1) return (byName[0] as { id: string }).id
  if (byId.length + byName.length > 1) throw new CommandError('AmbiguousGroup', `"${ref}" names several groups`)
  throw new CommandError('UnknownGroup', `no group "${ref}" (see 'parley group list')`)
}

/** Runs a group command; the result is plain JSON. */
export async function executeGroup(m: Messenger, c: GroupCommand): Promise<unknown> {
  switch (c.action) {
    case 'create':
      return m.groups.create(c.name)
    case 'list':
      return m.groups.list()
    case 'invite': {
      const contact = await findContact(m, c.contact)
      return m.groups.invite(findGroup(m, c.group), contact.identity)
    }
    case 'remove': {
      const group = findGroup(m, c.group)
      const contact = await findContact(m, c.contact).then(
        (r) => r.identity,
        () => c.contact.toLowerCase()
      )
      return m.groups.remove(group, contact)
    }
    case 'rename':
      return m.groups.rename(findGroup(m, c.group), c.name)
    case 'leave': {
      const group = findGroup(m, c.group)
      await m.groups.leave(group)
      return { group, left: true }
    }
    case 'send': {
      const group = findGroup(m, c.group)
      return { group, ...(await m.groups.send(group, c.text)) }
    }
    case 'history':
      return m.groups.history(findGroup(m, c.group))
  }
}

/** Prints a group command's result for a person (remote text through safeText). */
export function printGroup(c: GroupCommand, result: unknown, out: (s: string) => void): void {
  type Info = { id: string; name: string; epoch: number; members: { identity: string; admin: boolean }[] }
  const show = (g: Info) => {
    out(
      `${safeText(g.name)}\t${g.id}\tepoch ${g.epoch}\t${g.members.length} member${g.members.length === 1 ? '' : 's'}`
    )
    for (const mem of g.members) out(`  ${mem.identity}${mem.admin ? '\tadmin' : ''}`)
  }
  switch (c.action) {
    case 'list': {
      const list = result as Info[]
      if (list.length === 0) out('No groups.')
      for (const g of list) show(g)
      return
    }
    case 'history':
      for (const h of result as Array<{
        kind: string
        direction: string
        sender: string
        text: string
        sentAt: number
      }>) {
        const when = new Date(h.sentAt).toISOString()
        if (h.kind === 'notice') out(`${when} * ${safeText(h.text)}`)
        else out(`${when} ${h.direction === 'out' ? '>' : `<${h.sender.slice(0, 16)}`} ${safeText(h.text)}`)
      }
      return
    case 'send':
      out(`Sent to the group (id ${(result as { id: string }).id}).`)
      return
    case 'leave':
      out('Left the group.')
      return
    default:
      show(result as Info)
  }
}
