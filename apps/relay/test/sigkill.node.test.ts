/**
 * The relay daemon is killed with SIGKILL in the middle of a burst of deposits. After a restart on the same data
 * directory, every deposit it acknowledged is served exactly once, and nothing it serves is half-written: each item
 * is byte for byte one of the envelopes the senders sent.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { noise } from '@libp2p/noise'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { defaultBackend, generateIdentity, toHex } from '@parley/crypto'
import { MailboxClient } from '@parley/messenger'
import { protocols } from '@parley/wire'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterAll, describe, expect, it } from 'vitest'

const BIN = fileURLToPath(new URL('../bin/parley-relay', import.meta.url))
const MAILBOX = protocols().mailbox

/** Starts the daemon on `dir`; resolves with its process and bootstrap address once it prints it. */
function startDaemon(dir: string): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(BIN, ['--data', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--http-port', '0'], {
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dir },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${err}`)), 30_000)
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
    })
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = out.match(/^bootstrap:\s+(\S+)/m)
      if (m !== null) {
        clearTimeout(timer)
        resolve({ child, address: m[1]! })
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`relay exited with ${code}: ${err}`))
    })
  })
}

describe('relay killed with SIGKILL during a burst of deposits', () => {
  const nodes: Libp2p[] = []
  const children: ChildProcess[] = []
  let dir = ''

  afterAll(async () => {
    for (const n of nodes) await n.stop()
    for (const c of children) c.kill('SIGKILL')
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  async function client(address: string): Promise<MailboxClient> {
    const node = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    nodes.push(node)
    const ma = multiaddr(address)
    const stream = await node.dialProtocol(ma, MAILBOX)
    return new MailboxClient(stream, peerIdFromString(ma.getComponents().findLast((c) => c.name === 'p2p')!.value!))
  }

  it('serves every acknowledged deposit exactly once after a restart, and nothing half-written', async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-sigkill-'))
    const first = await startDaemon(dir)
    children.push(first.child)
    const owner = await generateIdentity(defaultBackend)
    const ownerClient = await client(first.address)
    await ownerClient.register(defaultBackend, owner, { expiresAt: Date.now() + 24 * 3600_000 })

    // Eight senders deposit distinct 2 KiB envelopes as fast as the relay acknowledges them.
    const sent = new Map<string, Uint8Array>()
    const acked = new Set<string>()
    let killed = false
    const senders = await Promise.all(Array.from({ length: 8 }, () => client(first.address)))
    const burst = senders.map(async (s, i) => {
      for (let n = 0; !killed; n++) {
        const envelope = defaultBackend.randomBytes(2048)
        envelope.set([i, n >> 8, n & 0xff], 0)
        sent.set(toHex(envelope), envelope)
        try {
          await s.deposit(owner.publicKey, envelope, { signal: AbortSignal.timeout(10_000) })
          acked.add(toHex(envelope))
        } catch {
          return // the relay died under this request: it may or may not have stored it
        }
      }
    })
    while (acked.size < 150) await new Promise((r) => setTimeout(r, 5))
    first.child.kill('SIGKILL')
    killed = true
    await Promise.all(burst)
    expect(first.child.signalCode ?? (await new Promise((r) => first.child.once('exit', (_c, s) => r(s))))).toBe(
      'SIGKILL'
    )

    const second = await startDaemon(dir)
    children.push(second.child)
    expect(second.address).toBe(first.address.replace(/\/tcp\/\d+/, second.address.match(/\/tcp\/\d+/)![0]))
    const reader = await client(second.address)
    await reader.authenticate(defaultBackend, owner)
    const served: string[] = []
    const ids: number[] = []
    for (;;) {
      const page = await reader.fetch()
      for (const item of page.items) {
        served.push(toHex(item.envelope))
        ids.push(item.id)
      }
      if (!page.more) break
      // Fetch pages by acknowledging what we hold (the relay serves the oldest first).
      await reader.ack(page.items.map((i) => i.id))
    }
    expect(new Set(served).size).toBe(served.length)
    for (const hex of served) expect(sent.has(hex), 'an item that is not one of the sent envelopes').toBe(true)
    for (const hex of acked) expect(served.includes(hex), 'an acknowledged deposit is missing').toBe(true)
    expect(served.length).toBeGreaterThanOrEqual(acked.size)
    expect(served.length).toBeLessThanOrEqual(sent.size)
    await reader.ack(ids)
    expect((await reader.fetch()).items).toEqual([])
  })
})
