/**
 * Store-and-forward end to end: real messengers and two relays on loopback. A writes to B while B is offline; both
 * relays hold every message; B comes back, drains both mailboxes and shows each message once. A's first message used
 * a one-time prekey a relay handed out, and nothing on the relays' disks names A.
 */

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, sep } from 'node:path'
import { parseInitialMessage, toHex } from '@parley/crypto'
import { createMessenger, type Messenger, type MessengerEvents, NAMESPACES, type Namespace } from '@parley/messenger'
import { createProfileStore, openStore, type ProfileStore, type StoreBackend } from '@parley/store'
import { until, untilFound, untilFoundEachOther } from '@parley/test-kit'
import { decodeEnvelope, decodeMailboxItem } from '@parley/wire'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DHT_DIR } from '../src/constants.ts'
import { createRelay, type MailboxLimits, type Relay } from '../src/index.ts'

const MARKER = 'plaintext-marker-7f3a9c'

async function profile(): Promise<ProfileStore<Namespace>> {
  return createProfileStore(await openStore({ kind: 'memory' }), 'pw', {
    namespaces: NAMESPACES,
    create: true,
    unsafeFastKdfForTests: true
  })
}

function collect<K extends keyof MessengerEvents>(m: Messenger, type: K): MessengerEvents[K][] {
  const out: MessengerEvents[K][] = []
  m.events.addEventListener(type, (e) => out.push((e as CustomEvent<MessengerEvents[K]>).detail))
  return out
}

/**
 * Every file under a relay's data directory but its DHT record store: DHT records are published by their owners for
 * anyone to read (a signed bundle under the identity), and the relay keeps them on disk to serve them after a
 * restart. What must not name anyone is the mailbox store, the key file and the logs.
 */
async function filesUnder(dir: string): Promise<Buffer[]> {
  const out: Buffer[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const inDht = relative(dir, entry.parentPath).split(sep)[0] === DHT_DIR
    if (entry.isFile() && !inDht) out.push(await readFile(join(entry.parentPath, entry.name)))
  }
  return out
}

describe('offline delivery through two mailbox relays', () => {
  const dirs: string[] = []
  const relays: Relay[] = []
  const stores: StoreBackend[] = []
  const logs: string[] = []
  const messengers: Messenger[] = []

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const dir = await mkdtemp(join(tmpdir(), 'parley-relay-'))
      dirs.push(dir)
      // The relay's own on-disk mailbox store, opened here so the test can look inside it.
      const store = await openStore({ kind: 'level', path: join(dir, 'mailbox') })
      stores.push(store)
      relays.push(
        await createRelay({
          dataDir: dir,
          datastore: store,
          listen: ['/ip4/127.0.0.1/tcp/0'],
          http: false,
          logLevel: 'debug',
          logSink: (line) => logs.push(line)
        })
      )
    }
  })

  afterAll(async () => {
    for (const m of messengers) await m.stop().catch(() => {})
    for (const r of relays) await r.stop().catch(() => {})
    for (const s of stores) await s.close().catch(() => {})
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  it('B receives every message once after coming online; the first used a relay-handed one-time prekey', async () => {
    const bootstrap = relays.map((r) => r.multiaddrs[0]!.toString())
    const network = { bootstrap, kBucketSize: 4, listen: ['/ip4/127.0.0.1/tcp/0'] }
    const mailbox = { relays: bootstrap, pollIntervalMs: 500 }
    const bStore = await profile()
    let b = await createMessenger({ store: bStore, network, mailbox })
    messengers.push(b)
    const a = await createMessenger({ store: await profile(), network, mailbox })
    messengers.push(a)
    const bHex = toHex(b.identityKey)
    const aHex = toHex(a.identityKey)

    // B keeps its mailbox at both relays, leaves prekeys there, and lists both in its DHT record.
    await until(() => b.mailboxes.length === 2, 60_000, 'B to register at both relays')
    await untilFound(a, b, 60_000, "B's record with its relays", {
      accept: (found) => found.record.mailboxRelays.length === 2
    })
    await until(() => relays.every((r) => r.mailbox.stats().storedPrekeys > 0), 30_000, 'prekey batches')
    const prekeysBefore = relays.map((r) => r.mailbox.stats().storedPrekeys)
    await a.addContact(bHex, { name: 'bob' })
    // B knows A (a contact, not a message request): it sends delivered receipts.
    await b.addContact(aHex, { name: 'alice' })
    await b.stop()

    const sent = []
    for (let i = 0; i < 5; i++) sent.push(await a.send(bHex, `${MARKER} #${i}`))
    expect(sent.map((s) => s.status)).toEqual(Array(5).fill('deposited'))
    const history = await a.history(bHex)
    expect(history.map((h) => h.state)).toEqual(Array(5).fill('deposited'))
    expect(history[0]!.waitingAt).toHaveLength(2)
    for (const r of relays) expect(r.mailbox.stats().storedEnvelopes).toBe(5)

    // Exactly one relay gave out one prekey of each kind, and A's first message names that one-time prekey.
    const handedOut = relays.map((r) => r.mailbox.stats().prekeysHandedOut)
    expect(handedOut.sort()).toEqual([0, 2])
    const giver = relays[relays.findIndex((r) => r.mailbox.stats().prekeysHandedOut === 2)]!
    expect(giver.mailbox.stats().storedPrekeys).toBe(prekeysBefore[relays.indexOf(giver)]! - 2)
    const firstDeposit = await firstEnvelope(stores[relays.indexOf(giver)]!)
    const initial = parseInitialMessage(decodeEnvelope(firstDeposit).ciphertext)
    expect(initial.oneTimePrekeyId).toBeDefined()
    expect(initial.kemIsOneTime).toBe(true)
    expect(await giver.mailbox.hasPrekey(b.identityKey, 'x25519', initial.oneTimePrekeyId!)).toBe(false)

    // B comes back: it drains both mailboxes and shows each message exactly once, in order.
    b = await createMessenger({ store: bStore, network, mailbox })
    messengers.push(b)
    const shown = collect(b, 'message')
    await until(() => shown.length >= 5, 60_000, 'B to receive the deposits')
    await until(() => relays.every((r) => r.mailbox.stats().storedEnvelopes === 0), 30_000, 'relays to empty')
    await new Promise((r) => setTimeout(r, 1500)) // another mailbox round: still nothing twice
    expect(shown.map((m) => m.text)).toEqual(Array.from({ length: 5 }, (_, i) => `${MARKER} #${i}`))
    expect(new Set(shown.map((m) => m.id)).size).toBe(5)
    const incoming = (await b.history(aHex)).filter((h) => h.direction === 'in')
    expect(incoming.map((h) => h.text)).toEqual(shown.map((m) => m.text))
    // B's delivered receipts reach A directly (both online): the messages move on from `deposited`.
    await until(
      async () => (await a.history(bHex)).every((h) => h.state === 'delivered' && h.waitingAt === undefined),
      60_000,
      'delivered receipts'
    )

    // Nothing on the relays' disks or in their logs carries the plaintext, A's keys or peer id, or B's identity key.
    for (const r of relays) await r.stop()
    for (const s of stores) await s.close()
    const forbidden: [string, Buffer][] = [
      ['plaintext marker', Buffer.from(MARKER)],
      ["A's identity key", Buffer.from(a.identityKey)],
      ["A's identity key (hex)", Buffer.from(aHex)],
      ["A's peer id bytes", Buffer.from(a.peerId.toMultihash().bytes)],
      ["A's peer id", Buffer.from(a.peerId.toString())],
      ["B's identity key", Buffer.from(b.identityKey)],
      ["B's identity key (hex)", Buffer.from(bHex)]
    ]
    const files = (await Promise.all(dirs.map(filesUnder))).flat()
    expect(files.length).toBeGreaterThan(0)
    const logText = Buffer.from(logs.join('\n'))
    expect(logs.length).toBeGreaterThan(0)
    for (const [what, needle] of forbidden) {
      for (const f of files) expect(f.includes(needle), `${what} on a relay's disk`).toBe(false)
      expect(logText.includes(needle), `${what} in a relay's log`).toBe(false)
    }
  })
})

/** The oldest envelope waiting at a relay, read from its store. */
async function firstEnvelope(store: StoreBackend): Promise<Uint8Array> {
  for await (const { value } of store.query({ prefix: '/parley-mailbox/e/' })) {
    return decodeMailboxItem(value).envelope
  }
  throw new Error('no envelope stored')
}

/**
 * One relay and messengers around it: `owner` (B) keeps its mailbox there with `ownerMailbox`, each of `senders`
 * finds B's record listing the relay and B finds theirs. Everything is stopped and removed after the describe.
 */
async function oneRelay(
  cleanups: Array<() => Promise<void>>,
  options: {
    mailboxLimits?: Partial<MailboxLimits>
    ownerMailbox?: { requireDepositTokens?: boolean }
    senders: number
  }
) {
  const dir = await mkdtemp(join(tmpdir(), 'parley-relay-one-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const relay = await createRelay({
    dataDir: dir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    http: false,
    logSink: () => {},
    ...(options.mailboxLimits && { mailboxLimits: options.mailboxLimits })
  })
  cleanups.push(() => relay.stop())
  const bootstrap = [relay.multiaddrs[0]!.toString()]
  const network = { bootstrap, kBucketSize: 4, listen: ['/ip4/127.0.0.1/tcp/0'] }
  const ownerMailbox = { relays: bootstrap, pollIntervalMs: 500, ...options.ownerMailbox }
  const ownerStore = await profile()
  const start = async (store: ProfileStore<Namespace>, mailbox: object) => {
    const m = await createMessenger({ store, network, mailbox })
    cleanups.push(() => m.stop())
    return m
  }
  const owner = await start(ownerStore, ownerMailbox)
  const senders: Messenger[] = []
  for (let i = 0; i < options.senders; i++) senders.push(await start(await profile(), { pollIntervalMs: 500 }))
  await until(() => owner.mailboxes.length === 1, 30_000, 'the owner to register')
  for (const s of senders) {
    await untilFoundEachOther(s, owner, 30_000, "a sender's and the owner's records, the owner's with its relay", {
      accept: (found) => found.relays.length === 1
    })
  }
  /** The owner again, on its profile, after it was stopped. */
  const restartOwner = () => start(ownerStore, ownerMailbox)
  return { relay, owner, senders, restartOwner }
}

describe('one relay, one mailbox owner', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
  })

  it('a refused deposit leaves the message queued (nothing lost) and it is delivered once the contact is back', async () => {
    // A mailbox that holds one envelope: the second deposit gets QuotaExceeded.
    const {
      relay,
      owner: b,
      senders,
      restartOwner
    } = await oneRelay(cleanups, {
      mailboxLimits: { maxItemsPerMailbox: 1 },
      senders: 1
    })
    const a = senders[0]!
    const bHex = toHex(b.identityKey)
    await a.addContact(bHex)
    await b.stop()

    expect((await a.send(bHex, 'first')).status).toBe('deposited')
    expect((await a.send(bHex, 'second')).status).toBe('queued')
    expect(a.queued).toBe(1)
    expect(relay.mailbox.stats().rejects.QuotaExceeded).toBeGreaterThanOrEqual(1)

    const back = await restartOwner()
    const shown = collect(back, 'message')
    await until(() => shown.length >= 2, 60_000, 'both messages at B')
    await new Promise((r) => setTimeout(r, 1000))
    expect(shown.map((m) => m.text).sort()).toEqual(['first', 'second'])
    expect(a.queued).toBe(0)
  })

  it('with deposit tokens, a contact deposits with the token it was given; a stranger cannot fill the mailbox and waits to send directly', async () => {
    const {
      relay,
      owner: b,
      senders,
      restartOwner
    } = await oneRelay(cleanups, {
      ownerMailbox: { requireDepositTokens: true },
      senders: 2
    })
    const [a, stranger] = senders as [Messenger, Messenger]
    const bHex = toHex(b.identityKey)
    // B added A: A's first message earns it a deposit token, sent back end-to-end encrypted.
    await b.addContact(toHex(a.identityKey))
    await a.addContact(bHex)
    await stranger.addContact(bHex)
    expect((await a.send(bHex, 'hello B')).status).toBe('sent')
    await until(() => b.queued === 0 && b.queuedControl === 0, 30_000, "B's token to reach A")
    await b.checkMailboxes()
    await b.stop()

    expect((await a.send(bHex, 'from a contact')).status).toBe('deposited')
    expect((await stranger.send(bHex, 'from a stranger')).status).toBe('queued')
    expect(relay.mailbox.stats().rejects.DepositTokenRequired).toBeGreaterThanOrEqual(1)
    expect(relay.mailbox.stats().storedEnvelopes).toBe(1)

    // B comes back: the contact's message from the mailbox, the stranger's directly (as a message request), once each.
    const back = await restartOwner()
    const shown = collect(back, 'message')
    await until(() => shown.length >= 2, 60_000, 'both messages at B')
    await new Promise((r) => setTimeout(r, 1000))
    expect(shown.map((m) => m.text).sort()).toEqual(['from a contact', 'from a stranger'])
  })
})
