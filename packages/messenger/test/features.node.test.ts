/**
 * Behaviour a Signal or WhatsApp user expects, on a small real network: typing is never stored or queued; a full
 * outbox is a typed error, never a silent drop; a flooding peer gets typed refusals and is disconnected while the
 * node keeps serving others; a contact that lost its state gets a fresh session and the message still arrives.
 */
import { defaultBackend, generateIdentity } from '@parley/crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createMessenger, type Messenger, NAMESPACES } from '../src/index.ts'
import { collect, hex, memoryProfile, node, until } from './helpers.ts'

const all: Messenger[] = []
afterAll(() => Promise.all(all.map((m) => m.stop().catch(() => {}))))

async function pair(limits?: { maxOutbox?: number; dmPerMinutePerPeer?: number }) {
  const boot = await node()
  const bootstrap = [boot.addresses[0]!]
  const a = await createMessenger({
    store: await memoryProfile(),
    network: { bootstrap, kBucketSize: 4 },
    ...(limits && { limits })
  })
  const b = await createMessenger({
    store: await memoryProfile(),
    network: { bootstrap, kBucketSize: 4 },
    ...(limits && { limits })
  })
  all.push(boot, a, b)
  await until(
    async () =>
      b.publish().then(
        () => true,
        () => false
      ),
    30_000,
    'B published'
  )
  await a.addContact(hex(b.identityKey), { name: 'b' })
  return { boot, a, b, bHex: hex(b.identityKey), aHex: hex(a.identityKey) }
}

describe('messenger behaviour', () => {
  it('typing reaches the contact end to end and is never stored or queued', async () => {
    const { a, b, bHex, aHex } = await pair()
    expect((await a.send(bHex, 'first')).status).toBe('sent')
    // Typing from a message request is not shown (as in Signal): B has A as a contact.
    await b.addContact(aHex)
    const typing = collect(b, 'typing')
    expect(await a.typing(bHex, true)).toBe(true)
    await until(() => typing.length === 1, 10_000, 'typing event')
    expect(typing[0]).toEqual({ contact: aHex, active: true })
    expect((await b.history(aHex)).map((h) => h.text)).toEqual(['first'])
    expect(a.queued).toBe(0)
    // Offline contact: typing is dropped, not queued.
    await b.stop()
    expect(await a.typing(bHex, false)).toBe(false)
    expect(a.queued).toBe(0)
  })

  it('a full outbox is a typed error, and nothing is dropped', async () => {
    const store = await memoryProfile()
    const lonely = await createMessenger({ store, offline: true, limits: { maxOutbox: 3 } })
    all.push(lonely)
    const nobody = hex((await generateIdentity(defaultBackend)).publicKey)
    await lonely.addContact(nobody, { name: 'nobody' })
    for (let i = 0; i < 3; i++) expect((await lonely.send(nobody, `m${i}`)).status).toBe('queued')
    await expect(lonely.send(nobody, 'one too many')).rejects.toMatchObject({ code: 'OutboxFull' })
    expect((await lonely.history(nobody)).map((h) => h.text)).toEqual(['m0', 'm1', 'm2'])
    expect(NAMESPACES).toContain('outbox')
  })

  it('a peer over the DM rate limit gets RateLimited and is disconnected; the node keeps serving others', async () => {
    const { a, b, bHex, boot } = await pair({ dmPerMinutePerPeer: 5 })
    const results = []
    for (let i = 0; i < 8; i++) results.push(await a.send(bHex, `flood ${i}`))
    expect(results.slice(0, 5).every((r) => r.status === 'sent')).toBe(true)
    expect(results.slice(5).some((r) => r.status === 'queued')).toBe(true)
    // Another peer is still served.
    const c = await createMessenger({
      store: await memoryProfile(),
      network: { bootstrap: [boot.addresses[0]!], kBucketSize: 4 }
    })
    all.push(c)
    await c.addContact(bHex, { name: 'b' })
    const got = collect(b, 'message')
    await until(async () => (await c.send(bHex, 'from c')).status === 'sent', 30_000, 'C served')
    await until(
      () => got.some((m) => m.text === 'from c'),
      10_000,
      `message from C (got ${JSON.stringify(got)}; history ${JSON.stringify(await b.history(hex(c.identityKey)))})`
    )
  })

  it('a contact that lost its sessions gets a fresh session and the message still arrives', async () => {
    const boot = await node()
    const bootstrap = [boot.addresses[0]!]
    const a = await node({ bootstrap })
    const bStore = await memoryProfile()
    const b = await node({ bootstrap }, bStore)
    all.push(boot, a, b)
    await until(
      async () =>
        b.publish().then(
          () => true,
          () => false
        ),
      30_000,
      'B published'
    )
    const bHex = hex(b.identityKey)
    await a.addContact(bHex, { name: 'b' })
    expect((await a.send(bHex, 'before')).status).toBe('sent')
    // B loses every session (as after restoring an old backup) and comes back on the same profile.
    await b.stop()
    for await (const { key } of bStore.query('sessions')) await bStore.delete('sessions', key)
    const b2 = await node({ bootstrap }, bStore)
    all.push(b2)
    await until(
      async () =>
        b2.publish().then(
          () => true,
          () => false
        ),
      30_000,
      'B published again'
    )
    const got = collect(b2, 'message')
    // A's first attempt is refused (NoSession); A starts a new session and encrypts the message again.
    await a.send(bHex, 'after the loss')
    await until(
      async () => {
        await a.flush()
        return got.some((m) => m.text === 'after the loss')
      },
      30_000,
      'message after the reset'
    )
    expect(got.filter((m) => m.text === 'after the loss')).toHaveLength(1)
    await until(() => a.queued === 0, 30_000, "A's outbox to drain")
    expect(got[0]!.contact).toBe(hex(a.identityKey))
  })
})

describe('after accepting a new identity', () => {
  it('messages queued for the old identity are not sent to the new one: they leave the outbox as failed', async () => {
    const store = await memoryProfile()
    const me = await createMessenger({ store, offline: true })
    all.push(me)
    const old = hex((await generateIdentity(defaultBackend)).publicKey)
    const next = hex((await generateIdentity(defaultBackend)).publicKey)
    await me.addContact(old, { name: 'erin' })
    expect((await me.send(old, 'for the old key')).status).toBe('queued')
    expect(me.queued).toBe(1)
    const changed = collect(me, 'identity-changed')
    await me.addContact(next, { name: 'erin' })
    expect(changed).toHaveLength(1)
    await me.acceptIdentity(old)
    expect(me.queued).toBe(0)
    const history = await me.history(old)
    expect(history.map((h) => [h.text, h.state])).toEqual([['for the old key', 'failed']])
    expect((await me.contacts()).map((c) => c.identity)).toEqual([next])
  })
})
