/**
 * Call signals over the messenger: end-to-end encrypted on the session stream, in send order, never in history or the
 * outbox, only between contacts, and nothing queued when the contact is offline.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { createMessenger, type Messenger } from '../src/index.ts'
import { collect, hex, memoryProfile, node, until } from './helpers.ts'

const all: Messenger[] = []
afterAll(() => Promise.all(all.map((m) => m.stop().catch(() => {}))))

async function trio() {
  const boot = await node()
  const bootstrap = [boot.addresses[0]!]
  const make = async () => createMessenger({ store: await memoryProfile(), network: { bootstrap, kBucketSize: 4 } })
  const a = await make()
  const b = await make()
  const stranger = await make()
  all.push(boot, a, b, stranger)
  await until(
    async () =>
      b.publish().then(
        () => true,
        () => false
      ),
    30_000,
    'B published'
  )
  return { a, b, stranger, aHex: hex(a.identityKey), bHex: hex(b.identityKey) }
}

describe('call signals', () => {
  it('a contact receives 50 signals in send order, none stored in history or queued', async () => {
    const { a, b, aHex, bHex } = await trio()
    await a.addContact(bHex, { name: 'b' })
    await b.addContact(aHex, { name: 'a' })
    const got = collect(b, 'call-signal')
    const sent = Array.from({ length: 50 }, (_, i) => new Uint8Array([i + 1, 0xca, 0x11]))
    const results = await Promise.all(sent.map((s) => a.signals.send(bHex, s)))
    expect(results.every((r) => r)).toBe(true)
    await until(() => got.length === 50, 20_000, '50 signals')
    expect(got.map((g) => g.signal[0])).toEqual(sent.map((s) => s[0]))
    expect(got.every((g) => g.contact === aHex && typeof g.sentAt === 'number')).toBe(true)
    expect(await b.history(aHex)).toEqual([])
    expect(await a.history(bHex)).toEqual([])
    expect(a.queued + a.queuedControl).toBe(0)
  })

  it("a stranger's signals are dropped; an offline contact gets nothing queued", async () => {
    const { a, b, stranger, aHex, bHex } = await trio()
    await stranger.addContact(bHex, { name: 'b' })
    const got = collect(b, 'call-signal')
    // Delivered to B's device (it acknowledges the encrypted frame), but B has not added the stranger: no event.
    expect(await stranger.signals.send(bHex, new Uint8Array([1]))).toBe(true)
    await a.addContact(bHex, { name: 'b' })
    await b.addContact(aHex, { name: 'a' })
    expect(await a.signals.send(bHex, new Uint8Array([2]))).toBe(true)
    await until(() => got.length === 1, 10_000, "the contact's signal")
    expect(got.map((g) => g.contact)).toEqual([aHex])
    await b.stop()
    expect(await a.signals.send(bHex, new Uint8Array([3]), { signal: AbortSignal.timeout(3000) })).toBe(false)
    expect(a.queued + a.queuedControl).toBe(0)
  })

  it('an empty or oversized signal is a typed error', async () => {
    const { a, bHex } = await trio()
    await a.addContact(bHex)
    await expect(a.signals.send(bHex, new Uint8Array(0))).rejects.toMatchObject({ code: 'InvalidInput' })
    await expect(a.signals.send(bHex, new Uint8Array(64 * 1024 + 1))).rejects.toMatchObject({ code: 'InvalidInput' })
  })
})
