/**
 * `parley run`: a long-running node. Interactive chat on a terminal, or `--json`: one command per stdin line and
 * one event per stdout line (docs/cli-json.md). Other `parley` commands reach it through the control socket.
 *
 * Everything another person controls (message texts, names, invites) is shown through terminal.ts: escaped, on one
 * line. Commands from stdin run one at a time, in the order they were written: sends to a contact get increasing
 * sequence numbers in that order (concurrent `send` calls would race for them), and results come in that order too;
 * stdin is not read further while MAX_QUEUED_COMMANDS wait. When whoever reads stdout goes away
 * (`parley run --json | head -1`), the node stops cleanly: the control socket is removed and the profile closed.
 */
import { rm } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { createMessenger, type Messenger, type MessengerEvents, type NetworkOptions } from '@parley/messenger'
import { type Command, CommandError, execute, findContact, parseCommand } from './commands.ts'
import { EXIT_FAILURE, EXIT_OK, MAX_COMMAND_LINE, MAX_QUEUED_COMMANDS } from './constants.ts'
import { serveControl } from './control.ts'
import { controlSocketPath, openProfile, type ProfileOptions } from './profile.ts'
import { safeJson, safeText } from './terminal.ts'

const EVENTS: ReadonlyArray<keyof MessengerEvents> = [
  'message',
  'receipt',
  'contact',
  'identity-changed',
  'typing',
  'peer:status',
  'group-message',
  'group-change',
  'group-joined',
  'group-removed',
  'group-fork'
]

export async function runNode(
  dir: string,
  profile: ProfileOptions,
  network: NetworkOptions,
  options: { json: boolean; relays?: string[] }
): Promise<void> {
  const store = await openProfile(dir, profile)
  let m: Messenger
  try {
    m = await createMessenger({ store, network, mailbox: { relays: options.relays ?? [] } })
  } catch (e) {
    await store.close().catch(() => {})
    throw listenError(e, network.listen)
  }
  // Listen at once, before anything else is awaited: right after it starts, the messenger announces what a crash left
  // stored but unannounced, and an event nobody hears is lost. They wait here until the node has said it is ready.
  const early: Array<{ type: keyof MessengerEvents; detail: unknown }> = []
  let deliver: ((type: keyof MessengerEvents, detail: unknown) => void) | undefined
  for (const type of EVENTS) {
    m.events.addEventListener(type, (e) => {
      const detail = (e as CustomEvent<unknown>).detail
      if (deliver !== undefined) deliver(type, detail)
      else early.push({ type, detail })
    })
  }
  const listen = (to: (type: keyof MessengerEvents, detail: unknown) => void) => {
    deliver = to
    for (const { type, detail } of early.splice(0)) to(type, detail)
  }
  const socketPath = controlSocketPath(dir)
  const control = await serveControl(socketPath, m).catch(async (e: unknown) => {
    await m.stop().catch(() => {})
    await store.close().catch(() => {})
    throw e
  })
  const emit = (o: object) => {
    if (!stopping) process.stdout.write(`${safeJson(o)}\n`)
  }

  let stopping = false
  const stop = async (code = EXIT_OK) => {
    if (stopping) return
    stopping = true
    control.close()
    await rm(socketPath, { force: true })
    await m.stop()
    await store.close()
    process.exit(code)
  }
  process.on('SIGINT', () => void stop(EXIT_OK))
  process.on('SIGTERM', () => void stop(EXIT_OK))
  // The reader of stdout went away (a closed pipe: EPIPE): nobody can see events any more, so stop cleanly rather
  // than die on an unhandled 'error' event with the control socket left behind.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => void stop(e.code === 'EPIPE' ? EXIT_OK : EXIT_FAILURE))

  const ready = (await execute(m, { cmd: 'id' })) as Record<string, unknown>
  if (options.json) {
    emit({ event: 'ready', ...ready, peerId: m.peerId.toString() })
    listen((type, detail) => emit({ event: type, ...(detail as object) }))
    const inOrder = serial(process.stdin)
    // Lines end at '\n' only: readline would also split at U+2028/U+2029, which JSON allows raw inside strings.
    jsonLines(process.stdin, (line) => {
      if (line === undefined) {
        emit({ event: 'error', code: 'LineTooLong', message: `a command line is at most ${MAX_COMMAND_LINE} bytes` })
        return
      }
      if (line.trim() === '') return
      inOrder(async () => {
        let request: { id?: unknown } = {}
        try {
          request = JSON.parse(line) as { id?: unknown }
          if ((request as { cmd?: unknown }).cmd === 'quit') return stop(0)
          const result = await execute(m, parseCommand(request))
          emit({ event: 'result', ...(request.id !== undefined && { id: request.id }), result })
        } catch (e) {
          const err = e as { code?: string; message?: string }
          emit({
            event: 'error',
            ...(request.id !== undefined && { id: request.id }),
            code: e instanceof SyntaxError ? 'BadJson' : (err.code ?? 'Error'),
            message: err.message ?? String(e)
          })
        }
      })
    })
    // Commands written before stdin closed still run (in order), then the node stops.
    process.stdin.on('end', () => inOrder(() => stop(EXIT_OK)))
    return
  }

  // Interactive chat.
  const say = (s: string) => {
    if (!stopping) process.stdout.write(`${s}\n`)
  }
  say(`Parley node running. Identity ${String(ready.identity).slice(0, 16)}…  Fingerprint ${ready.fingerprint}`)
  say(`Invite: ${ready.invite}`)
  say(
    'Commands: /to <contact>, /add <invite> [name], /contacts, /verify <contact>, /requests, /accept <identity> [name], /decline <identity>, /quit — other lines are messages.'
  )
  const hinted = new Set<string>()
  const names = new Map((await m.contacts()).map((c) => [c.identity, c.name ?? c.identity.slice(0, 8)]))
  const nameOf = (id: string) => safeText(names.get(id) ?? id.slice(0, 8))
  const onMessage = (d: MessengerEvents['message']) => {
    if (d.request) {
      // A stranger: no name of its choosing, no read receipt; the first time, how to answer.
      say(`[request ${d.contact.slice(0, 16)}] ${safeText(d.text)}`)
      if (!hinted.has(d.contact)) {
        hinted.add(d.contact)
        say(`(a message request from ${d.contact}: /accept ${d.contact.slice(0, 16)} [name], or /decline it)`)
      }
      return
    }
    say(`[${nameOf(d.contact)}] ${safeText(d.text)}`)
    void m.markRead(d.contact, [d.id]).catch(() => {})
  }
  listen((type, detail) => {
    if (type === 'message') onMessage(detail as MessengerEvents['message'])
    else if (type === 'identity-changed') {
      const d = detail as MessengerEvents['identity-changed']
      const who = d.name !== undefined ? safeText(d.name) : nameOf(d.contact)
      say(`!! ${who}'s safety number changed. Verify it, then /accept ${d.name !== undefined ? who : d.contact}.`)
    } else if (type === 'contact') {
      const d = detail as MessengerEvents['contact']
      if (d.name !== undefined) names.set(d.contact, d.name)
    } else if (type === 'group-message') {
      // Group texts (send with 'parley group send'): the group's name, then the sender.
      const d = detail as MessengerEvents['group-message']
      const group = m.groups.list().find((g) => g.id === d.group)
      say(`[${safeText(group?.name ?? d.group.slice(0, 8))} / ${nameOf(d.sender)}] ${safeText(d.text)}`)
    }
  })
  let current: string | undefined
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' })
  const inOrder = serial(rl)
  rl.prompt()
  rl.on('line', (line) => {
    inOrder(async () => {
      const [head, ...rest] = line.trim().split(/\s+/)
      try {
        let cmd: Command | undefined
        if (head === '/quit') return stop(0)
        if (head === '/to') {
          const c = await findContact(m, rest[0] ?? '')
          current = c.identity
          say(`talking to ${nameOf(current)}`)
        } else if (head === '/add')
          cmd = { cmd: 'add', contact: rest[0] ?? '', ...(rest[1] !== undefined && { name: rest[1] }) }
        else if (head === '/contacts') cmd = { cmd: 'contacts' }
        else if (head === '/verify') cmd = { cmd: 'verify', contact: rest[0] ?? current ?? '' }
        else if (head === '/accept')
          cmd = { cmd: 'accept', contact: rest[0] ?? '', ...(rest[1] !== undefined && { name: rest[1] }) }
        else if (head === '/decline') cmd = { cmd: 'decline', contact: rest[0] ?? '' }
        else if (head === '/requests') {
          const list = (await execute(m, { cmd: 'requests' })) as Array<{
            contact: string
            fingerprint: string
            messages: number
            lastAt: number
          }>
          if (list.length === 0) say('no message requests')
          for (const r of list)
            say(`${r.contact}  ${r.fingerprint}  ${r.messages} message(s), last ${new Date(r.lastAt).toISOString()}`)
        } else if (head?.startsWith('/')) throw new CommandError('BadCommand', `unknown command ${head}`)
        else if (line.trim() !== '') {
          if (current === undefined) throw new CommandError('NoContact', 'choose a contact first: /to <contact>')
          const r = (await execute(m, { cmd: 'send', contact: current, text: line })) as { status: string }
          if (r.status === 'queued') say('(queued: not reachable now, will retry)')
        }
        if (cmd !== undefined) say(safeJson(await execute(m, cmd), 2))
      } catch (e) {
        say(`error: ${safeText((e as Error).message)}`)
      }
      rl.prompt()
    })
  })
  rl.on('close', () => inOrder(() => stop(0)))
}

/**
 * A listen address that cannot be bound (in use, not on this machine, a privileged port) as one line naming the flag
 * and the address; libp2p reports it as one paragraph with a stack per address.
 */
function listenError(e: unknown, listen: readonly string[] | undefined): unknown {
  const text = String((e as Error)?.message ?? e)
  const reasons: Record<string, string> = {
    EADDRINUSE: 'is in use by another program: choose another port (or port 0 for any free one)',
    EADDRNOTAVAIL: 'is not an address of this machine',
    EACCES: 'needs privileges (a port below 1024?): choose a port from 1024 up'
  }
  const found = Object.keys(reasons).find((code) => text.includes(code))
  if (found === undefined) return e
  // libp2p's message names the address that failed; with several --listen, name that one.
  const given = (listen ?? []).filter((a) => text.includes(a))
  const named = given.length > 0 ? given : (listen ?? [])
  const where = named.length === 0 ? 'the default listen address' : named.map((a) => `--listen ${a}`).join(', ')
  return new CommandError('ListenFailed', `${where}: the address ${reasons[found]} (${found})`)
}

/**
 * Runs tasks one at a time in the order given (a failing task does not stop the next). While MAX_QUEUED_COMMANDS
 * wait, `input` is paused, so a fast writer cannot queue without bound.
 */
function serial(input: { pause(): unknown; resume(): unknown }): (task: () => Promise<unknown>) => void {
  let tail: Promise<unknown> = Promise.resolve()
  let waiting = 0
  let paused = false
  return (task) => {
    waiting++
    if (waiting >= MAX_QUEUED_COMMANDS && !paused) {
      paused = true
      input.pause()
    }
    tail = tail
      .then(task)
      .catch(() => {})
      .finally(() => {
        waiting--
        if (paused && waiting < MAX_QUEUED_COMMANDS / 2) {
          paused = false
          input.resume()
        }
      })
  }
}

/**
 * Calls `onLine` for each '\n'-terminated line of `input` (a trailing '\r' dropped, an unterminated last line too);
 * `undefined` for a line longer than MAX_COMMAND_LINE, which is skipped up to its end.
 */
function jsonLines(input: NodeJS.ReadStream, onLine: (line: string | undefined) => void): void {
  let buffered = ''
  let skipping = false
  input.setEncoding('utf8')
  input.on('data', (chunk: string) => {
    buffered += chunk
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl).replace(/\r$/, '')
      buffered = buffered.slice(nl + 1)
      if (skipping) skipping = false
      else onLine(line.length > MAX_COMMAND_LINE ? undefined : line)
    }
    if (buffered.length > MAX_COMMAND_LINE) {
      if (!skipping) onLine(undefined)
      skipping = true
      buffered = ''
    }
  })
  input.on('end', () => {
    if (buffered !== '' && !skipping) onLine(buffered)
    buffered = ''
  })
}
