/**
 * `parley run`: a long-running node. Interactive chat on a terminal, or `--json`: one command per stdin line and
 * one event per stdout line (docs/cli-json.md). Other `parley` commands reach it through the control socket.
 */
import { rm } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { createMessenger, type MessengerEvents, type NetworkOptions } from '@parley/messenger'
import { type Command, CommandError, execute, findContact, parseCommand } from './commands.ts'
import { serveControl } from './control.ts'
import { controlSocketPath, openProfile, type ProfileOptions } from './profile.ts'

const EVENTS: ReadonlyArray<keyof MessengerEvents> = [
  'message',
  'receipt',
  'contact',
  'identity-changed',
  'typing',
  'peer:status'
]

export async function runNode(
  dir: string,
  profile: ProfileOptions,
  network: NetworkOptions,
  options: { json: boolean; relays?: string[] }
): Promise<void> {
  const store = await openProfile(dir, profile)
  const m = await createMessenger({ store, network, mailbox: { relays: options.relays ?? [] } })
  const socketPath = controlSocketPath(dir)
  const control = await serveControl(socketPath, m)
  const emit = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`)

  let stopping = false
  const stop = async (code = 0) => {
    if (stopping) return
    stopping = true
    control.close()
    await rm(socketPath, { force: true })
    await m.stop()
    await store.close()
    process.exit(code)
  }
  process.on('SIGINT', () => void stop(0))
  process.on('SIGTERM', () => void stop(0))

  const ready = (await execute(m, { cmd: 'id' })) as Record<string, unknown>
  if (options.json) {
    for (const type of EVENTS) {
      m.events.addEventListener(type, (e) => emit({ event: type, ...(e as CustomEvent<object>).detail }))
    }
    emit({ event: 'ready', ...ready, peerId: m.peerId.toString() })
    const rl = createInterface({ input: process.stdin })
    rl.on('line', (line) => {
      if (line.trim() === '') return
      let request: { id?: unknown } = {}
      void (async () => {
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
      })()
    })
    rl.on('close', () => void stop(0))
    return
  }

  // Interactive chat.
  const say = (s: string) => process.stdout.write(`${s}\n`)
  say(`Parley node running. Identity ${String(ready.identity).slice(0, 16)}…  Fingerprint ${ready.fingerprint}`)
  say(`Invite: ${ready.invite}`)
  say('Commands: /to <contact>, /add <invite> [name], /contacts, /verify <contact>, /quit — other lines are messages.')
  const names = new Map((await m.contacts()).map((c) => [c.identity, c.name ?? c.identity.slice(0, 8)]))
  const nameOf = (id: string) => names.get(id) ?? id.slice(0, 8)
  m.events.addEventListener('message', (e) => {
    const d = (e as CustomEvent<MessengerEvents['message']>).detail
    say(`[${nameOf(d.contact)}] ${d.text}`)
    void m.markRead(d.contact, [d.id]).catch(() => {})
  })
  m.events.addEventListener('identity-changed', (e) => {
    const d = (e as CustomEvent<MessengerEvents['identity-changed']>).detail
    say(`!! ${d.name ?? nameOf(d.contact)}'s safety number changed. Verify it, then /accept ${d.name ?? d.contact}.`)
  })
  m.events.addEventListener('contact', (e) => {
    const d = (e as CustomEvent<MessengerEvents['contact']>).detail
    if (d.name !== undefined) names.set(d.contact, d.name)
  })
  let current: string | undefined
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' })
  rl.prompt()
  rl.on('line', (line) => {
    void (async () => {
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
        else if (head === '/accept') cmd = { cmd: 'accept', contact: rest[0] ?? '' }
        else if (head?.startsWith('/')) throw new CommandError('BadCommand', `unknown command ${head}`)
        else if (line.trim() !== '') {
          if (current === undefined) throw new CommandError('NoContact', 'choose a contact first: /to <contact>')
          const r = (await execute(m, { cmd: 'send', contact: current, text: line })) as { status: string }
          if (r.status === 'queued') say('(queued: not reachable now, will retry)')
        }
        if (cmd !== undefined) say(JSON.stringify(await execute(m, cmd), null, 2))
      } catch (e) {
        say(`error: ${(e as Error).message}`)
      }
      rl.prompt()
    })()
  })
  rl.on('close', () => void stop(0))
}
