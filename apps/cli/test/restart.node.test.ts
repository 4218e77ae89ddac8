/**
 * B is killed with SIGKILL mid-conversation and restarted from its on-disk profile: no message it acknowledged is
 * lost, none is shown twice, the session continues without re-keying, and what A sent meanwhile arrives (A's retries).
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { JsonLines } from '@parley/test-kit'
import { afterAll, describe, expect, it } from 'vitest'

const PARLEY = resolve(import.meta.dirname, '../../../node_modules/.bin/parley')
const ENV = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: tmpdir(),
  PARLEY_PASSPHRASE: 'restart test',
  PARLEY_UNSAFE_FAST_KDF: '1'
}
const exec = promisify(execFile)
const children: ChildProcessWithoutNullStreams[] = []
const dirs: string[] = []

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL')
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

type Event = Record<string, unknown>

function start(dir: string, args: string[]) {
  const child = spawn(PARLEY, ['run', '--json', '--data', dir, ...args], { env: ENV })
  children.push(child)
  const lines = new JsonLines<Event>(child.stdout)
  const next = (pred: (e: Event) => boolean, what: string, ms?: number): Promise<Event> => lines.next(pred, what, ms)
  return { child, events: lines.events, next, send: (c: object) => child.stdin.write(`${JSON.stringify(c)}\n`) }
}

async function profile(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `parley-restart-${name}-`))
  dirs.push(dir)
  await exec(PARLEY, ['init', '--data', dir], { env: ENV })
  return dir
}

describe('crash and restart', () => {
  it('B killed with SIGKILL mid-conversation and restarted from disk loses nothing it acknowledged and shows nothing twice', async () => {
    const boot = start(await profile('boot'), [])
    const bootAddr = ((await boot.next((e) => e.event === 'ready', 'boot')).addresses as string[]).find(
      (x) => !x.includes('/ws')
    )!
    const aDir = await profile('a')
    const bDir = await profile('b')
    const a = start(aDir, ['--bootstrap', bootAddr])
    let b = start(bDir, ['--bootstrap', bootAddr, '--listen', '/ip4/127.0.0.1/tcp/0'])
    const bId = (await b.next((e) => e.event === 'ready', 'b ready')).identity as string
    const aId = (await a.next((e) => e.event === 'ready', 'a ready')).identity as string
    // B knows A: a stranger's messages would be a message request, outside B's conversations.
    b.send({ id: 'addA', cmd: 'add', contact: aId, name: 'alice' })
    await b.next((e) => e.id === 'addA', 'B adds A')
    a.send({ id: 'add', cmd: 'add', contact: bId, name: 'bob' })
    await a.next((e) => e.id === 'add', 'add')

    // Warm up until B's record is in the DHT and the first message is delivered.
    for (let i = 0; ; i++) {
      a.send({ id: `w${i}`, cmd: 'send', contact: 'bob', text: `warm ${i}` })
      const r = await a.next((e) => e.id === `w${i}`, 'warm send')
      if ((r.result as { status?: string } | undefined)?.status === 'sent') break
      if (i > 20) throw new Error('B never became reachable')
      await new Promise((res) => setTimeout(res, 1000))
    }
    a.send({ id: 'v1', cmd: 'verify', contact: 'bob' })
    const sessionBefore = ((await a.next((e) => e.id === 'v1', 'verify')).result as { session: string }).session

    // A stream of messages; B is killed while they flow.
    const total = 40
    for (let i = 0; i < total; i++) {
      a.send({ id: `m${i}`, cmd: 'send', contact: 'bob', text: `msg ${i}` })
      if (i === 15) b.child.kill('SIGKILL')
      await new Promise((r) => setTimeout(r, 25))
    }
    const results = await Promise.all(Array.from({ length: total }, (_, i) => a.next((e) => e.id === `m${i}`, `m${i}`)))
    const acked = results.filter((r) => (r.result as { status: string }).status === 'sent').map((_, i) => `msg ${i}`)
    const shownBeforeKill = b.events.filter((e) => e.event === 'message').map((e) => e.text as string)
    expect(results.some((r) => (r.result as { status: string }).status === 'queued')).toBe(true)

    // Restart B from disk; A's retries deliver what waited.
    b = start(bDir, ['--bootstrap', bootAddr, '--listen', '/ip4/127.0.0.1/tcp/0'])
    await b.next((e) => e.event === 'ready', 'b restarted')
    await b.next(
      () => {
        const shown = new Set([
          ...shownBeforeKill,
          ...b.events.filter((e) => e.event === 'message').map((e) => e.text as string)
        ])
        return Array.from({ length: total }, (_, i) => `msg ${i}`).every((t) => shown.has(t))
      },
      'every message after restart',
      90_000
    )

    const shownAfter = b.events.filter((e) => e.event === 'message').map((e) => e.text as string)
    const all = [...shownBeforeKill, ...shownAfter].filter((t) => t.startsWith('msg '))
    // None shown twice, across the crash.
    expect(new Set(all).size).toBe(all.length)
    expect(all).toHaveLength(total)
    // Every message B acknowledged before the kill is in its history after the restart.
    b.send({ id: 'h', cmd: 'history', contact: (await a.next((e) => e.event === 'ready', 'a')).identity })
    const history = ((await b.next((e) => e.id === 'h', 'history')).result as Array<{ text: string }>).map(
      (h) => h.text
    )
    for (const t of acked) expect(history).toContain(t)
    // The session continued: no re-keying.
    a.send({ id: 'v2', cmd: 'verify', contact: 'bob' })
    const sessionAfter = ((await a.next((e) => e.id === 'v2', 'verify')).result as { session: string }).session
    expect(sessionAfter).toBe(sessionBefore)
  })
})
