/**
 * `parley`: a Parley node in the terminal. Every command has --help. Commands other than init/run/export/import talk
 * to a running node of the same profile over its control socket when there is one, and otherwise open the profile
 * themselves.
 */
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { createMessenger, type Messenger } from '@parley/messenger'
import { type Command, CommandError, execute } from './commands.ts'
import { EXIT_FAILURE, EXIT_UNSAFE_PROFILE, EXIT_USAGE } from './constants.ts'
import { askRunning } from './control.ts'
import { GROUP_HELP, groupFromArgs, printGroup } from './group.ts'
import { checkProfileDir, controlSocketPath, dataDir, openProfile, profileExists } from './profile.ts'
import { runNode } from './run.ts'
import { safeJson, safeText } from './terminal.ts'
import { exportProfile, importProfile } from './transfer.ts'

const COMMON = `Common options:
  --data <dir>              profile directory (default: $PARLEY_DATA or ~/.parley)
  --passphrase-file <file>  read the profile passphrase from a file (else $PARLEY_PASSPHRASE, else a prompt)
  --bootstrap <multiaddr>   a bootstrap peer (repeatable); no public bootstrap is used by default
  --relay <multiaddr>       a mailbox relay (repeatable): holds your mail while you are offline; bootstrap
                            peers that run a relay are used too
  -h, --help                this help`

const HELP: Record<string, string> = {
  '': `parley — end-to-end-encrypted chat with no server in the middle

Usage: parley <command> [options]

Commands:
  init                      create a profile: identity, device, prekeys
  id                        your identity, fingerprint and invite link (with a QR code)
  add <invite|identity>     add a contact (--name <name>)
  contacts                  list contacts
  send <contact> <text>     send a message (to a running node, else queued or sent directly)
  history <contact>         show a conversation
  verify <contact>          show the safety number to compare with your contact
  accept <contact>          accept a contact's new identity after checking the safety number
  requests                  list message requests: people you have not added who wrote to you
  accept <identity>         accept a message request: the sender becomes a contact (--name <name>)
  decline <identity>        decline a message request: its messages are deleted
  export <file>             write identity and contacts, encrypted, for moving to a new machine
  import <file>             create a profile from an export
  group <action> ...        group chats: create, invite, remove, leave, rename, list, send, history
  run                       run a node: interactive chat, or --json for JSON lines (docs/cli-json.md)

A contact is a name, an identity key, or a unique prefix of it (8+ hex digits).

${COMMON}

Exit codes:
  0  done
  ${EXIT_FAILURE}  the command failed (wrong passphrase, unknown contact, refused invite, listen address in use, …)
  ${EXIT_USAGE}  bad usage: unknown command or flag, missing argument, malformed value (e.g. a multiaddr)
  ${EXIT_UNSAFE_PROFILE}  the profile directory is accessible by other users: 'chmod 700 <dir>' and retry
Every error is one line on stderr: 'parley: <what is wrong and what to do>'.`,
  init: `Usage: parley init [--data <dir>]\n\nCreates an encrypted profile with a new identity.\n\n${COMMON}`,
  id: `Usage: parley id [--name <name>] [--no-qr]\n\nPrints your identity key, your fingerprint and an invite link others can add you with.\n\n${COMMON}`,
  add: `Usage: parley add <invite|identity> [--name <name>]\n\nAdds a contact. A new identity under an existing contact's name is a safety-number change:\nnothing is sent to it until you run 'parley accept <name>'.\n\n${COMMON}`,
  contacts: `Usage: parley contacts\n\n${COMMON}`,
  send: `Usage: parley send <contact> <text>\n\nSends through the running node of this profile if there is one; otherwise starts the network,\ntries to deliver, and says whether the message was delivered or is queued for the next run.\n\n${COMMON}`,
  history: `Usage: parley history <contact|identity>\n\nA contact's conversation, or a message request's messages (by identity).\n\n${COMMON}`,
  verify: `Usage: parley verify <contact>\n\nShows the 60-digit safety number; compare it with your contact's (in person or by a call).\n\n${COMMON}`,
  accept: `Usage: parley accept <contact>
       parley accept <identity> [--name <name>]

With a contact whose safety number changed: accepts its new identity (check the safety number first).
With the identity key (or an 8+ digit prefix) of a message request (see 'parley requests'): the sender becomes a
contact named <name>, and learns that its messages were delivered.

${COMMON}`,
  requests: `Usage: parley requests

Lists message requests: identities you have not added that wrote to you, with their fingerprint, how many messages
they sent and when the last one came. Read one with 'parley history <identity>'; then 'parley accept <identity>
[--name <name>]' or 'parley decline <identity>'. Until you accept, the sender gets no receipt and learns nothing.

${COMMON}`,
  decline: `Usage: parley decline <identity>

Declines a message request (identity key or an 8+ digit prefix): its messages and its session are deleted. The
sender is not told. If it writes again, that is a new request.

${COMMON}`,
  export: `Usage: parley export <file>\n\nWrites your identity, device keys and contacts to <file>, encrypted with the profile passphrase.\n\n${COMMON}`,
  group: `${GROUP_HELP}\n\n${COMMON}`,
  import: `Usage: parley import <file> [--data <dir>]\n\nCreates a profile from an export (the export's passphrase becomes the profile's).\n\n${COMMON}`,
  run: `Usage: parley run [--json] [--listen <multiaddr>]... [--bootstrap <multiaddr>]... [--client]

Runs a node until interrupted. Interactive: type '/to <contact>' then messages; '/add <invite> [name]',
'/contacts', '/requests', '/accept <identity> [name]', '/decline <identity>', '/quit'. With --json: one JSON command per stdin line, one JSON event per stdout line
(schema: docs/cli-json.md).
  --listen <multiaddr>      listen address (repeatable; default TCP + WebSockets on 127.0.0.1, WebRTC, and with
                            --relay a reservation at the relay so browsers can reach this node)
  --client                  DHT client mode (for nodes others cannot dial)

${COMMON}`
}

function fail(message: string, code: number = EXIT_FAILURE): never {
  process.stderr.write(`parley: ${safeText(message)}\n`)
  process.exit(code)
}

/** What a multiaddr flag needs: a parseable multiaddr, and for peers to dial, one that names the peer (/p2p/<id>). */
const ADDRESS_FLAGS = [
  { flag: 'listen', peer: false },
  { flag: 'bootstrap', peer: true },
  { flag: 'relay', peer: true }
] as const

/** Refuses a malformed address flag with one line naming the flag and the value (exit code EXIT_USAGE). */
function checkAddresses(values: Partial<Record<(typeof ADDRESS_FLAGS)[number]['flag'], string[]>>): void {
  for (const { flag, peer } of ADDRESS_FLAGS) {
    for (const value of values[flag] ?? []) {
      let reason: string | undefined
      try {
        const ma = multiaddr(value)
        // Encoding checks every component's value (a /p2p/ peer id too), which parsing the string alone does not.
        if (ma.bytes.length === 0) reason = 'empty'
        else if (peer && !ma.getComponents().some((c) => c.name === 'p2p'))
          reason = "it names no peer: end it with '/p2p/<peer id>'"
      } catch (e) {
        reason = `not a multiaddr (${(e as Error).message})`
      }
      if (reason !== undefined)
        throw new CommandError('BadAddress', `--${flag} ${JSON.stringify(value)}: ${reason}`, EXIT_USAGE)
    }
  }
}

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        data: { type: 'string' },
        'passphrase-file': { type: 'string' },
        bootstrap: { type: 'string', multiple: true },
        relay: { type: 'string', multiple: true },
        listen: { type: 'string', multiple: true },
        name: { type: 'string' },
        json: { type: 'boolean' },
        client: { type: 'boolean' },
        'no-qr': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (e) {
    // Node's message names the flag; its advice about '--' for positionals is the rest of the sentence.
    throw new CommandError('BadUsage', `${(e as Error).message.split('. ')[0]} (see 'parley --help')`, EXIT_USAGE)
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine()
  const [command = '', ...args] = positionals
  if (values.help || command === 'help' || command === '') {
    process.stdout.write(`${HELP[command === 'help' ? (args[0] ?? '') : command] ?? HELP['']}\n`)
    return
  }
  if (!(command in HELP)) fail(`unknown command '${command}' (see 'parley --help')`, EXIT_USAGE)
  checkAddresses(values)
  const dir = dataDir(values)
  checkProfileDir(dir)
  const profileOptions = {
    data: dir,
    ...(values['passphrase-file'] !== undefined && { passphraseFile: values['passphrase-file'] })
  }
  const network = {
    ...(values.bootstrap && { bootstrap: values.bootstrap }),
    ...(values.listen && { listen: values.listen }),
    ...(values.client && { clientMode: true }),
    // With a relay named, browsers and NATed peers reach this node through a reservation there (then go direct).
    ...(values.relay !== undefined && values.relay.length > 0 && { circuit: true })
  }

  switch (command) {
    case 'init': {
      if (profileExists(dir)) fail(`a profile already exists at ${dir}`)
      const store = await openProfile(dir, { ...profileOptions, create: true })
      const m = await createMessenger({ store, offline: true })
      const id = (await execute(m, { cmd: 'id' })) as { identity: string; fingerprint: string }
      await m.stop()
      await store.close()
      process.stdout.write(`Created a profile at ${dir}\nIdentity:    ${id.identity}\nFingerprint: ${id.fingerprint}\n`)
      return
    }
    case 'run':
      return runNode(dir, profileOptions, network, { json: values.json ?? false, relays: values.relay ?? [] })
    case 'export':
      if (args[0] === undefined) fail('export needs a file name', EXIT_USAGE)
      return exportProfile(dir, profileOptions, args[0])
    case 'import':
      if (args[0] === undefined) fail('import needs a file name', EXIT_USAGE)
      return importProfile(dir, profileOptions, args[0])
  }

  const cmd = toCommand(command, args, values.name)
  // A running node of this profile holds it: ask it.
  const running = await askRunning(controlSocketPath(dir), cmd)
  let result: unknown
  if (running !== undefined) {
    result = running.result
  } else {
    const store = await openProfile(dir, profileOptions)
    let m: Messenger | undefined
    try {
      // Groups live on the network (gossipsub); a one-shot group command starts it briefly.
      const needsNetwork = cmd.cmd === 'send' || cmd.cmd === 'group'
      m = await createMessenger({ store, offline: !needsNetwork, network, mailbox: { relays: values.relay ?? [] } })
      if (cmd.cmd === 'group') await new Promise((r) => setTimeout(r, 2000))
      result = await execute(m, cmd)
      if (cmd.cmd === 'group') await new Promise((r) => setTimeout(r, 1000))
      if (cmd.cmd === 'send' && (result as { status: string }).status === 'queued') {
        // Give a fresh node a moment to join the DHT and retry once before reporting the message as queued.
        await new Promise((r) => setTimeout(r, 2000))
        await m.flush().catch(() => {})
        const left = m.queued
        if (left === 0) result = { ...(result as object), status: 'sent' }
      }
    } finally {
      await m?.stop()
      await store.close()
    }
  }
  await print(cmd, result, values['no-qr'] ?? false)
}

function toCommand(command: string, args: string[], name: string | undefined): Command {
  const need = (n: number, what: string) => {
    if (args.length < n) fail(`${command} needs ${what} (see 'parley ${command} --help')`, EXIT_USAGE)
  }
  switch (command) {
    case 'id':
      return { cmd: 'id' }
    case 'contacts':
      return { cmd: 'contacts' }
    case 'requests':
      return { cmd: 'requests' }
    case 'add':
      need(1, 'an invite link or identity key')
      return { cmd: 'add', contact: args[0]!, ...(name !== undefined && { name }) }
    case 'send':
      need(2, 'a contact and a text')
      return { cmd: 'send', contact: args[0]!, text: args.slice(1).join(' ') }
    case 'history':
    case 'verify':
      need(1, 'a contact')
      return { cmd: command, contact: args[0]! }
    case 'accept':
      need(1, 'a contact or the identity of a message request')
      return { cmd: 'accept', contact: args[0]!, ...(name !== undefined && { name }) }
    case 'decline':
      need(1, 'the identity of a message request')
      return { cmd: 'decline', contact: args[0]! }
    case 'group':
      return groupFromArgs(args)
    default:
      fail(`unknown command '${command}'`, EXIT_USAGE)
  }
}

/** Prints a one-shot command's result. Remote or user-given text goes through safeText (one line, escaped). */
async function print(cmd: Command, result: unknown, noQr: boolean): Promise<void> {
  const out = (s: string) => process.stdout.write(`${s}\n`)
  switch (cmd.cmd) {
    case 'id': {
      const r = result as { identity: string; fingerprint: string; invite: string }
      out(`Identity:    ${r.identity}\nFingerprint: ${r.fingerprint}\nInvite:      ${r.invite}`)
      if (!noQr) {
        const qrcode = await import('qrcode')
        out(await qrcode.toString(r.invite, { type: 'terminal', small: true }))
      }
      return
    }
    case 'send': {
      const r = result as { id: string; status: string }
      out(
        r.status === 'sent'
          ? `Delivered to the contact's device (id ${r.id}).`
          : r.status === 'deposited'
            ? `Deposited (id ${r.id}): the contact is offline; its mailbox relays hold the message until it comes online.`
            : `Queued (id ${r.id}): the contact is not reachable now; it is retried while a node of this profile runs.`
      )
      return
    }
    case 'history':
      for (const h of result as Array<{
        direction: string
        text: string
        sentAt: number
        state: string
        waitingAt?: string[]
      }>) {
        const state = h.waitingAt ? `${h.state} at relay ${h.waitingAt.join(', ')}` : h.state
        const text = safeText(h.text)
        out(
          `${new Date(h.sentAt).toISOString()} ${h.direction === 'out' ? `> ${text}  [${safeText(state)}]` : `< ${text}`}`
        )
      }
      return
    case 'contacts':
      for (const c of result as Array<{ contact: string; name?: string; status: string; verified: boolean }>) {
        out(
          `${c.name !== undefined ? safeText(c.name) : '(no name)'}\t${c.contact}${c.status !== 'ok' ? `\t${c.status.toUpperCase()}` : ''}${c.verified ? '\tverified' : ''}`
        )
      }
      return
    case 'requests': {
      const list = result as Array<{ contact: string; fingerprint: string; messages: number; lastAt: number }>
      if (list.length === 0) {
        out('No message requests.')
        return
      }
      for (const r of list) {
        const count = `${r.messages} message${r.messages === 1 ? '' : 's'}`
        out(`${r.fingerprint}\t${r.contact}\t${count}\tlast ${new Date(r.lastAt).toISOString()}`)
      }
      out(
        "Read one with 'parley history <identity>', then 'parley accept <identity> [--name <name>]' or 'parley decline <identity>'."
      )
      return
    }
    case 'accept': {
      const r = result as { contact: string; name?: string; status: string; request?: boolean }
      if (r.request)
        out(`Accepted ${r.contact}${r.name !== undefined ? ` as ${safeText(r.name)}` : ''}: now a contact.`)
      else out(safeJson(result, 2))
      return
    }
    case 'decline':
      out(`Declined the message request of ${(result as { contact: string }).contact}: its messages are deleted.`)
      return
    case 'group':
      printGroup(cmd, result, out)
      return
    case 'verify': {
      const r = result as { safetyNumber: string; status: string }
      out(`Safety number:\n  ${r.safetyNumber}`)
      if (r.status === 'identity-changed')
        out("This contact's identity CHANGED: compare the new safety number, then 'parley accept'.")
      return
    }
    default:
      out(safeJson(result, 2))
  }
}

main().catch((e: unknown) => {
  if (e instanceof CommandError) fail(`${e.message} (${e.code})`, e.exitCode)
  const err = e as { code?: unknown; message?: unknown }
  // Typed errors of the packages: their message and code, on one line (never a stack).
  const message = String(err?.message ?? e).split('\n')[0]!
  fail(typeof err?.code === 'string' ? `${message} (${err.code})` : message, EXIT_FAILURE)
})
