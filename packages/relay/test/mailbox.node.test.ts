/**
 * The mailbox service over real libp2p connections on loopback TCP: registration, deposits, owner sessions, limits,
 * prekey hand-out, purge and durability under a simulated power cut.
 */
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import {
  defaultBackend,
  generateIdentity,
  type IdentityKeyPair,
  type SignedOneTimePrekey,
  signOneTimePrekey
} from '@parley/crypto'
import { MailboxClient, MailboxError } from '@parley/messenger'
import { AtomicMemoryDatastore, PowerCutDatastore } from '@parley/store/testing'
import { encodeMailboxRegistration, mailboxId, protocols, signMailboxRegistration } from '@parley/wire'
import type { Datastore } from 'interface-datastore'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { type MailboxLimits, type MailboxServer, openMailboxServer } from '../src/index.ts'

const backend = defaultBackend
const MAILBOX = protocols().mailbox
const DAY = 24 * 3600 * 1000

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function peer(options: { listen?: string[]; localAddress?: string } = {}): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: options.listen ?? [] },
    // Many test clients dial from one host at once (libp2p's default admits 5 per second per host).
    connectionManager: { inboundConnectionThreshold: 10_000, maxIncomingPendingConnections: 1000 },
    transports: [
      tcp(options.localAddress === undefined ? {} : { dialOpts: { localAddress: options.localAddress } as never })
    ],
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
  const node = await peer({ listen: ['/ip4/127.0.0.1/tcp/0'] })
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
  const stream = await from.dialProtocol(to.node.getMultiaddrs()[0]!, MAILBOX)
  return new MailboxClient(stream, to.node.peerId)
}

async function owner(r: Relay, identity?: IdentityKeyPair, tokens?: Uint8Array[], lifetime = 7 * DAY) {
  const id = identity ?? (await generateIdentity(backend))
  const node = await peer()
  const client = await connect(node, r)
  await client.register(backend, id, {
    expiresAt: r.clock.now + lifetime,
    ...(tokens && { depositTokenHashes: await Promise.all(tokens.map((t) => backend.sha256(t))) })
  })
  return { id, node, client }
}

const bytes = (n: number, fill = 7) => new Uint8Array(n).fill(fill)

async function refused(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err
  )
  expect(e, `expected ${code}`).toBeInstanceOf(MailboxError)
  expect((e as MailboxError).code).toBe(code)
}

describe('mailbox service', () => {
  it('stores deposits until the owner fetches and acknowledges them, oldest first', async () => {
    const r = await relay()
    const b = await owner(r)
    const sender = await connect(await peer(), r)
    const ids = []
    for (let i = 0; i < 5; i++) ids.push(await sender.deposit(b.id.publicKey, bytes(100 + i, i)))
    expect(new Set(ids).size).toBe(5)
    expect(r.server.stats()).toMatchObject({ mailboxes: 1, storedEnvelopes: 5, deposits: 5 })

    const held = await b.client.authenticate(backend, b.id)
    expect(held).toEqual({ x25519: 0, kem: 0 })
    const page = await b.client.fetch()
    expect(page.items.map((i) => i.envelope.length)).toEqual([100, 101, 102, 103, 104])
    expect(page.items.map((i) => i.id)).toEqual(ids)
    expect(page.more).toBe(false)
    await b.client.ack(page.items.slice(0, 3).map((i) => i.id))
    expect((await b.client.fetch()).items.map((i) => i.envelope[0])).toEqual([3, 4])
    expect(r.server.stats()).toMatchObject({ storedEnvelopes: 2, acked: 3, storedBytes: 207 })
  })

  it('refuses an owner session signed by the wrong key, a replayed challenge and fetches without a session', async () => {
    const r = await relay()
    const b = await owner(r)
    const mallory = await generateIdentity(backend)
    const m = await connect(await peer(), r)
    await refused(m.fetch(), 'NotAuthenticated')
    // Mallory asks for a challenge on B's mailbox and signs it with her own key.
    const { challenge } = await m.request({ op: 'challenge', mailbox: b.id.publicKey })
    const { signMailboxAuth } = await import('@parley/wire')
    const forged = await signMailboxAuth(backend, mallory, r.node.peerId.toMultihash().bytes, challenge!)
    await refused(
      m.request({ op: 'auth', mailbox: b.id.publicKey, challenge: challenge!, signature: forged }),
      'BadSignature'
    )
    await refused(m.fetch(), 'NotAuthenticated')

    // B authenticates; an eavesdropped (challenge, signature) pair is useless on another stream or a second time.
    const c = await b.client.request({ op: 'challenge', mailbox: b.id.publicKey })
    const sig = await signMailboxAuth(backend, b.id, r.node.peerId.toMultihash().bytes, c.challenge!)
    await b.client.request({ op: 'auth', mailbox: b.id.publicKey, challenge: c.challenge!, signature: sig })
    const replay = { op: 'auth', mailbox: b.id.publicKey, challenge: c.challenge!, signature: sig } as const
    await refused(m.request(replay), 'UnknownChallenge')
    await m.request({ op: 'challenge', mailbox: b.id.publicKey })
    await refused(m.request(replay), 'UnknownChallenge')
    await refused(b.client.request(replay), 'UnknownChallenge')
    // A signature for another relay does not open a session here.
    const other = await peer()
    const c2 = await m.request({ op: 'challenge', mailbox: b.id.publicKey })
    const wrongRelay = await signMailboxAuth(backend, b.id, other.peerId.toMultihash().bytes, c2.challenge!)
    await refused(
      m.request({ op: 'auth', mailbox: b.id.publicKey, challenge: c2.challenge!, signature: wrongRelay }),
      'BadSignature'
    )
    expect(r.server.stats().rejects).toMatchObject({ BadSignature: 2, UnknownChallenge: 3, NotAuthenticated: 2 })
  })

  it('checks registrations: relay binding, expiry, signature, and never rolls one back', async () => {
    const r = await relay()
    const id = await generateIdentity(backend)
    const c = await connect(await peer(), r)
    const other = await peer()
    await refused(
      c.request({
        op: 'register',
        registration: encodeMailboxRegistration(
          await signMailboxRegistration(backend, id, {
            relay: other.peerId.toMultihash().bytes,
            expiresAt: r.clock.now + DAY
          })
        )
      }),
      'WrongRelay'
    )
    await refused(c.register(backend, id, { expiresAt: r.clock.now - 1 }), 'RegistrationExpired')
    await refused(c.register(backend, id, { expiresAt: r.clock.now + 365 * DAY }), 'RegistrationExpired')
    const good = await signMailboxRegistration(backend, id, {
      relay: r.node.peerId.toMultihash().bytes,
      expiresAt: r.clock.now + DAY
    })
    const tampered = { ...good, expiresAt: good.expiresAt + 1 }
    await refused(c.request({ op: 'register', registration: encodeMailboxRegistration(tampered) }), 'BadSignature')
    await c.register(backend, id, { expiresAt: r.clock.now + 2 * DAY })
    await refused(c.request({ op: 'register', registration: encodeMailboxRegistration(good) }), 'StaleRegistration')
    await refused(c.deposit((await generateIdentity(backend)).publicKey, bytes(10)), 'UnknownMailbox')
  })

  it('enforces envelope size and per-mailbox quotas with typed errors, leaving other mailboxes untouched', async () => {
    const r = await relay({ limits: { maxEnvelopeBytes: 1000, maxItemsPerMailbox: 3, maxBytesPerMailbox: 2500 } })
    const b = await owner(r)
    const c = await owner(r)
    const s = await connect(await peer(), r)
    await refused(s.deposit(b.id.publicKey, bytes(1001)), 'TooLarge')
    await s.deposit(b.id.publicKey, bytes(1000))
    await s.deposit(b.id.publicKey, bytes(1000))
    await refused(s.deposit(b.id.publicKey, bytes(600)), 'QuotaExceeded') // bytes
    await s.deposit(b.id.publicKey, bytes(400))
    await refused(s.deposit(b.id.publicKey, bytes(1)), 'QuotaExceeded') // count
    for (let i = 0; i < 3; i++) await s.deposit(c.id.publicKey, bytes(10))
    expect(r.server.stats().rejects).toMatchObject({ TooLarge: 1, QuotaExceeded: 2 })
    // Concurrent deposits cannot overshoot the quota together.
    const d = await owner(r)
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, async () => (await connect(await peer(), r)).deposit(d.id.publicKey, bytes(5)))
    )
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(3)
    expect(r.server.stats().storedEnvelopes).toBe(9)
  })

  it('rate-limits deposits per source address range: a flood from one /24 does not stop another', async () => {
    const r = await relay({ limits: { depositsPerMinutePerRange: 20 } })
    const b = await owner(r)
    // Many throwaway identities from one range share its budget.
    const flood = await Promise.allSettled(
      Array.from({ length: 30 }, async () =>
        (await connect(await peer({ localAddress: '127.0.0.1' }), r)).deposit(b.id.publicKey, bytes(10))
      )
    )
    const limited = flood.filter((x) => x.status === 'rejected')
    expect(limited).toHaveLength(10)
    const reason = (limited[0] as PromiseRejectedResult).reason as MailboxError
    expect(reason.code).toBe('RateLimited')
    expect(reason.retryAfterMs).toBeGreaterThan(0)
    // Another range (127.0.1.0/24) still deposits.
    const other = await connect(await peer({ localAddress: '127.0.1.7' }), r)
    await other.deposit(b.id.publicKey, bytes(10))
    // The window resets after a minute.
    r.clock.now += 60_001
    await (await connect(await peer({ localAddress: '127.0.0.1' }), r)).deposit(b.id.publicKey, bytes(10))
    expect(r.server.stats().storedEnvelopes).toBe(22)
  })

  it('requires a deposit token when the owner registered token hashes', async () => {
    const r = await relay()
    const token = backend.randomBytes(32)
    const b = await owner(r, undefined, [token])
    const s = await connect(await peer(), r)
    await refused(s.deposit(b.id.publicKey, bytes(10)), 'DepositTokenRequired')
    await refused(
      s.deposit(b.id.publicKey, bytes(10), { depositToken: backend.randomBytes(32) }),
      'DepositTokenRequired'
    )
    await s.deposit(b.id.publicKey, bytes(10), { depositToken: token })
    expect(r.server.stats().storedEnvelopes).toBe(1)
  })

  it('purges envelopes past their TTL and lapsed registrations', async () => {
    const r = await relay({ limits: { ttlMs: 10 * DAY } })
    const b = await owner(r, undefined, undefined, 20 * DAY)
    const s = await connect(await peer(), r)
    await s.deposit(b.id.publicKey, bytes(10, 1))
    r.clock.now += 6 * DAY
    await s.deposit(b.id.publicKey, bytes(10, 2))
    r.clock.now += 5 * DAY
    // The first is expired: not served even before the purge runs.
    await b.client.authenticate(backend, b.id)
    expect((await b.client.fetch()).items.map((i) => i.envelope[0])).toEqual([2])
    expect(await r.server.purgeExpired()).toBe(1)
    const keys: string[] = []
    for await (const { key } of r.datastore.query({})) keys.push(key.toString())
    expect(keys.filter((k) => k.includes('/e/'))).toHaveLength(1)
    expect(r.server.stats()).toMatchObject({ storedEnvelopes: 1, purged: 1 })
    // The 20-day registration lapses; once its last envelope expires, the mailbox is gone too.
    r.clock.now += 10 * DAY
    expect(await r.server.purgeExpired()).toBe(1)
    expect(r.server.stats()).toMatchObject({ mailboxes: 0, storedEnvelopes: 0 })
    const left: string[] = []
    for await (const { key } of r.datastore.query({})) left.push(key.toString())
    expect(left).toEqual([])
  })

  it('hands each one-time prekey out once, refuses forged ones, and rate-limits takers per range', async () => {
    const r = await relay({ limits: { prekeyRequestsPerMinutePerRange: 5 } })
    const b = await owner(r)
    const mallory = await generateIdentity(backend)
    const batch: SignedOneTimePrekey[] = []
    for (let i = 0; i < 3; i++) {
      batch.push(
        await signOneTimePrekey(backend, b.id.secretKey, {
          kind: 'x25519',
          id: 100 + i,
          publicKey: (await backend.x25519KeyPair()).publicKey
        })
      )
    }
    batch.push(
      await signOneTimePrekey(backend, b.id.secretKey, {
        kind: 'kem',
        id: 200,
        publicKey: (await backend.mlKem1024KeyPair()).publicKey
      })
    )
    await refused(b.client.putPrekeys(batch), 'NotAuthenticated')
    await b.client.authenticate(backend, b.id)
    const forged = await signOneTimePrekey(backend, mallory.secretKey, {
      kind: 'x25519',
      id: 999,
      publicKey: (await backend.x25519KeyPair()).publicKey
    })
    await refused(b.client.putPrekeys([batch[0]!, forged]), 'BadPrekey')
    expect(await b.client.putPrekeys(batch)).toEqual({ x25519: 3, kem: 1 })
    // Re-sending the same keys does not duplicate them.
    expect(await b.client.putPrekeys(batch)).toEqual({ x25519: 3, kem: 1 })

    const takers = await Promise.all(
      Array.from({ length: 5 }, async () => connect(await peer({ localAddress: '127.0.2.1' }), r))
    )
    const taken = (await Promise.all(takers.map((t) => t.takePrekeys(b.id.publicKey)))).flat()
    const x = taken.filter((p) => p.kind === 'x25519').map((p) => p.id)
    expect(x.sort()).toEqual([100, 101, 102])
    expect(taken.filter((p) => p.kind === 'kem').map((p) => p.id)).toEqual([200])
    expect(r.server.stats().prekeysHandedOut).toBe(4)
    // The fifth taker found the batch empty (it would fall back to the last-resort prekey); a sixth is over the limit.
    await refused(takers[0]!.takePrekeys(b.id.publicKey), 'RateLimited')
  })

  it('enforces the remaining named limits: mailbox count, owner operations per range, challenge lifetime, prekeys held', async () => {
    const r = await relay({
      limits: { maxMailboxes: 2, ownerOpsPerMinutePerRange: 8, challengeTtlMs: 1000, maxOneTimePrekeysPerMailbox: 2 }
    })
    const b = await owner(r) // 1 owner op (register)
    await owner(r) // 2
    const third = await generateIdentity(backend)
    const c = await connect(await peer(), r)
    await refused(c.register(backend, third, { expiresAt: r.clock.now + DAY }), 'TooManyMailboxes') // 3
    // A challenge older than its lifetime opens nothing.
    const { challenge } = await b.client.request({ op: 'challenge', mailbox: b.id.publicKey }) // 4
    r.clock.now += 1001
    const { signMailboxAuth } = await import('@parley/wire')
    const sig = await signMailboxAuth(backend, b.id, r.node.peerId.toMultihash().bytes, challenge!)
    await refused(
      b.client.request({ op: 'auth', mailbox: b.id.publicKey, challenge: challenge!, signature: sig }),
      'UnknownChallenge'
    )
    // At most two one-time prekeys of a kind are held; extra ones are not stored.
    await b.client.authenticate(backend, b.id) // 5
    const keys: SignedOneTimePrekey[] = []
    for (let i = 0; i < 4; i++) {
      keys.push(
        await signOneTimePrekey(backend, b.id.secretKey, {
          kind: 'x25519',
          id: i,
          publicKey: (await backend.x25519KeyPair()).publicKey
        })
      )
    }
    expect(await b.client.putPrekeys(keys)).toEqual({ x25519: 2, kem: 0 }) // 6
    // Owner operations from one range: register, challenge and prekey uploads share a budget of 8 a minute.
    await b.client.putPrekeys(keys) // 7
    await b.client.putPrekeys(keys) // 8
    await refused(b.client.putPrekeys(keys), 'RateLimited')
    await refused(c.register(backend, third, { expiresAt: r.clock.now + DAY }), 'RateLimited')
  })

  it('closes idle mailbox streams and caps the streams one connection may hold', async () => {
    const r = await relay({ limits: { streamIdleMs: 300, maxStreamsPerConnection: 2 } })
    const b = await owner(r)
    const sender = await peer()
    const idle = await connect(sender, r)
    await idle.deposit(b.id.publicKey, bytes(8))
    await new Promise((res) => setTimeout(res, 900))
    // The relay closed the stream after 300 ms of silence: the next request on it fails (not a relay answer).
    const late = await idle.deposit(b.id.publicKey, bytes(8)).then(
      () => 'answered',
      (e: unknown) => (e instanceof MailboxError ? e.code : 'stream closed')
    )
    expect(late).toBe('stream closed')
    idle.abort(new Error('done'))
    await new Promise((res) => setTimeout(res, 100))
    // Two streams at once on one connection are fine; a third is refused by the relay.
    const held = [await connect(sender, r), await connect(sender, r)]
    for (const h of held) await h.deposit(b.id.publicKey, bytes(8))
    const third = await connect(sender, r).then(
      (c) =>
        c.deposit(b.id.publicKey, bytes(8)).then(
          () => 'answered',
          () => 'refused'
        ),
      () => 'refused'
    )
    expect(third).toBe('refused')
    expect(r.server.stats().storedEnvelopes).toBe(3)
  })

  it('acknowledges a deposit only once it is durable: a power cut keeps every acked deposit and nothing else', async () => {
    const disk = new PowerCutDatastore()
    const clock = { now: Date.now() }
    const r = await relay({ datastore: disk, clock })
    const b = await owner(r)
    const s = await connect(await peer(), r)
    const acked: number[] = []
    for (let i = 0; i < 20; i++) acked.push(await s.deposit(b.id.publicKey, bytes(50, i)))
    // From here the disk takes writes but never confirms them: these deposits are never acknowledged.
    disk.holdSyncs()
    const unacked = Array.from({ length: 5 }, (_, i) => s.deposit(b.id.publicKey, bytes(50, 100 + i)))
    await new Promise((res) => setTimeout(res, 200))
    const image = disk.cut()
    const outcomes = await Promise.allSettled(unacked)
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true)

    const restarted = await relay({ datastore: image, clock })
    const client = await connect(await peer(), restarted)
    await client.authenticate(backend, b.id)
    const page = await client.fetch()
    expect(page.items.map((i) => i.id)).toEqual(acked)
    expect(page.items.map((i) => i.envelope[0])).toEqual(Array.from({ length: 20 }, (_, i) => i))
    // New deposits after the restart get ids after the old ones.
    const s2 = await connect(await peer(), restarted)
    expect(await s2.deposit(b.id.publicKey, bytes(5))).toBeGreaterThan(acked.at(-1)!)
  })

  it('stores nothing that names the owner: mailboxes are filed under a hash of the identity', async () => {
    const r = await relay()
    const b = await owner(r)
    const s = await connect(await peer(), r)
    await s.deposit(b.id.publicKey, bytes(64))
    const hexId = Buffer.from(b.id.publicKey).toString('hex')
    const hashed = Buffer.from(await mailboxId(backend, b.id.publicKey)).toString('hex')
    let dump = ''
    for await (const { key, value } of r.datastore.query({})) {
      dump += `${key.toString()} ${Buffer.from(value).toString('hex')}\n`
    }
    expect(dump).toContain(hashed)
    expect(dump).not.toContain(hexId)
  })
})
