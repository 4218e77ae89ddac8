/**
 * The send path with early lock release: a text's contact lock goes once its commit (session update, history, dedup,
 * outbox records and the next text number) is queued in the store's write order, so a burst of sends shares syncs —
 * yet no frame leaves before the commit that made its ciphertext is durable. A's profile lives on a
 * PowerCutDatastore: holding its syncs shows what is on the wire while commits wait, and `cut()` keeps exactly the
 * acknowledged writes, as a power cut keeps what was fsynced.
 */
import { createProfileStore, openStore, type ProfileStore } from '@parley/store'
import { PowerCutDatastore } from '@parley/store/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { type Messenger, NAMESPACES, type Namespace } from '../src/index.ts'
import { decodeContact, decodeHistory } from '../src/records.ts'
import { Cluster, publishAndFind, sessionsOf } from './adversarial-helpers.ts'
import { collect, hex, until } from './helpers.ts'

const PASSPHRASE = 'send pipeline test passphrase'
const clusters: Cluster[] = []

afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.stop()))
})

function profile(backend: Parameters<typeof createProfileStore>[0], create = true): Promise<ProfileStore<Namespace>> {
  return createProfileStore(backend, PASSPHRASE, { namespaces: NAMESPACES, create, unsafeFastKdfForTests: true })
}

/** The texts of `contact`'s conversation at `m`, in one direction. */
async function texts(m: Messenger, contact: string, direction: 'in' | 'out'): Promise<string[]> {
  return (await m.history(contact)).filter((h) => h.direction === direction).map((h) => h.text)
}

/** A's outgoing history records for `contact` as stored (text numbers included), in key (text number) order. */
async function outgoing(store: ProfileStore<Namespace>, contact: string) {
  const out: Array<{ seq: number; text: string }> = []
  for await (const { key, value } of store.query('history', { prefix: `${contact}/out/` })) {
    const h = decodeHistory(value)
    out.push({ seq: h.senderSeq, text: h.text })
    expect(key).toContain(String(h.senderSeq).padStart(16, '0'))
  }
  return out
}

/**
 * A (on a power-cut datastore) and B (in memory), contacts of each other, one text delivered (the session is
 * acknowledged). `sendBatches` lists, per backend batch at A that carries texts being sent, how many.
 */
async function pair(limits: { maxOutbox?: number } = {}) {
  const cluster = new Cluster()
  clusters.push(cluster)
  await cluster.start(1)
  const disk = new PowerCutDatastore()
  const aStore = await profile(disk)
  const a = await cluster.messenger({}, aStore, { limits })
  const b = await cluster.messenger({}, await profile(await openStore({ kind: 'memory' })))
  await publishAndFind(b, a)
  await publishAndFind(a, b)
  const aHex = hex(a.identityKey)
  const bHex = hex(b.identityKey)
  await a.addContact(bHex, { name: 'bob' })
  await b.addContact(aHex, { name: 'alice' })
  const shown = collect(b, 'message')
  expect((await a.send(bHex, 'warm-up')).status).toBe('sent')
  await until(() => shown.length === 1, 20_000, 'the warm-up at B')
  await until(async () => (await a.history(bHex))[0]!.state === 'delivered', 20_000, 'the warm-up receipt at A')
  // A send's commit is the only batch that writes a contact record (its next text number) and an outbox entry.
  const sendBatches: number[] = []
  const batch = disk.batch.bind(disk)
  disk.batch = () => {
    const inner = batch()
    let contacts = 0
    let outbox = 0
    return {
      put: (key, value) => {
        const k = key.toString()
        if (k.startsWith('/contacts/')) contacts++
        if (k.startsWith('/outbox/')) outbox++
        inner.put(key, value)
      },
      delete: (key) => inner.delete(key),
      commit: (options) => {
        if (contacts > 0 && outbox > 0) sendBatches.push(outbox)
        return inner.commit(options)
      }
    }
  }
  return { cluster, disk, a, aStore, b, aHex, bHex, shown, sendBatches }
}

describe('sending a burst with early lock release', () => {
  it('the sends share syncs at A, and no frame reaches B before the commit that made it is durable', async () => {
    const { disk, a, aStore, b, aHex, bHex, shown, sendBatches } = await pair()
    disk.holdSyncs()
    const burst = Array.from({ length: 10 }, (_, i) => `burst ${i}`)
    const sends = burst.map((text) => a.send(bHex, text, { signal: AbortSignal.timeout(30_000) }))
    await until(() => disk.pendingSyncs > 0, 30_000, "A's first send commit")
    // The first commit waits for its sync; every other send is encrypted and queued behind it (its lock went once its
    // commit was queued), and none is on the wire.
    await new Promise((r) => setTimeout(r, 1500))
    expect(sendBatches).toEqual([1])
    expect(shown.length).toBe(1)
    expect(await texts(b, aHex, 'in')).toEqual(['warm-up'])

    // The first sync completes: the nine queued commits reach the disk as one batch (one sync), still held; the first
    // text, and only it, goes out.
    disk.releaseSyncs(1)
    await until(() => sendBatches.length === 2, 30_000, "A's second batch")
    expect(sendBatches).toEqual([1, burst.length - 1])
    await until(() => shown.length === 2, 30_000, 'the first text at B')
    await new Promise((r) => setTimeout(r, 1000))
    expect(shown.map((e) => e.text)).toEqual(['warm-up', 'burst 0'])

    disk.releaseSyncs()
    const results = await Promise.all(sends)
    expect(results.map((r) => r.status)).toEqual(burst.map(() => 'sent'))
    await until(() => shown.length === 1 + burst.length, 30_000, 'the burst at B')
    expect(await texts(b, aHex, 'in')).toEqual(['warm-up', ...burst])
    // Text numbers: distinct and consecutive in send order, and the contact's next number right after them.
    expect(await outgoing(aStore, bHex)).toEqual(['warm-up', ...burst].map((text, seq) => ({ seq, text })))
    expect(decodeContact((await aStore.get('contacts', bHex))!).nextSeq).toBe(1 + burst.length)
  })

  it('a power cut while the burst waits for its syncs loses those texts at both ends, and the same session carries on', async () => {
    const { cluster, disk, a, aStore, b, aHex, bHex, shown, sendBatches } = await pair()
    const [address, before] = [...(await sessionsOf(aStore))][0]!
    disk.holdSyncs()
    const burst = Array.from({ length: 6 }, (_, i) => `burst ${i}`)
    // Settled as they end (the five lost ones reject at the cut).
    const outcomes = Promise.allSettled(
      burst.map((text) => a.send(bHex, text, { signal: AbortSignal.timeout(30_000) }))
    )
    await until(() => disk.pendingSyncs > 0, 30_000, "A's first send commit")
    await new Promise((r) => setTimeout(r, 1500))
    // The first commit syncs and its text goes out; the other five reach the disk as one batch whose sync never comes.
    disk.releaseSyncs(1)
    await until(() => sendBatches.length === 2, 30_000, 'the rest of the burst at the disk')
    await until(() => shown.length === 2, 30_000, 'the first text at B')
    await new Promise((r) => setTimeout(r, 1000))
    // Their ratchet steps exist only in a commit not yet durable: nothing of them may have reached B.
    expect(shown.map((e) => e.text)).toEqual(['warm-up', 'burst 0'])
    const listen = a.addresses.map((x) => x.replace(/\/p2p\/[^/]+$/, ''))
    const image = disk.cut()
    await a.stop()
    const ended = await outcomes
    expect(ended.map((o) => o.status)).toEqual(['fulfilled', ...burst.slice(1).map(() => 'rejected')])

    const restored = await profile(image, false)
    expect(await outgoing(restored, bHex)).toEqual([
      { seq: 0, text: 'warm-up' },
      { seq: 1, text: 'burst 0' }
    ])
    const a2 = await cluster.messenger({ listen }, restored)
    const changed = collect(b, 'identity-changed')
    expect((await a2.send(bHex, 'after the cut')).status).toBe('sent')
    await until(() => shown.length === 3, 30_000, 'the text after the cut at B')
    // B decrypted it on the same session (the lost ratchet steps never left A), and numbers it right after burst 0.
    expect(await texts(b, aHex, 'in')).toEqual(['warm-up', 'burst 0', 'after the cut'])
    expect((await sessionsOf(restored)).get(address)?.current).toEqual(before.current)
    expect(await outgoing(restored, bHex)).toEqual([
      { seq: 0, text: 'warm-up' },
      { seq: 1, text: 'burst 0' },
      { seq: 2, text: 'after the cut' }
    ])
    expect(changed).toEqual([])
  })

  it('a contact update under the lock while sends are queued waits for them: no text number is handed out twice', async () => {
    const { disk, a, aStore, aHex, bHex, b, shown, sendBatches } = await pair()
    disk.holdSyncs()
    const first = ['one', 'two', 'three'].map((text) => a.send(bHex, text, { signal: AbortSignal.timeout(30_000) }))
    await until(() => disk.pendingSyncs > 0, 30_000, "A's first send commit")
    await new Promise((r) => setTimeout(r, 1500))
    // Renaming reads and rewrites the contact record under its lock: it must start from the queued text number.
    const renamed = a.addContact(bHex, { name: 'bobby' })
    await new Promise((r) => setTimeout(r, 500))
    disk.releaseSyncs()
    await renamed
    await Promise.all(first)
    // Two and three were queued behind one's sync before the rename started, and shared the next one.
    expect(sendBatches).toEqual([1, 2])
    expect((await a.send(bHex, 'four')).status).toBe('sent')
    await until(() => shown.length === 5, 30_000, 'every text at B')
    expect(await texts(b, aHex, 'in')).toEqual(['warm-up', 'one', 'two', 'three', 'four'])
    expect((await outgoing(aStore, bHex)).map((o) => o.seq)).toEqual([0, 1, 2, 3, 4])
    const contact = decodeContact((await aStore.get('contacts', bHex))!)
    expect(contact.name).toBe('bobby')
    expect(contact.nextSeq).toBe(5)
  })

  it('the outbox bound counts texts whose commits are queued but not yet durable', async () => {
    const { disk, a, aStore, bHex, shown } = await pair({ maxOutbox: 3 })
    disk.holdSyncs()
    // None of them is on the schedule yet (each waits for its sync): the bound must count them anyway.
    const ended = Promise.allSettled(
      ['one', 'two', 'three', 'four', 'five'].map((text) => a.send(bHex, text, { signal: AbortSignal.timeout(30_000) }))
    )
    await until(() => disk.pendingSyncs > 0, 30_000, "A's first send commit")
    await new Promise((r) => setTimeout(r, 1500))
    disk.releaseSyncs()
    const outcomes = await ended
    expect(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value.status : (o.reason as { code?: string }).code))
    ).toEqual(['sent', 'sent', 'sent', 'OutboxFull', 'OutboxFull'])
    await until(() => shown.length === 4, 30_000, 'the three accepted texts at B')
    expect((await outgoing(aStore, bHex)).map((o) => o.text)).toEqual(['warm-up', 'one', 'two', 'three'])
  })
})
