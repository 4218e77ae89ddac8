/**
 * The engine's delivery path as a user meets it: one long-lived session stream per peer carries every message,
 * pipelined; the recipient's Ack (after its durable commit) is the delivery receipt, so no receipt messages flow;
 * a device certificate past half its life is renewed at start.
 */
import { decodeAccount } from '@parley/crypto'
import { CERTIFICATE_LIFETIME_MS, SESSION_WINDOW } from '@parley/messenger'
import { protocols } from '@parley/wire'
import { afterEach, describe, expect, it } from 'vitest'
import { addressOf, collect, Fixture, hex, memoryProfile, until } from './kit.ts'

const ids = protocols('/parley')
let fx: Fixture
afterEach(async () => {
  await fx.stop()
})

describe('the session stream', () => {
  it(`${2 * SESSION_WINDOW} concurrent sends travel over one stream, each is delivered on its Ack, and no receipt message is sent`, async () => {
    fx = new Fixture()
    const relay = await fx.relay()
    const network = { bootstrap: [addressOf(relay)] }
    const alice = await fx.messenger({ network })
    const bob = await fx.messenger({ network })
    await until(async () => (await alice.lookup(bob.identityKey).catch(() => undefined)) !== undefined, 30_000)
    const aliceHex = hex(alice.identityKey)
    const bobHex = hex(bob.identityKey)
    await alice.addContact(bobHex, { name: 'bob' })
    await bob.addContact(aliceHex, { name: 'alice' })
    const shown = collect(bob, 'message')
    const receipts = collect(alice, 'receipt')
    const texts = Array.from({ length: 2 * SESSION_WINDOW }, (_, i) => `m${i}`)
    const results = await Promise.all(texts.map((t) => alice.send(bobHex, t)))
    expect(results.every((r) => r.status === 'sent')).toBe(true)
    await until(() => shown.length === texts.length, 30_000, 'every message at bob')
    expect(new Set(shown.map((m) => m.text))).toEqual(new Set(texts))
    // Delivered on the Ack: alice's history says so without any receipt message from bob.
    expect((await alice.history(bobHex)).every((h) => h.state === 'delivered')).toBe(true)
    expect(receipts.filter((r) => r.type === 'delivered').flatMap((r) => r.ids)).toHaveLength(texts.length)
    expect(bob.queuedControl).toBe(0)
    // One session stream from alice to bob carried them all; no stream per message.
    const streams = alice.connectionsTo(bob.peerId).flatMap((c) => c.streams)
    expect(streams.filter((s) => s.protocol === ids.session)).toHaveLength(1)
    expect(streams.filter((s) => s.protocol === ids.dm)).toHaveLength(0)
    // Sends issued one after another show in that order, with contiguous numbers.
    for (const t of ['x1', 'x2', 'x3']) await alice.send(bobHex, t)
    await until(() => shown.length === texts.length + 3, 10_000, 'the ordered sends')
    expect(shown.slice(-3).map((m) => m.text)).toEqual(['x1', 'x2', 'x3'])
    const seqs = (await bob.history(aliceHex)).map((h) => h.senderSeq).sort((a, b) => a - b)
    expect(seqs).toEqual(Array.from({ length: texts.length + 3 }, (_, i) => i))
  })
})

describe('announcing what a crash left unannounced', () => {
  it('a text stored but not announced before the process died is announced once on the next start', async () => {
    fx = new Fixture()
    const relay = await fx.relay()
    const network = { bootstrap: [addressOf(relay)] }
    const store = await memoryProfile()
    const alice = await fx.messenger({ network })
    const bob = await fx.messenger({ store, network })
    await until(async () => (await alice.lookup(bob.identityKey).catch(() => undefined)) !== undefined, 30_000)
    const bobHex = hex(bob.identityKey)
    const aliceHex = hex(alice.identityKey)
    await alice.addContact(bobHex, { name: 'bob' })
    await bob.addContact(aliceHex, { name: 'alice' })
    // The process dies after the commit, before the event: the marker written with the text is still there.
    const markers = new Map<string, Uint8Array>()
    const batch = store.batch.bind(store)
    store.batch = () => {
      const b = batch()
      return {
        ...b,
        put: (ns, key, value) => {
          if (ns === 'meta' && key.startsWith('unannounced/')) markers.set(key, value)
          b.put(ns, key, value)
        },
        delete: (ns, key) => b.delete(ns, key),
        commit: (options) => b.commit(options)
      }
    }
    const seen = collect(bob, 'message')
    expect((await alice.send(bobHex, 'stored, then the crash')).status).toBe('sent')
    await until(() => seen.length === 1, 10_000, 'the message at bob')
    await bob.stop()
    store.batch = batch
    expect(markers.size).toBe(1)
    for (const [key, value] of markers) await store.put('meta', key, value)
    const back = await fx.messenger({ store, network })
    const announced = collect(back, 'message')
    await until(() => announced.length === 1, 10_000, 'the announcement on restart')
    await new Promise((r) => setTimeout(r, 500))
    expect(announced.map((m) => m.text)).toEqual(['stored, then the crash'])
    // Announced once: the marker is gone, and a further restart announces nothing.
    await back.stop()
    const again = await fx.messenger({ store, network })
    const none = collect(again, 'message')
    await new Promise((r) => setTimeout(r, 500))
    expect(none).toEqual([])
  })
})

describe('device certificate renewal', () => {
  it('a certificate with less than half its lifetime left is renewed when the messenger starts', async () => {
    fx = new Fixture()
    let t = Date.now()
    const store = await memoryProfile()
    const first = await fx.messenger({ store, now: () => t, offline: true })
    const before = decodeAccount((await store.get('meta', 'account'))!).device.certificate
    await first.stop()
    // A quarter of the lifetime later nothing changes; past half of it, a new certificate for the same device key.
    t += CERTIFICATE_LIFETIME_MS / 4
    await (await fx.messenger({ store, now: () => t, offline: true })).stop()
    expect(decodeAccount((await store.get('meta', 'account'))!).device.certificate.expiresAt).toBe(before.expiresAt)
    t += CERTIFICATE_LIFETIME_MS / 3
    await (await fx.messenger({ store, now: () => t, offline: true })).stop()
    const after = decodeAccount((await store.get('meta', 'account'))!).device.certificate
    expect(after.expiresAt).toBeGreaterThan(before.expiresAt)
    expect(hex(after.deviceKey)).toBe(hex(before.deviceKey))
  })
})
