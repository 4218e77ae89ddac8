/**
 * The CLI end to end, from a plain shell (PATH without the project's Node, so `node` there is the machine's own):
 * two `parley run --json` processes chat through a third bootstrap process, and a one-shot `parley send` from
 * another process reaches the running node of its profile through the control socket.
 */

import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { JsonLines, until } from '@parley/test-kit'
import { afterAll, describe, expect, it } from 'vitest'

const PARLEY = resolve(import.meta.dirname, '../../../node_modules/.bin/parley')
const PARLEY_RELAY = resolve(import.meta.dirname, '../../../node_modules/.bin/parley-relay')
// A plain shell: system PATH only (no node_modules/.bin), test passphrase from the environment.
const ENV = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: tmpdir(),
  PARLEY_PASSPHRASE: 'cli test passphrase',
  PARLEY_UNSAFE_FAST_KDF: '1'
}
const run = promisify(execFile)
const children: ChildProcessWithoutNullStreams[] = []
const dirs: string[] = []

afterAll(async () => {
  for (const c of children) c.kill('SIGTERM')
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

async function parley(...args: string[]): Promise<string> {
  const { stdout } = await run(PARLEY, args, { env: ENV, timeout: 60_000 })
  return stdout
}

interface Node {
  dir: string
  events: Array<Record<string, unknown>>
  send(cmd: object): void
  next(pred: (e: Record<string, unknown>) => boolean, what: string, ms?: number): Promise<Record<string, unknown>>
}

/** `parley run --json` on a new profile, or on `existing` (a profile made before). */
async function startNode(name: string, extra: string[], existing?: string): Promise<Node & { stop(): Promise<void> }> {
  let dir = existing
  if (dir === undefined) {
    dir = await mkdtemp(join(tmpdir(), `parley-cli-${name}-`))
    dirs.push(dir)
    await parley('init', '--data', dir)
  }
  const child = spawn(PARLEY, ['run', '--json', '--data', dir, ...extra], { env: ENV })
  children.push(child)
  const lines = new JsonLines(child.stdout)
  const node = {
    dir,
    events: lines.events,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    },
    send: (cmd: object) => child.stdin.write(`${JSON.stringify(cmd)}\n`),
    next: (pred: (e: Record<string, unknown>) => boolean, what: string, ms?: number) =>
      lines.next(pred, `${what} (${name})`, ms)
  }
  await node.next((e) => e.event === 'ready', 'ready')
  return node
}

describe('parley CLI', () => {
  it('--help works from a plain shell on the pinned Node', async () => {
    const out = await parley('--help')
    expect(out).toContain('parley — end-to-end-encrypted chat')
    for (const c of ['init', 'id', 'add', 'contacts', 'send', 'history', 'verify', 'export', 'import', 'run']) {
      expect(await parley(c, '--help')).toContain(`parley ${c}`)
    }
  })

  it('two run --json nodes chat through a bootstrap node; a one-shot send reaches the running node', async () => {
    const boot = await startNode('boot', [])
    const addrs = (await boot.next((e) => e.event === 'ready', 'ready')).addresses as string[]
    const bootstrap = addrs.find((a) => !a.includes('/ws'))!
    const a = await startNode('a', ['--bootstrap', bootstrap])
    const b = await startNode('b', ['--bootstrap', bootstrap, '--client'])
    const bId = (await b.next((e) => e.event === 'ready', 'ready')).identity as string
    const aId = (await a.next((e) => e.event === 'ready', 'ready')).identity as string

    a.send({ id: 1, cmd: 'add', contact: bId, name: 'bob' })
    await a.next((e) => e.event === 'result' && e.id === 1, 'add result')
    // B publishes its record once it has a peer; A retries until the DHT answers.
    let delivered = false
    for (let i = 0; i < 20 && !delivered; i++) {
      a.send({ id: 100 + i, cmd: 'send', contact: 'bob', text: `hello bob ${i}` })
      const r = await a.next((e) => (e.event === 'result' || e.event === 'error') && e.id === 100 + i, 'send result')
      delivered = r.event === 'result' && (r.result as { status: string }).status === 'sent'
      if (!delivered) await new Promise((res) => setTimeout(res, 1000))
    }
    expect(delivered).toBe(true)
    const got = await b.next((e) => e.event === 'message', 'message at B')
    expect(got.contact).toBe(aId)
    expect(String(got.text)).toMatch(/^hello bob \d+$/)

    // A wrote first: a message request at B until B adds A (addressed by identity); then B answers.
    b.send({ id: 3, cmd: 'add', contact: aId })
    await b.next((e) => e.event === 'result' && e.id === 3, 'B adds A')
    b.send({ id: 2, cmd: 'send', contact: aId, text: 'hi alice' })
    await a.next((e) => e.event === 'message' && e.text === 'hi alice', 'reply at A')

    // A one-shot command of A's profile goes through A's running node (the profile is locked by it).
    const out = await parley('send', '--data', a.dir, 'bob', 'from a one-shot command')
    expect(out).toMatch(/Delivered|Queued/)
    await b.next((e) => e.event === 'message' && e.text === 'from a one-shot command', 'one-shot message at B')
    const history = await parley('history', '--data', a.dir, 'bob')
    expect(history).toContain('hi alice')
    expect(history).toContain('from a one-shot command')
    const verify = await parley('verify', '--data', a.dir, 'bob')
    expect(verify).toMatch(/Safety number:\n {2}(\d{5} ){11}\d{5}/)
  })

  it('a message to an offline contact waits at its relay: "deposited", then delivered when it comes back', async () => {
    const relay = await startRelayDaemon()
    const b = await startNode('mb', ['--bootstrap', relay.bootstrap])
    const bId = (await b.next((e) => e.event === 'ready', 'ready')).identity as string
    // B keeps its mailbox (and one-time prekeys) at the relay it bootstrapped from.
    await until(async () => (await relay.metric('parley_mailbox_mailboxes')) === 1, 30_000, 'B registered at the relay')
    const a = await startNode('ma', ['--bootstrap', relay.bootstrap])
    // B knows A (a stranger's messages are message requests, which get no delivered receipt).
    b.send({ id: 'addA', cmd: 'add', contact: (await a.next((e) => e.event === 'ready', 'ready')).identity })
    await b.next((e) => e.event === 'result' && e.id === 'addA', 'B adds A')
    a.send({ id: 1, cmd: 'add', contact: bId, name: 'bob' })
    await a.next((e) => e.event === 'result' && e.id === 1, 'add result')
    let sent = false
    for (let i = 0; i < 20 && !sent; i++) {
      a.send({ id: 100 + i, cmd: 'send', contact: 'bob', text: `online ${i}` })
      const r = await a.next((e) => (e.event === 'result' || e.event === 'error') && e.id === 100 + i, 'send result')
      sent = r.event === 'result' && (r.result as { status: string }).status === 'sent'
      if (!sent) await new Promise((res) => setTimeout(res, 1000))
    }
    expect(sent).toBe(true)
    await b.next((e) => e.event === 'message', 'the first message at B')
    await b.stop()

    a.send({ id: 2, cmd: 'send', contact: 'bob', text: 'while you were away' })
    const r = await a.next((e) => e.event === 'result' && e.id === 2, 'send result')
    expect((r.result as { status: string }).status).toBe('deposited')
    const history = await parley('history', '--data', a.dir, 'bob')
    expect(history).toContain(`while you were away  [deposited at relay ${relay.peerId}]`)
    expect(await relay.metric('parley_mailbox_stored_envelopes')).toBe(1)

    const back = await startNode('mb2', ['--bootstrap', relay.bootstrap], b.dir)
    await back.next((e) => e.event === 'message' && e.text === 'while you were away', 'the deposit at B')
    await a.next(
      (e) =>
        e.event === 'receipt' &&
        e.type === 'delivered' &&
        (e.ids as string[]).includes(String((r.result as { id: string }).id)),
      'the delivered receipt at A'
    )
    expect(await relay.metric('parley_mailbox_stored_envelopes')).toBe(0)
  })

  it('run with --relay holds a reservation there (a /p2p-circuit address), so browsers can reach it; without, none', async () => {
    const relay = await startRelayDaemon()
    const withRelay = await startNode('rr', ['--bootstrap', relay.bootstrap, '--relay', relay.bootstrap])
    const without = await startNode('rn', ['--bootstrap', relay.bootstrap])
    await withRelay.next((e) => e.event === 'ready', 'ready')
    await without.next((e) => e.event === 'ready', 'ready')
    const addresses = async (node: typeof withRelay, id: string) => {
      node.send({ id, cmd: 'id' })
      const r = await node.next((e) => e.event === 'result' && e.id === id, `id ${id}`)
      return (r.result as { addresses: string[] }).addresses
    }
    let n = 0
    await until(
      async () => (await addresses(withRelay, `w${n++}`)).some((a) => a.includes(`/p2p/${relay.peerId}/p2p-circuit`)),
      30_000,
      'a reservation at the relay'
    )
    expect((await addresses(without, 'n')).some((a) => a.includes('/p2p-circuit'))).toBe(false)
    await withRelay.stop()
    await without.stop()
  })
})

/** The relay daemon from a plain shell, on a fresh data directory; its bootstrap address and metrics. */
async function startRelayDaemon(): Promise<{
  bootstrap: string
  peerId: string
  metric(name: string): Promise<number>
}> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-cli-relay-'))
  dirs.push(dir)
  const child = spawn(PARLEY_RELAY, ['--data', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--http-port', '0'], {
    env: ENV
  })
  children.push(child)
  let out = ''
  const printed = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${out}`)), 30_000)
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (/^bootstrap:/m.test(out) && /^http:/m.test(out)) {
        clearTimeout(timer)
        resolve(out)
      }
    })
  })
  const bootstrap = printed.match(/^bootstrap:\s+(\S+)/m)![1]!
  const url = printed.match(/^http:\s+(\S+)/m)![1]!
  return {
    bootstrap,
    peerId: bootstrap.split('/p2p/')[1]!,
    metric: async (name) => {
      const text = await (await fetch(`${url}/metrics`)).text()
      const line = text.split('\n').find((l) => l.startsWith(`${name} `))
      return line === undefined ? Number.NaN : Number(line.split(' ')[1])
    }
  }
}
