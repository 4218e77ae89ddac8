/**
 * Findings of the outside security review, each at the level a user meets it: real messengers, a real relay with its
 * on-disk mailbox store, loopback TCP. Each test failed on the code before its fix.
 */
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { decodeAccount, encodeAccount } from '@parley/crypto'
import { protocols } from '@parley/wire'
import { afterEach, describe, expect, it } from 'vitest'
import { askBundle, depositAsStranger, handSender, rawNode, strangerWrites } from './adversary.ts'
import { addressOf, collect, Fixture, hex, memoryProfile, until } from './kit.ts'

const _ids = protocols('/parley')

let fx: Fixture
afterEach(async () => {
  await fx.stop()
})

/** Alice keeps her mailbox at `relay`; both are contacts and have talked directly. */
async function friends(relayAddress: string, aliceOptions: Parameters<Fixture['messenger']>[0] = {}) {
  const alice = await fx.messenger({
    ...aliceOptions,
    network: { bootstrap: [relayAddress] },
    mailbox: { relays: [relayAddress], pollIntervalMs: 3_600_000, ...aliceOptions.mailbox }
  })
  const bob = await fx.messenger({ network: { bootstrap: [relayAddress] } })
  const aliceHex = hex(alice.identityKey)
  const bobHex = hex(bob.identityKey)
  await until(async () => (await bob.lookup(alice.identityKey).catch(() => undefined))?.relays.length === 1, 30_000)
  await until(async () => (await alice.lookup(bob.identityKey).catch(() => undefined)) !== undefined, 30_000)
  await alice.addContact(bobHex, { name: 'bob' })
  await bob.addContact(aliceHex, { name: 'alice' })
  return { alice, bob, aliceHex, bobHex }
}

describe('finding 1: a device key belongs to the identity that proved it', () => {
  it("a stranger who certifies a friend's device key under her own identity and deposits a first message cannot take the friend's messages over", async () => {
    fx = new Fixture()
    const relay = await fx.relay()
    const { alice, bob, bobHex } = await friends(addressOf(relay))
    const fromBob = collect(alice, 'message')
    expect((await bob.send(hex(alice.identityKey), 'hello before')).status).toBe('sent')
    await until(() => fromBob.length === 1, 10_000, 'the first message')

    // Mallory certifies bob's public device key (it is in bob's DHT record) under her own identity.
    const bobDevice = publicKeyToProtobuf(bob.peerId.publicKey!)
    const mallory = await handSender(bobDevice)
    expect(await depositAsStranger(bob, alice, mallory, bobDevice, 'hi, it is "bob"')).toHaveLength(1)
    await alice.checkMailboxes()
    await until(() => fromBob.length === 2, 10_000, "mallory's message")
    // Her message is hers (a message request under her identity), not bob's.
    expect(fromBob[1]).toMatchObject({ contact: hex(mallory.identity.publicKey), request: true })

    // Bob's next direct messages still reach alice as bob, on the session they had.
    expect((await bob.send(hex(alice.identityKey), 'still me')).status).toBe('sent')
    await until(() => fromBob.length === 3, 10_000, "bob's message after mallory's")
    expect(fromBob[2]).toMatchObject({ contact: bobHex, text: 'still me' })
    expect((await alice.history(bobHex)).map((h) => h.text)).toEqual(['hello before', 'still me'])
  })
})

describe('finding 2: strangers cannot block our own sending', () => {
  it('messages from throwaway identities become bounded message requests: no receipts, no contacts, and send() to a real contact still works', async () => {
    fx = new Fixture()
    const relay = await fx.relay()
    const alice = await fx.messenger({
      network: { bootstrap: [addressOf(relay)] },
      limits: { maxOutbox: 3, requests: { maxRequests: 3 } }
    })
    const carol = await fx.messenger({ network: { bootstrap: [addressOf(relay)] } })
    await until(async () => (await alice.lookup(carol.identityKey).catch(() => undefined)) !== undefined, 30_000)
    const carolHex = hex(carol.identityKey)
    await alice.addContact(carolHex, { name: 'carol' })
    const shown = collect(alice, 'message')
    // Eight strangers write once each, then vanish (a receipt to them could never be delivered).
    const strangers: string[] = []
    for (let i = 0; i < 8; i++) {
      const { node, sender, ack } = await strangerWrites(fx, alice, `spam ${i}`)
      expect(ack.status).toBe('ok')
      strangers.push(hex(sender.identity.publicKey))
      await node.stop()
    }
    await until(() => shown.length === 8, 10_000, 'the requests')
    expect(shown.every((m) => m.request === true)).toBe(true)
    // No receipt was queued for any of them, and none became a contact.
    expect(alice.queuedControl).toBe(0)
    expect((await alice.contacts()).map((c) => c.identity)).toEqual([carolHex])
    // Bounded: the three most recent requests stay; the older ones are gone with their messages.
    await until(async () => (await alice.requests()).length === 3, 10_000, 'the oldest requests dropped')
    expect((await alice.requests()).map((r) => r.identity).sort()).toEqual(strangers.slice(5).sort())
    expect(await alice.history(strangers[0]!)).toEqual([])
    expect((await alice.history(strangers[7]!)).map((h) => h.text)).toEqual(['spam 7'])
    // Sending to a real contact is untouched.
    expect((await alice.send(carolHex, 'hello carol')).status).toBe('sent')
    // Accepting a request makes it a contact (and its message gets its delivered receipt).
    await alice.acceptRequest(strangers[7]!, { name: 'new friend' })
    expect((await alice.requests()).map((r) => r.identity)).not.toContain(strangers[7])
    expect((await alice.contacts()).map((c) => c.name).sort()).toEqual(['carol', 'new friend'])
  })
})

describe('finding 4: bundle requests are limited per address range, not per peer id', () => {
  it('many fresh peer ids from one host get at most the per-range allowance of bundles', async () => {
    fx = new Fixture()
    const alice = await fx.messenger({ limits: { prekeysPerMinutePerRange: 5 } })
    const answers: Array<string | undefined> = []
    for (let i = 0; i < 8; i++) answers.push((await askBundle(await rawNode(fx), alice))?.status)
    expect(answers.filter((a) => a === 'ok')).toHaveLength(5)
  })
})

describe('finding 4: mail that cannot be opened for a session reason is never lost silently', () => {
  it('a deposited first message naming prekeys the recipient lost is asked for again, resent on a new session and shown once', async () => {
    fx = new Fixture()
    const relay = await fx.relay()
    const store = await memoryProfile()
    const { alice, bob, aliceHex, bobHex } = await friends(addressOf(relay), { store })
    await alice.stop()
    // Bob writes first while alice is offline: the session starts from her DHT bundle and relay-held prekeys.
    expect((await bob.send(aliceHex, 'first, through the mailbox')).status).toBe('deposited')
    // Alice loses every one-time prekey (what an eviction or a restore from an old backup does).
    const account = decodeAccount((await store.get('meta', 'account'))!)
    await store.put('meta', 'account', encodeAccount({ ...account, oneTimePrekeys: [] }))
    const shown: string[] = []
    const back = await fx.messenger({
      store,
      network: { bootstrap: [addressOf(relay)] },
      mailbox: { relays: [addressOf(relay)], pollIntervalMs: 3_600_000 }
    })
    back.events.addEventListener('message', (e) => shown.push((e as CustomEvent<{ text: string }>).detail.text))
    await until(() => shown.includes('first, through the mailbox'), 30_000, 'the resent message')
    await new Promise((r) => setTimeout(r, 500))
    expect(shown.filter((t) => t === 'first, through the mailbox')).toHaveLength(1)
    expect((await back.history(bobHex)).map((h) => h.text)).toEqual(['first, through the mailbox'])
    await until(
      async () => (await bob.history(aliceHex))[0]?.state === 'delivered',
      30_000,
      'the sender to see it delivered'
    )
  })
})

describe('finding 5: a stale session is replaced, not a dead end', () => {
  it('after 30 days without a reply, send() starts a new session and the message is delivered', async () => {
    fx = new Fixture()
    const relay = await fx.relay()
    let t = Date.now()
    const now = () => t
    const network = { bootstrap: [addressOf(relay)] }
    const bob = await fx.messenger({ now, network })
    const alice = await fx.messenger({ now, network })
    const bobHex = hex(bob.identityKey)
    await until(async () => (await alice.lookup(bob.identityKey).catch(() => undefined)) !== undefined, 30_000)
    await alice.addContact(bobHex, { name: 'bob' })
    expect((await alice.send(bobHex, 'one')).status).toBe('sent')
    // Bob never answers (alice is a message request to him: no receipts either).
    t += 31 * 24 * 3600_000
    const second = await alice.send(bobHex, 'two, a month later')
    expect(second.status).toBe('sent')
    await until(async () => (await bob.history(hex(alice.identityKey))).length === 2, 10_000, 'both messages')
  })
})

describe('finding 7: dedup is keyed by the authenticated sender and the message id', () => {
  it("a message of a stranger's own under the id of alice's deposited message does not make bob drop alice's", async () => {
    fx = new Fixture()
    const store = await memoryProfile()
    const relay2 = await fx.relay()
    const r = addressOf(relay2)
    const b1 = await fx.messenger({
      store,
      network: { bootstrap: [r] },
      mailbox: { relays: [r], pollIntervalMs: 3_600_000 }
    })
    const a = await fx.messenger({ network: { bootstrap: [r] } })
    await until(async () => (await a.lookup(b1.identityKey).catch(() => undefined))?.relays.length === 1, 30_000)
    await a.addContact(hex(b1.identityKey), { name: 'bob' })
    await b1.addContact(hex(a.identityKey), { name: 'alice' })
    await b1.stop()
    const sent = await a.send(hex(b1.identityKey), 'the real one')
    expect(sent.status).toBe('deposited')
    // Bob is back, not yet at his mailbox; a stranger (who saw the envelope id at the relay) writes first under it.
    const b2 = await fx.messenger({ store, network: {} })
    const shown = collect(b2, 'message')
    const { ack } = await strangerWrites(fx, b2, 'not the real one', Uint8Array.from(Buffer.from(sent.id, 'hex')))
    expect(ack.status).toBe('ok')
    await until(() => shown.length === 1, 10_000, "the stranger's message")
    await b2.stop()
    // Then he drains his mailbox: alice's message is shown, not dropped as a duplicate.
    const b3 = await fx.messenger({
      store,
      network: { bootstrap: [r] },
      mailbox: { relays: [r], pollIntervalMs: 3_600_000 }
    })
    await until(
      async () => (await b3.history(hex(a.identityKey))).some((h) => h.text === 'the real one'),
      30_000,
      "alice's message"
    )
  })
})

describe('finding 8: messages a relay dropped are noticed and sent again', () => {
  it('a gap in the numbers that does not fill is asked for; the sender resends from its copy; each shows once', async () => {
    fx = new Fixture()
    const relay = await fx.relay({ mailboxLimits: { ttlMs: 1_500 } })
    const store = await memoryProfile()
    const r = addressOf(relay)
    const mailbox = { relays: [r], pollIntervalMs: 3_600_000 }
    const bob = await fx.messenger({ store, network: { bootstrap: [r] }, mailbox, limits: { gapGraceMs: 300 } })
    const alice = await fx.messenger({ network: { bootstrap: [r] } })
    const aliceHex = hex(alice.identityKey)
    const bobHex = hex(bob.identityKey)
    await until(async () => (await alice.lookup(bob.identityKey).catch(() => undefined))?.relays.length === 1, 30_000)
    await alice.addContact(bobHex, { name: 'bob' })
    await bob.addContact(aliceHex, { name: 'alice' })
    await bob.stop()
    for (const text of ['m0', 'm1']) expect((await alice.send(bobHex, text)).status).toBe('deposited')
    // The relay lets them expire (as it would drop them for any reason)…
    await new Promise((r) => setTimeout(r, 2_000))
    expect((await alice.send(bobHex, 'm2')).status).toBe('deposited')
    // …so bob finds only m2 when he is back: the gap below it is asked for, and alice resends m0 and m1.
    const back = await fx.messenger({ store, network: { bootstrap: [r] }, mailbox, limits: { gapGraceMs: 300 } })
    const shown = collect(back, 'message')
    await until(async () => (await back.history(aliceHex)).length === 3, 30_000, 'the resent messages')
    await new Promise((r) => setTimeout(r, 500))
    expect(shown.map((m) => m.text).sort()).toEqual(['m0', 'm1', 'm2'])
    expect((await back.history(aliceHex)).map((h) => h.text)).toEqual(['m0', 'm1', 'm2'])
    await until(
      async () => (await alice.history(bobHex)).every((h) => h.state === 'delivered'),
      30_000,
      'alice to see all three delivered'
    )
  })
})
