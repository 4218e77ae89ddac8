/**
 * Message requests in the CLI, as a user meets them: real `parley` processes from a plain shell, the relay daemon,
 * real profiles on disk. A stranger's texts are held as a request (flagged `request: true`, no delivered receipt);
 * `parley requests` lists them with the sender's fingerprint, `parley history <identity>` reads them (escaped),
 * `parley accept <identity> --name …` makes the sender a contact (and its texts get their receipts), and
 * `parley decline <identity>` deletes them — one-shot through the running node, one-shot on the profile itself, in
 * `run --json` and in the interactive chat. Also: stdin commands run in the order written.
 */

import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { until } from '@parley/test-kit'
import { afterAll, describe, expect, it } from 'vitest'
import { MAX_QUEUED_COMMANDS } from '../src/constants.ts'

const PARLEY = resolve(import.meta.dirname, '../../../node_modules/.bin/parley')
const PARLEY_RELAY = resolve(import.meta.dirname, '../../../node_modules/.bin/parley-relay')
const ENV = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: tmpdir(),
  PARLEY_PASSPHRASE: 'requests test',
  PARLEY_UNSAFE_FAST_KDF: '1'
}
const children: ChildProcessWithoutNullStreams[] = []
const dirs: string[] = []

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

type Event = Record<string, unknown>
interface Result {
  code: number | null
  stdout: string
  stderr: string
}

function parley(args: string[]): Promise<Result> {
  return new Promise((done) => {
    execFile(PARLEY, args, { env: ENV, timeout: 90_000 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr })
    })
  })
}

async function ok(args: string[]): Promise<string> {
  const r = await parley(args)
  if (r.code !== 0) throw new Error(`parley ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

async function profile(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `parley-req-${name}-`))
  dirs.push(dir)
  await ok(['init', '--data', dir])
  return dir
}

let asks = 0
async function runJson(dir: string, args: string[], name: string) {
  const child = spawn(PARLEY, ['run', '--json', '--data', dir, ...args], { env: ENV })
  children.push(child)
  const events: Event[] = []
  createInterface({ input: child.stdout }).on('line', (l) => events.push(JSON.parse(l) as Event))
  const next = async (pred: (e: Event) => boolean, what: string, ms = 60_000): Promise<Event> => {
    await until(() => events.some(pred), ms, `${name}: ${what}`)
    return events.find(pred)!
  }
  const answer = async (cmd: object): Promise<Event> => {
    const id = `q${++asks}`
    child.stdin.write(`${JSON.stringify({ ...cmd, id })}\n`)
    return next((e) => e.id === id, `the answer to ${JSON.stringify(cmd)}`)
  }
  const ask = async (cmd: object): Promise<unknown> => {
    const r = await answer(cmd)
    if (r.event !== 'result') throw new Error(`${name}: ${JSON.stringify(r)}`)
    return r.result
  }
  const ready = await next((e) => e.event === 'ready', 'ready')
  const stop = async () => {
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
  }
  return { child, events, next, ask, answer, ready, stop, id: ready.identity as string }
}

async function relayDaemon(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-req-relay-'))
  dirs.push(dir)
  const child = spawn(PARLEY_RELAY, ['--data', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--http-port', '0'], {
    env: ENV
  })
  children.push(child)
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  await until(() => /^bootstrap:\s+\S+/m.test(out), 60_000, 'the relay to start')
  return out.match(/^bootstrap:\s+(\S+)/m)![1]!
}

/** Sends one text and waits until the recipient shows it (the messenger retries until the DHT answers). */
async function deliver(
  from: Awaited<ReturnType<typeof runJson>>,
  to: Awaited<ReturnType<typeof runJson>>,
  contact: string,
  text: string
): Promise<string> {
  const r = (await from.ask({ cmd: 'send', contact, text })) as { id: string }
  await to.next((e) => e.event === 'message' && e.id === r.id, `"${text}" shown`, 90_000)
  return r.id
}

/** A TCP port nobody listens on now. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  await new Promise((r) => server.close(r))
  return port
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: a raw control character in the output is what this finds
const NO_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/

describe('message requests in the CLI', () => {
  it('a stranger\'s text is a request: listed with its fingerprint, read escaped, accepted by a one-shot "parley accept --name" through the running node, then delivered', async () => {
    const bootstrap = await relayDaemon()
    const bDir = await profile('b')
    const b = await runJson(bDir, ['--bootstrap', bootstrap], 'B')
    const a = await runJson(await profile('a'), ['--bootstrap', bootstrap], 'A')
    await a.ask({ cmd: 'add', contact: b.id, name: 'bob' })
    const spoof = 'hi\u001b[2J\n[carol] forged'
    const first = await deliver(a, b, 'bob', spoof)

    // B has not added A: flagged as a request.
    const shown = await b.next((e) => e.event === 'message' && e.id === first, 'the request')
    expect(shown.request).toBe(true)
    expect(shown.text).toBe(spoof)
    const listed = (await b.ask({ cmd: 'requests' })) as Array<Record<string, unknown>>
    expect(listed).toHaveLength(1)
    expect(listed[0]).toMatchObject({ contact: a.id, fingerprint: a.ready.fingerprint, messages: 1 })

    // One-shot commands of B's profile go through B's running node.
    const requests = await ok(['requests', '--data', bDir])
    expect(requests).toContain(`${a.ready.fingerprint}\t${a.id}\t1 message\tlast `)
    const history = await ok(['history', '--data', bDir, a.id.slice(0, 12)])
    expect(history).toContain('< hi\\x1b[2J\\n[carol] forged')
    expect(history).not.toMatch(NO_CONTROL)
    expect(history.trimEnd().split('\n')).toHaveLength(1)
    const delivered = () =>
      a.events.some((e) => e.event === 'receipt' && e.type === 'delivered' && (e.ids as string[]).includes(first))

    // Accepted under a name: a contact now, the request gone, and the held text gets its delivered receipt.
    const accepted = await ok(['accept', '--data', bDir, a.id.slice(0, 10), '--name', 'alice'])
    expect(accepted).toBe(`Accepted ${a.id} as alice: now a contact.\n`)
    await until(delivered, 60_000, 'the delivered receipt at A after the accept')
    const states = (await a.ask({ cmd: 'history', contact: 'bob' })) as Array<{ id: string; state: string }>
    expect(states.find((h) => h.id === first)?.state).toBe('delivered')
    expect(await ok(['requests', '--data', bDir])).toBe('No message requests.\n')
    expect(await b.ask({ cmd: 'contacts' })).toEqual([
      expect.objectContaining({ contact: a.id, name: 'alice', status: 'ok' })
    ])
    // What A writes now is an ordinary message.
    const second = await deliver(a, b, 'bob', 'now we know each other')
    expect((await b.next((e) => e.id === second, 'second')).request).toBeUndefined()
    // Nothing left to accept: a clear one-line failure.
    const again = await parley(['decline', '--data', bDir, a.id])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(
      /^parley: no message request from "[0-9a-f]{64}" \(see 'parley requests'\) \(UnknownRequest\)\n$/
    )
  }, 300_000)

  it('a stranger learns nothing before the accept: its text stays "sent" (stored), never "delivered", until B accepts', async () => {
    const bootstrap = await relayDaemon()
    const b = await runJson(await profile('nb'), ['--bootstrap', bootstrap], 'B')
    const a = await runJson(await profile('na'), ['--bootstrap', bootstrap], 'A')
    await a.ask({ cmd: 'add', contact: b.id, name: 'bob' })
    const id = await deliver(a, b, 'bob', 'hello stranger')
    // B stored and showed it (a request); B's answer to A says stored, not delivered (no receipt to strangers).
    await a.next((e) => e.event === 'receipt' && e.type === 'sent' && (e.ids as string[]).includes(id), 'sent at A')
    const receipts = () => a.events.filter((e) => e.event === 'receipt' && (e.ids as string[]).includes(id))
    // A round trip later (B answers a command, A answers one), still nothing more.
    await b.ask({ cmd: 'requests' })
    const states = (await a.ask({ cmd: 'history', contact: 'bob' })) as Array<{ id: string; state: string }>
    expect(receipts().map((e) => e.type)).toEqual(['sent'])
    expect(states.find((h) => h.id === id)?.state).toBe('sent')
    await b.ask({ cmd: 'accept', contact: a.id })
    await a.next(
      (e) => e.event === 'receipt' && e.type === 'delivered' && (e.ids as string[]).includes(id),
      'delivered after the accept'
    )
  }, 300_000)

  it('declined in run --json, in a one-shot on the stopped profile, and in the interactive chat', async () => {
    const bootstrap = await relayDaemon()
    const bDir = await profile('b2')
    // B keeps its address across its restarts (the subject here is the chat, not finding a moved peer).
    const listen = ['--listen', `/ip4/127.0.0.1/tcp/${await freePort()}`]
    let b = await runJson(bDir, ['--bootstrap', bootstrap, ...listen], 'B')
    const c = await runJson(await profile('c'), ['--bootstrap', bootstrap], 'C')
    await c.ask({ cmd: 'add', contact: b.id, name: 'bob' })
    await deliver(c, b, 'bob', 'buy now')

    // run --json: decline by prefix; its texts are gone with it.
    const declined = await b.ask({ cmd: 'decline', contact: c.id.slice(0, 8) })
    expect(declined).toEqual({ contact: c.id, declined: true })
    expect(await b.ask({ cmd: 'requests' })).toEqual([])
    expect(await b.answer({ cmd: 'history', contact: c.id })).toMatchObject({ event: 'error', code: 'UnknownContact' })

    // Writing again makes a new request; B stops; one-shot commands open the profile themselves.
    await deliver(c, b, 'bob', 'buy now, really')
    await b.stop()
    const offline = await ok(['requests', '--data', bDir])
    expect(offline).toContain(`\t${c.id}\t1 message\t`)
    expect(await ok(['history', '--data', bDir, c.id])).toMatch(/< buy now, really\n$/)
    expect(await ok(['decline', '--data', bDir, c.id])).toBe(
      `Declined the message request of ${c.id}: its messages are deleted.\n`
    )
    expect(await ok(['requests', '--data', bDir])).toBe('No message requests.\n')
    const unknown = await parley(['accept', '--data', bDir, 'zz'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/\(UnknownRequest\)\n$/)

    // The interactive chat: the request is shown escaped with how to answer, listed, and accepted under a name.
    const chat = spawn(PARLEY, ['run', '--data', bDir, '--bootstrap', bootstrap, ...listen], { env: ENV })
    children.push(chat)
    let out = ''
    chat.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const see = (text: string, ms = 90_000) => until(() => out.includes(text), ms, `"${text}" in: ${out}`)
    await see('Invite: parley://invite/')
    await c.ask({ cmd: 'send', contact: 'bob', text: 'psst\u001b]0;owned\u0007' })
    await see(`[request ${c.id.slice(0, 16)}] psst\\x1b]0;owned\\x07`)
    await see(`(a message request from ${c.id}: /accept ${c.id.slice(0, 16)} [name], or /decline it)`)
    chat.stdin.write('/requests\n')
    await see(`${c.id}  `)
    expect(out).toMatch(new RegExp(`${c.id} {2}(\\d{5} ){5}\\d{5} {2}1 message\\(s\\), last \\d{4}-`))
    chat.stdin.write(`/accept ${c.id.slice(0, 16)} carol\n`)
    await see('"name": "carol"')
    const id = (await c.ask({ cmd: 'send', contact: 'bob', text: 'hello as carol' })) as { id: string }
    await see('[carol] hello as carol')
    await c.next(
      (e) => e.event === 'receipt' && e.type === 'delivered' && (e.ids as string[]).includes(id.id),
      'delivered at C'
    )
    expect(out).not.toMatch(NO_CONTROL)
    const exited = new Promise<number | null>((r) => chat.on('exit', r))
    chat.stdin.write('/quit\n')
    expect(await exited).toBe(0)
    b = await runJson(bDir, listen, 'B again')
    expect(await b.ask({ cmd: 'contacts' })).toEqual([expect.objectContaining({ contact: c.id, name: 'carol' })])
  }, 300_000)
})

describe('stdin commands run in the order written', () => {
  it(`${2 * MAX_QUEUED_COMMANDS} sends written in one go are numbered and shown in that order, each answered in turn`, async () => {
    const bootstrap = await relayDaemon()
    const b = await runJson(await profile('ob'), ['--bootstrap', bootstrap], 'B')
    const a = await runJson(await profile('oa'), ['--bootstrap', bootstrap], 'A')
    await b.ask({ cmd: 'add', contact: a.id, name: 'alice' })
    await a.ask({ cmd: 'add', contact: b.id, name: 'bob' })
    await deliver(a, b, 'bob', 'first')
    // More than the queue holds: stdin is paused past MAX_QUEUED_COMMANDS and read again, nothing lost.
    const n = 2 * MAX_QUEUED_COMMANDS
    const texts = Array.from({ length: n }, (_, i) => `n${String(i).padStart(4, '0')}`)
    a.child.stdin.write(
      `${texts.map((text, i) => JSON.stringify({ id: `o${i}`, cmd: 'send', contact: 'bob', text })).join('\n')}\n`
    )
    await until(() => b.events.filter((e) => e.event === 'message').length === n + 1, 180_000, `${n} texts at B`)
    // B may show the last text before A's answer to it is read (A answers once B's ack is back): wait for both.
    const answered = () => a.events.filter((e) => typeof e.id === 'string' && /^o\d+$/.test(e.id as string))
    await until(() => answered().length >= n, 30_000, `${n} answers at A`)
    const answers = answered()
    expect(answers.map((e) => e.id)).toEqual(texts.map((_, i) => `o${i}`))
    expect(answers.every((e) => e.event === 'result')).toBe(true)
    const shown = b.events.filter((e) => e.event === 'message').slice(1)
    expect(shown.map((e) => e.text)).toEqual(texts)
    expect(shown.map((e) => e.senderSeq)).toEqual(texts.map((_, i) => i + 1))
  }, 240_000)
})
