/**
 * `pnpm start` at the repository root: one relay on localhost with its state on disk, printing a bootstrap address a
 * messenger can use at once (it keeps its mailbox there), and the same PeerId after a restart.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createMessenger, NAMESPACES } from '@parley/messenger'
import { createProfileStore, openStore } from '@parley/store'
import { afterAll, describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))

function start(data: string): Promise<{ child: ChildProcess; out: () => string; bootstrap: string }> {
  // Exactly what `pnpm start` runs: the package.json script, with node_modules/.bin (the pinned Node) first on PATH.
  const script = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start as string
  const child = spawn('/bin/sh', ['-c', `exec ${script}`], {
    cwd: ROOT,
    env: {
      PATH: `${join(ROOT, 'node_modules/.bin')}:/usr/local/bin:/usr/bin:/bin`,
      HOME: data,
      PARLEY_START_DATA: data,
      PARLEY_RELAY_HTTP_PORT: '0',
      // The relay is what this file tests; building the web app is apps/web/test/start.node.test.ts's part.
      PARLEY_START_NO_BUILD: '1'
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, as a terminal gives it: Ctrl-C (and our SIGTERM) reaches node behind pnpm's shim.
    detached: true
  })
  let out = ''
  let err = ''
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pnpm start printed no bootstrap address: ${out} ${err}`)), 60_000)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = out.match(/parley run --bootstrap (\S+)/)
      if (m !== null) {
        clearTimeout(timer)
        resolve({ child, out: () => out, bootstrap: m[1]! })
      }
    })
    child.on('exit', (code) => reject(new Error(`pnpm start exited with ${code}: ${err}`)))
  })
}

/** SIGTERM to the whole group; resolves once every process in it closed its output (node itself has exited). */
async function stop(child: ChildProcess): Promise<void> {
  const closed = new Promise<void>((r) => child.once('close', () => r()))
  process.kill(-child.pid!, 'SIGTERM')
  await closed
}

describe('pnpm start', () => {
  let dir = ''
  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('runs a relay whose printed bootstrap address a messenger joins, and keeps its PeerId across restarts', async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-start-'))
    const first = await start(dir)
    const peerId = first.bootstrap.split('/p2p/')[1]!
    expect(first.out()).toContain('/metrics')
    // Another test file may have built apps/web meanwhile: either way the line says what is served.
    expect(first.out()).toMatch(/web app: +(http:\/\/\S+\/|not built)/)
    const url = first.out().match(/metrics: +(http:\/\/\S+)\/metrics/)![1]!
    expect((await fetch(`${url}/healthz`)).status).toBe(200)

    const store = await createProfileStore(await openStore({ kind: 'memory' }), 'pw', {
      namespaces: NAMESPACES,
      create: true,
      unsafeFastKdfForTests: true
    })
    const m = await createMessenger({ store, network: { bootstrap: [first.bootstrap] } })
    try {
      const end = Date.now() + 30_000
      while (m.mailboxes.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100))
      expect(m.mailboxes).toEqual([first.bootstrap])
    } finally {
      await m.stop()
    }
    await stop(first.child)
    // It stopped cleanly: the port is closed and the data directory's lock released (a second relay can take it).
    await expect(fetch(`${url}/healthz`)).rejects.toThrow()

    const second = await start(dir)
    expect(second.bootstrap.split('/p2p/')[1]).toBe(peerId)
    await stop(second.child)
  })
})
