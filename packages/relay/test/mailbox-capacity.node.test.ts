/**
 * The mailbox store's global limits over real libp2p connections on loopback: the disk cap over all mailboxes, the
 * envelope count cap, what a full relay still lets owners do, the purge that frees room, and accounting that is
 * exactly what is on disk, also after a restart on a real LevelDB store.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { defaultBackend, generateIdentity, type IdentityKeyPair, signOneTimePrekey } from '@parley/crypto'
import { MailboxClient, MailboxError } from '@parley/network'
import { openStore } from '@parley/store'
import { AtomicMemoryDatastore } from '@parley/store/testing'
import { decodeMailboxResponse, MAX_MAILBOX_REQUEST_BYTES, MAX_MAILBOX_RESPONSE_BYTES, protocols } from '@parley/wire'
import type { Batch, Datastore } from 'interface-datastore'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createRelay,
  InvalidRelayOptionError,
  type MailboxLimits,
  type MailboxServer,
  openMailboxServer
} from '../src/index.ts'

const backend = defaultBackend
const MAILBOX = protocols().mailbox
const DAY = 24 * 3600 * 1000

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function peer(listen: string[] = []): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen },
    connectionManager: { inboundConnectionThreshold: 10_000, maxIncomingPendingConnections: 1000 },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  cleanups.push(async () => node.stop())
  return node
}

interface Relay {
  node: Libp2p
  server: MailboxServer
  datastore: Datastore
  clock: { now: number }
}

async function relay(
  options: { limits?: Partial<MailboxLimits>; datastore?: Datastore; clock?: { now: number } } = {}
): Promise<Relay> {
  const node = await peer(['/ip4/127.0.0.1/tcp/0'])
  const datastore = options.datastore ?? new AtomicMemoryDatastore()
  const clock = options.clock ?? { now: Date.now() }
  const server = await openMailboxServer({
    datastore,
    now: () => clock.now,
    ...(options.limits && { limits: options.limits })
  })
  await server.attach(node)
  cleanups.push(() => server.close())
  return { node, server, datastore, clock }
}

async function connect(from: Libp2p, to: Relay): Promise<MailboxClient> {
  return new MailboxClient(await from.dialProtocol(to.node.getMultiaddrs()[0]!, MAILBOX), to.node.peerId)
}

async function tokenHashes(tokens: Uint8Array[]): Promise<Uint8Array[]> {
  return Promise.all(tokens.map((t) => backend.sha256(t)))
}

async function owner(r: Relay, tokens?: Uint8Array[], lifetime = 7 * DAY) {
  const id: IdentityKeyPair = await generateIdentity(backend)
  const client = await connect(await peer(), r)
  const register = async (t = tokens, expiresAt = r.clock.now + lifetime) =>
    client.register(backend, id, { expiresAt, ...(t && { depositTokenHashes: await tokenHashes(t) }) })
  await register()
  return { id, client, register }
}

const bytes = (n: number, fill = 7) => new Uint8Array(n).fill(fill)

/** The error code a request was refused with, or 'ok'. */
async function outcome(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'ok',
    (e: unknown) => {
      expect(e).toBeInstanceOf(MailboxError)
      return (e as MailboxError).code
    }
  )
}

/** Key and value bytes of every mailbox record, counted from the datastore itself (not from the relay's index). */
async function diskBytes(store: Datastore): Promise<number> {
  let n = 0
  const utf8 = new TextEncoder()
  for await (const { key, value } of store.query({ prefix: '/parley-mailbox' })) {
    n += utf8.encode(key.toString()).length + value.length
  }
  return n
}

/** Deposits ever smaller envelopes until even the smallest is refused RelayFull (the store is then full). */
async function fill(client: MailboxClient, mailbox: Uint8Array, depositToken?: Uint8Array): Promise<number> {
  let accepted = 0
  for (const size of [4000, 400, 130, 1]) {
    for (;;) {
      const code = await outcome(
        client.deposit(mailbox, bytes(size), depositToken === undefined ? {} : { depositToken })
      )
      if (code === 'RelayFull') break
      expect(code).toBe('ok')
      accepted++
    }
  }
  return accepted
}

async function signedPrekeys(id: IdentityKeyPair, x25519: number, kem: number) {
  const out = []
  for (let i = 0; i < x25519; i++) {
    out.push(
      await signOneTimePrekey(backend, id.secretKey, {
        kind: 'x25519',
        id: 1 + i,
        publicKey: (await backend.x25519KeyPair()).publicKey
      })
    )
  }
  for (let i = 0; i < kem; i++) {
    out.push(
      await signOneTimePrekey(backend, id.secretKey, {
        kind: 'kem',
        id: 100 + i,
        publicKey: (await backend.mlKem1024KeyPair()).publicKey
      })
    )
  }
  return out
}

/** A datastore whose batch commits wait while `held` (a disk that has not synced yet). */
class HeldDatastore extends AtomicMemoryDatastore {
  held = false
  waiting = 0
  #release: Array<() => void> = []
  override batch(): Batch {
    const inner = super.batch()
    return {
      put: (k, v) => inner.put(k, v),
      delete: (k) => inner.delete(k),
      commit: async () => {
        if (this.held) {
          this.waiting++
          await new Promise<void>((r) => this.#release.push(r))
          this.waiting--
        }
        await inner.commit()
      }
    }
  }
  release(): void {
    this.held = false
    for (const r of this.#release.splice(0)) r()
  }
}

describe('mailbox store limits over all mailboxes', () => {
  it('many mailboxes, each under its own quota, cannot together fill the disk past the global cap', async () => {
    const cap = 40_000
    const r = await relay({ limits: { maxStoreBytes: cap, maxBytesPerMailbox: 8_000 } })
    const owners = await Promise.all(Array.from({ length: 12 }, () => owner(r)))
    const s = await connect(await peer(), r)
    // Four 1 800-byte envelopes per mailbox stay under each 8 000-byte quota; twelve mailboxes would hold 86 400.
    const codes: string[] = []
    for (let round = 0; round < 4; round++) {
      for (const o of owners) codes.push(await outcome(s.deposit(o.id.publicKey, bytes(1800))))
    }
    const stats = r.server.stats()
    expect(codes.filter((c) => c === 'QuotaExceeded')).toHaveLength(0)
    expect(codes.filter((c) => c === 'ok').length).toBeGreaterThan(10)
    const full = codes.filter((c) => c === 'RelayFull').length
    expect(full).toBeGreaterThan(10)
    expect(stats.rejects.RelayFull).toBe(full)
    expect(stats.storeFull.deposit).toBe(full)
    // The cap holds, and it was reached: one more envelope of that size would not have fitted.
    expect(stats.storeBytes).toBeLessThanOrEqual(cap)
    expect(stats.storeBytes + 1800).toBeGreaterThan(cap)
    expect(stats.storeBytes).toBe(await diskBytes(r.datastore))
    expect(stats.storedEnvelopes).toBe(codes.filter((c) => c === 'ok').length)

    // Concurrent deposits on many connections do not overshoot together either.
    const burst = await relay({ limits: { maxStoreBytes: 20_000 } })
    const targets = await Promise.all(Array.from({ length: 4 }, () => owner(burst)))
    const results = await Promise.all(
      Array.from({ length: 24 }, async (_, i) =>
        outcome((await connect(await peer(), burst)).deposit(targets[i % 4]!.id.publicKey, bytes(1500)))
      )
    )
    expect(results).toContain('RelayFull')
    expect(burst.server.stats().storeBytes).toBeLessThanOrEqual(20_000)
    expect(burst.server.stats().storeBytes).toBe(await diskBytes(burst.datastore))
  })

  it('caps the envelopes held over all mailboxes', async () => {
    const r = await relay({ limits: { maxStoredEnvelopes: 5 } })
    const owners = await Promise.all(Array.from({ length: 3 }, () => owner(r)))
    const s = await connect(await peer(), r)
    const codes: string[] = []
    for (const o of owners) for (let i = 0; i < 2; i++) codes.push(await outcome(s.deposit(o.id.publicKey, bytes(10))))
    expect(codes).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'RelayFull'])
    expect(r.server.stats()).toMatchObject({ storedEnvelopes: 5, maxStoredEnvelopes: 5 })
  })

  it('a full relay refuses new mailboxes, yet owners renew, drain and so free room; larger token lists and prekeys wait for room', async () => {
    const r = await relay({ limits: { maxStoreBytes: 20_000 } })
    const [t1, t2] = [backend.randomBytes(32), backend.randomBytes(32)]
    const b = await owner(r, [t1])
    const s = await connect(await peer(), r)
    expect(await fill(s, b.id.publicKey, t1)).toBeGreaterThan(4)
    const full = r.server.stats().storeBytes

    // Nobody new gets in.
    const stranger = await generateIdentity(backend)
    const c = await connect(await peer(), r)
    expect(await outcome(c.register(backend, stranger, { expiresAt: r.clock.now + DAY }))).toBe('RelayFull')
    expect(r.server.stats().storeFull.register).toBe(1)

    // The owner renews with a second token: the expiry moves on, the longer token list waits for room.
    r.clock.now += 1000
    await b.register([t1, t2])
    expect(r.server.stats().storeFull['register-tokens']).toBe(1)
    expect(await outcome(s.deposit(b.id.publicKey, bytes(130), { depositToken: t2 }))).toBe('DepositTokenRequired')
    expect(await outcome(s.deposit(b.id.publicKey, bytes(130), { depositToken: t1 }))).toBe('RelayFull')
    // Prekeys are a convenience: an upload keeps what fits (here nothing) and answers ok.
    await b.client.authenticate(backend, b.id)
    expect(await b.client.putPrekeys(await signedPrekeys(b.id, 0, 1))).toEqual({ x25519: 0, kem: 0 })
    expect(r.server.stats().storeFull['put-prekeys']).toBe(1)
    expect(r.server.stats().storeBytes).toBeLessThanOrEqual(20_000)
    expect(r.server.stats().storeBytes).toBeGreaterThanOrEqual(full - 2) // the record may lose an expiry digit at most

    // Draining frees the room: deposits, new mailboxes, the second token and prekeys are accepted again.
    for (;;) {
      const page = await b.client.fetch()
      await b.client.ack(page.items.map((i) => i.id))
      if (!page.more) break
    }
    expect(r.server.stats().storedEnvelopes).toBe(0)
    await b.register([t1, t2])
    expect(await outcome(s.deposit(b.id.publicKey, bytes(130), { depositToken: t2 }))).toBe('ok')
    expect(await outcome(c.register(backend, stranger, { expiresAt: r.clock.now + DAY }))).toBe('ok')
    await b.client.authenticate(backend, b.id)
    expect(await b.client.putPrekeys(await signedPrekeys(b.id, 1, 1))).toEqual({ x25519: 1, kem: 1 })
    expect(r.server.stats().storeBytes).toBe(await diskBytes(r.datastore))
  })

  it('the accounting rebuilt at start is exactly what is on disk (LevelDB), so the cap holds to the byte after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-mailbox-cap-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const clock = { now: Date.now() }
    let store = await openStore({ kind: 'level', path: dir })
    const first = await relay({ datastore: store, clock })
    const b = await owner(first)
    const s = await connect(await peer(), first)
    const before0 = first.server.stats().storeBytes
    await s.deposit(b.id.publicKey, bytes(500))
    // What one 500-byte envelope costs besides its bytes (key, id, time, framing): the same for any 128..16383 bytes.
    const overhead = first.server.stats().storeBytes - before0 - 500
    expect(overhead).toBeGreaterThan(0)
    for (let i = 0; i < 20; i++) await s.deposit(b.id.publicKey, bytes(200 + i * 37, i))
    await b.client.authenticate(backend, b.id)
    await b.client.putPrekeys(await signedPrekeys(b.id, 3, 2))
    const page = await b.client.fetch()
    await b.client.ack(page.items.slice(0, 7).map((i) => i.id))
    await (await connect(await peer(), first)).takePrekeys(b.id.publicKey)
    const stats = first.server.stats()
    expect(stats.storeBytes).toBe(await diskBytes(store))
    await first.server.close()
    await store.close()

    // Restarted with a cap that leaves room for exactly one 500-byte envelope.
    store = await openStore({ kind: 'level', path: dir })
    cleanups.push(() => store.close())
    const second = await relay({
      datastore: store,
      clock,
      limits: { maxStoreBytes: stats.storeBytes + 500 + overhead }
    })
    expect(second.server.stats()).toMatchObject({
      storeBytes: stats.storeBytes,
      storedEnvelopes: 14,
      storedBytes: stats.storedBytes,
      storedPrekeys: 3,
      mailboxes: 1
    })
    const s2 = await connect(await peer(), second)
    expect(await outcome(s2.deposit(b.id.publicKey, bytes(501)))).toBe('RelayFull')
    expect(await outcome(s2.deposit(b.id.publicKey, bytes(500)))).toBe('ok')
    expect(second.server.stats().storeBytes).toBe(stats.storeBytes + 500 + overhead)
    expect(second.server.stats().storeBytes).toBe(await diskBytes(store))
    expect(await outcome(s2.deposit(b.id.publicKey, bytes(130)))).toBe('RelayFull')
  })

  it("the purge frees the room of expired envelopes, and of a lapsed registration's prekeys at once", async () => {
    const r = await relay({ limits: { ttlMs: 10 * DAY } })
    const b = await owner(r, undefined, 5 * DAY)
    await b.client.authenticate(backend, b.id)
    await b.client.putPrekeys(await signedPrekeys(b.id, 2, 1))
    const s = await connect(await peer(), r)
    for (let i = 0; i < 3; i++) await s.deposit(b.id.publicKey, bytes(300, i))
    const withPrekeys = r.server.stats().storeBytes

    // The registration lapsed (its owner stopped renewing): nobody can take its prekeys, so they go now; the
    // envelopes wait out their TTL.
    r.clock.now += 6 * DAY
    expect(await r.server.purgeExpired()).toBe(0)
    expect(r.server.stats()).toMatchObject({ mailboxes: 0, storedPrekeys: 0, storedEnvelopes: 3 })
    expect(await r.server.hasPrekey(b.id.publicKey, 'kem', 100)).toBe(false)
    expect(r.server.stats().storeBytes).toBeLessThan(withPrekeys - 1500)
    expect(r.server.stats().storeBytes).toBe(await diskBytes(r.datastore))

    r.clock.now += 5 * DAY
    expect(await r.server.purgeExpired()).toBe(3)
    expect(r.server.stats()).toMatchObject({ storeBytes: 0, storedEnvelopes: 0 })
    expect(await diskBytes(r.datastore)).toBe(0)
  })

  it('a burst of registrations for new mailboxes cannot pass the mailbox count together', async () => {
    const disk = new HeldDatastore()
    const r = await relay({ datastore: disk, limits: { maxMailboxes: 3 } })
    const ids = await Promise.all(Array.from({ length: 8 }, () => generateIdentity(backend)))
    const clients = await Promise.all(ids.map(async () => connect(await peer(), r)))
    // The disk is slow: every registration is checked while the first ones are still being written.
    disk.held = true
    const pending = ids.map((id, i) => outcome(clients[i]!.register(backend, id, { expiresAt: r.clock.now + DAY })))
    await new Promise((res) => setTimeout(res, 500))
    disk.release()
    const codes = await Promise.all(pending)
    expect(codes.filter((c) => c === 'ok')).toHaveLength(3)
    expect(codes.filter((c) => c === 'TooManyMailboxes')).toHaveLength(5)
    expect(r.server.stats().mailboxes).toBe(3)
  })

  it('a renewal still being written when the purge runs keeps its mailbox, on disk and in the index', async () => {
    const disk = new HeldDatastore()
    const r = await relay({ datastore: disk })
    const b = await owner(r, undefined, DAY)
    r.clock.now += 2 * DAY // lapsed: the purge would delete it
    disk.held = true
    const renewal = b.register(undefined, r.clock.now + 7 * DAY)
    for (let i = 0; i < 100 && disk.waiting === 0; i++) await new Promise((res) => setTimeout(res, 10))
    expect(disk.waiting).toBe(1)
    const purge = r.server.purgeExpired()
    await new Promise((res) => setTimeout(res, 50))
    disk.release()
    await renewal
    await purge
    expect(r.server.stats().mailboxes).toBe(1)
    expect(r.server.stats().storeBytes).toBe(await diskBytes(disk))
    expect(r.server.stats().storeBytes).toBeGreaterThan(0)
    const s = await connect(await peer(), r)
    expect(await outcome(s.deposit(b.id.publicKey, bytes(10)))).toBe('ok')
  })

  it('mailbox limits must be whole numbers of at least 1', async () => {
    for (const limits of [{ maxStoreBytes: 0 }, { maxStoredEnvelopes: 1.5 }, { ttlMs: -1 }]) {
      const e = await openMailboxServer({ datastore: new AtomicMemoryDatastore(), limits }).catch((err: unknown) => err)
      expect(e).toBeInstanceOf(InvalidRelayOptionError)
      expect((e as InvalidRelayOptionError).option).toBe(`mailboxLimits.${Object.keys(limits)[0]}`)
    }
  })

  it('GET /metrics shows the store bytes, the caps and what the full store turned away', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-relay-metrics-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const relayNode = await createRelay({
      dataDir: dir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      http: { port: 0 },
      logSink: () => {},
      mailboxLimits: { maxStoreBytes: 300, maxStoredEnvelopes: 777 }
    })
    cleanups.push(() => relayNode.stop())
    const id = await generateIdentity(backend)
    const client = new MailboxClient(
      await (await peer()).dialProtocol(relayNode.multiaddrs[0]!, MAILBOX),
      relayNode.peerId
    )
    await client.register(backend, id, { expiresAt: Date.now() + DAY })
    expect(await outcome(client.deposit(id.publicKey, bytes(200)))).toBe('RelayFull')
    const text = await (await fetch(`${relayNode.httpUrl}/metrics`)).text()
    const stored = relayNode.mailbox.stats().storeBytes
    expect(stored).toBeGreaterThan(0)
    expect(text).toContain(`\nparley_mailbox_store_bytes ${stored}\n`)
    expect(text).toContain('\nparley_mailbox_store_max_bytes 300\n')
    expect(text).toContain('\nparley_mailbox_max_stored_envelopes 777\n')
    expect(text).toContain('\nparley_mailbox_max_mailboxes 100000\n')
    expect(text).toContain('\nparley_mailbox_store_full_total{op="deposit"} 1\n')
    expect(text).toContain('\nparley_mailbox_rejects_total{reason="RelayFull"} 1\n')
  })
})

describe('mailbox stream', () => {
  it("reads requests up to wire's MAX_MAILBOX_REQUEST_BYTES: a frame one byte longer ends the stream unread", async () => {
    const r = await relay()
    const client = await peer()
    const send = async (length: number) => {
      const lp = lpStream(await client.dialProtocol(r.node.getMultiaddrs()[0]!, MAILBOX), {
        maxDataLength: MAX_MAILBOX_RESPONSE_BYTES
      })
      await lp.write(new Uint8Array(length).fill(0xff), { signal: AbortSignal.timeout(10_000) })
      return lp.read({ signal: AbortSignal.timeout(10_000) }).then(
        (answer) => {
          const response = decodeMailboxResponse(answer.subarray())
          return response.status === 'error' ? response.errorCode : 'ok'
        },
        () => 'stream ended'
      )
    }
    // At the limit the frame is read (and is no request); one byte over, the relay does not read it at all.
    expect(await send(MAX_MAILBOX_REQUEST_BYTES)).toBe('Malformed')
    expect(await send(MAX_MAILBOX_REQUEST_BYTES + 1)).toBe('stream ended')
    expect(r.server.stats().rejects).toEqual({ Malformed: 1 })
  })
})
