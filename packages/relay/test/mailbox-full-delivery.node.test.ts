/**
 * A full relay loses nothing: real messengers and a relay on loopback. When other mailboxes have filled the relay's
 * store, a sender's deposit is refused (RelayFull) and the message stays queued at the sender; once the store has
 * room again, the sender's retry deposits it and the recipient, back online, receives it once.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { defaultBackend, generateIdentity, toHex } from '@parley/crypto'
import { createMessenger, type Messenger, type MessengerEvents, NAMESPACES, type Namespace } from '@parley/messenger'
import { MailboxClient, type MailboxError } from '@parley/network'
import { createProfileStore, openStore, type ProfileStore } from '@parley/store'
import { until, untilFoundEachOther } from '@parley/test-kit'
import { protocols } from '@parley/wire'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { createRelay } from '../src/index.ts'

const backend = defaultBackend

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

describe('a relay whose mailbox store is full', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
  })

  it("refuses the sender's deposit, the message stays queued at the sender, and it is delivered once there is room", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-relay-full-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    // Room for B's registration and prekey batches (about 30 KB) and a little mail.
    const relay = await createRelay({
      dataDir: dir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      http: false,
      logSink: () => {},
      mailboxLimits: { maxStoreBytes: 200_000 }
    })
    cleanups.push(() => relay.stop())
    const bootstrap = [relay.multiaddrs[0]!.toString()]
    const network = { bootstrap, kBucketSize: 4, listen: ['/ip4/127.0.0.1/tcp/0'] }
    const ownerMailbox = { relays: bootstrap, pollIntervalMs: 500 }
    const start = async (store: ProfileStore<Namespace>, mailbox: object) => {
      const m = await createMessenger({ store, network, mailbox })
      cleanups.push(() => m.stop())
      return m
    }
    const bStore = await profile()
    const b = await start(bStore, ownerMailbox)
    const a = await start(await profile(), { pollIntervalMs: 500 })
    await until(() => b.mailboxes.length === 1, 30_000, 'B to register')
    await until(() => relay.mailbox.stats().storedPrekeys > 0, 30_000, "B's prekeys at the relay")
    await untilFoundEachOther(a, b, 30_000, "both records, B's with its relay", {
      accept: (found) => found.relays.length === 1
    })
    const bHex = toHex(b.identityKey)
    await a.addContact(bHex)
    // A session first, directly: later messages are plain ratchet messages (no prekey taken from the relay).
    expect((await a.send(bHex, 'hello')).status).toBe('sent')
    await b.stop()

    // Someone else's mailbox fills the relay's store to the last byte.
    const filler = await generateIdentity(backend)
    const node = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    cleanups.push(async () => node.stop())
    const client = new MailboxClient(await node.dialProtocol(relay.multiaddrs[0]!, protocols().mailbox), relay.peerId)
    await client.register(backend, filler, { expiresAt: Date.now() + 24 * 3600_000 })
    for (const size of [16_000, 1000, 100, 1]) {
      for (;;) {
        const refused = await client.deposit(filler.publicKey, new Uint8Array(size)).then(
          () => undefined,
          (e: unknown) => (e as MailboxError).code
        )
        if (refused === undefined) continue
        expect(refused).toBe('RelayFull')
        break
      }
    }
    const envelopesBefore = relay.mailbox.stats().storedEnvelopes
    const refusedBefore = relay.mailbox.stats().storeFull.deposit

    // A writes while B is offline: the relay refuses the deposit and A keeps the message.
    expect((await a.send(bHex, 'written while the relay was full')).status).toBe('queued')
    expect(a.queued).toBe(1)
    expect(relay.mailbox.stats().storeFull.deposit).toBeGreaterThan(refusedBefore)
    expect(relay.mailbox.stats().storedEnvelopes).toBe(envelopesBefore)
    expect((await a.history(bHex)).at(-1)!.state).toBe('pending')

    // The filler's owner drains its mailbox: room again. A's next retry deposits the message.
    await client.authenticate(backend, filler)
    for (;;) {
      const page = await client.fetch()
      await client.ack(page.items.map((i) => i.id))
      if (!page.more) break
    }
    await until(
      async () => {
        await a.flush()
        return a.queued === 0
      },
      30_000,
      "A's retry to deposit"
    )
    expect((await a.history(bHex)).at(-1)!.state).toBe('deposited')
    expect(relay.mailbox.stats().storedEnvelopes).toBe(1)

    // B comes back and receives it from its mailbox, once.
    const back = await start(bStore, ownerMailbox)
    const shown = collect(back, 'message')
    await until(() => shown.length >= 1, 60_000, 'the message at B')
    await until(() => relay.mailbox.stats().storedEnvelopes === 0, 30_000, 'the mailbox to empty')
    await new Promise((r) => setTimeout(r, 1000))
    expect(shown.map((m) => m.text)).toEqual(['written while the relay was full'])
  })
})
