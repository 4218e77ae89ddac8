/**
 * Durability and data at rest.
 *
 * A power cut, not a SIGKILL: B's profile lives on a PowerCutDatastore, and `cut()` keeps exactly the writes whose
 * promise had resolved (acknowledged = durable), as a real power cut keeps exactly what was fsynced. A new messenger
 * over the cut image must hold every message B acknowledged and carry on with the same ratchet sessions (no re-key,
 * no identity change); a message whose commit was still in flight at the cut must come again from A's outbox.
 *
 * The plaintext grep: two messengers on LevelDB profiles exchange messages carrying unique markers; after they stop,
 * no file of either profile contains a marker or the other party's identity key, as text or as bytes.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createProfileStore, openStore, type ProfileStore } from '@parley/store'
import { PowerCutDatastore } from '@parley/store/testing'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { type Messenger, NAMESPACES, type Namespace } from '../src/index.ts'
import { Cluster, publishAndFind, sessionsOf } from './adversarial-helpers.ts'
import { collect, hex, until } from './helpers.ts'

const PASSPHRASE = 'durability test passphrase'
const clusters: Cluster[] = []
const dirs: string[] = []

afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.stop()))
})

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

/** A profile over `backend` (created when new). */
function profile(backend: Parameters<typeof createProfileStore>[0], create = true): Promise<ProfileStore<Namespace>> {
  return createProfileStore(backend, PASSPHRASE, { namespaces: NAMESPACES, create, unsafeFastKdfForTests: true })
}

/** The texts of `contact`'s conversation at `m`, in one direction. */
async function texts(m: Messenger, contact: string, direction: 'in' | 'out'): Promise<string[]> {
  return (await m.history(contact)).filter((h) => h.direction === direction).map((h) => h.text)
}

/** A, B (on a power-cut datastore) and a small DHT; A and B know each other and have talked both ways. */
async function pair() {
  const cluster = new Cluster()
  clusters.push(cluster)
  await cluster.start(1)
  const datastore = new PowerCutDatastore()
  const bStore = await profile(datastore)
  const aStore = await profile(await openStore({ kind: 'memory' }))
  const a = await cluster.messenger({}, aStore)
  const b = await cluster.messenger({}, bStore)
  await publishAndFind(b, a)
  await publishAndFind(a, b)
  const aHex = hex(a.identityKey)
  const bHex = hex(b.identityKey)
  await a.addContact(bHex, { name: 'bob' })
  await b.addContact(aHex, { name: 'alice' })
  return { cluster, datastore, a, aStore, b, bStore, aHex, bHex }
}

/** How many entries a profile's outbox holds. */
async function outboxSize(store: ProfileStore<Namespace>): Promise<number> {
  let n = 0
  for await (const _ of store.query('outbox')) n++
  return n
}

/** B's listen addresses without the /p2p/ part: the restarted B listens where B listened (same machine). */
function listenOf(m: Messenger): string[] {
  return m.addresses.map((x) => x.replace(/\/p2p\/[^/]+$/, ''))
}

describe('a power cut at B', () => {
  it('every message B acknowledged survives, and the same sessions carry on in both directions', async () => {
    const { cluster, datastore, a, aStore, b, aHex, bHex } = await pair()
    const changed = collect(a, 'identity-changed')
    const sentByA = Array.from({ length: 5 }, (_, i) => `a->b before the cut ${i}`)
    for (const text of sentByA) expect((await a.send(bHex, text)).status).toBe('sent')
    const sentByB = ['b->a before the cut 0', 'b->a before the cut 1']
    for (const text of sentByB) expect((await b.send(aHex, text)).status).toBe('sent')
    await until(async () => (await texts(a, bHex, 'in')).length === 2, 20_000, 'B messages at A')
    const sessionsA = await sessionsOf(aStore)
    expect(sessionsA.size).toBe(1)
    const [address, sessionA] = [...sessionsA][0]!
    expect(sessionA.current).toBeDefined()

    // The power cut: B's durable image is what survives; B's process dies with it.
    const listen = listenOf(b)
    const peerId = b.peerId.toString()
    const image = datastore.cut()
    await b.stop()
    const restored = await profile(image, false)
    const b2 = await cluster.messenger({ listen }, restored)
    expect(hex(b2.identityKey)).toBe(bHex)
    expect(b2.peerId.toString()).toBe(peerId)

    // Every message B acknowledged (send() resolved 'sent' only on B's ack) is in B's history, and B's own.
    expect(await texts(b2, aHex, 'in')).toEqual(sentByA)
    expect(await texts(b2, aHex, 'out')).toEqual(sentByB)
    const sessionsB = await sessionsOf(restored)
    expect([...sessionsB.values()].map((s) => s.current)).toEqual([sessionA.current])

    // The conversation carries on both ways, on the same sessions: no re-key, no new session, no identity change.
    expect((await b2.send(aHex, 'b->a after the cut')).status).toBe('sent')
    await until(async () => (await texts(a, bHex, 'in')).includes('b->a after the cut'), 20_000, 'B after the cut')
    expect((await a.send(bHex, 'a->b after the cut')).status).toBe('sent')
    await until(async () => (await texts(b2, aHex, 'in')).includes('a->b after the cut'), 20_000, 'A after the cut')
    expect(await sessionsOf(aStore)).toEqual(new Map([[address, { current: sessionA.current, archived: 0 }]]))
    expect([...(await sessionsOf(restored)).values()]).toEqual([{ current: sessionA.current, archived: 0 }])
    expect(changed).toEqual([])
    expect(await texts(b2, aHex, 'in')).toEqual([...sentByA, 'a->b after the cut'])
  })

  it('a message whose commit was in flight at the cut is never acknowledged, and comes again from the outbox, once', async () => {
    const { cluster, datastore, a, b, bStore, aHex, bHex } = await pair()
    expect((await a.send(bHex, 'before the cut')).status).toBe('sent')
    await until(async () => (await texts(b, aHex, 'in')).length === 1, 20_000, 'the first message')
    // Let B's delivered receipt finish first (else its commit, held below, would hold the session lock).
    await until(async () => (await a.history(bHex))[0]!.state === 'delivered', 20_000, 'the receipt at A')
    await until(async () => (await outboxSize(bStore)) === 0, 20_000, "B's outbox to drain")

    // B's disk stops syncing: B decrypts the next message and commits it, but the commit never completes, so B cannot
    // acknowledge it. (With group commit, a write queued behind a held sync is not even visible to B's reads.)
    datastore.holdSyncs()
    expect((await a.send(bHex, 'in flight at the cut', { signal: AbortSignal.timeout(1500) })).status).toBe('queued')
    await until(() => datastore.pendingSyncs > 0, 30_000, 'the in-flight write at B')
    // A retry while the commit is in flight finds the message in B's dedup records (written, not durable): it must
    // not be acknowledged from there.
    const retry = a.flush().catch(() => {})
    await new Promise((r) => setTimeout(r, 2000))
    const inFlight = (await a.history(bHex)).find((h) => h.text === 'in flight at the cut')!
    expect(inFlight.state).toBe('pending')

    const listen = listenOf(b)
    const image = datastore.cut()
    await b.stop()
    await retry
    const b2 = await cluster.messenger({ listen }, await profile(image, false))
    expect(await texts(b2, aHex, 'in')).toEqual(['before the cut'])
    await a.flush()
    await until(
      async () => (await texts(b2, aHex, 'in')).includes('in flight at the cut'),
      30_000,
      'the in-flight message after the restart'
    )
    expect(await texts(b2, aHex, 'in')).toEqual(['before the cut', 'in flight at the cut'])
    // B2 stores before it acknowledges, so A leaves `pending` a moment after B2 shows the message.
    await until(
      async () => (await a.history(bHex)).find((h) => h.id === inFlight.id)!.state !== 'pending',
      30_000,
      'A to see the message acknowledged'
    )
  })

  it('a burst over the session stream shares syncs at B, yet no message is acknowledged before its own commit is durable; the unsynced rest comes again after the cut, once each', async () => {
    const { cluster, datastore, a, b, aHex, bHex } = await pair()
    expect((await a.send(bHex, 'warm-up')).status).toBe('sent')
    await until(async () => (await texts(b, aHex, 'in')).length === 1, 20_000, 'the warm-up message')
    await until(async () => (await a.history(bHex))[0]!.state === 'delivered', 20_000, 'the warm-up receipt')
    // Texts per backend batch at B (a text is one history record), to see which commits share a sync.
    const textsPerBatch: number[] = []
    const batch = datastore.batch.bind(datastore)
    datastore.batch = () => {
      const inner = batch()
      let count = 0
      return {
        put: (key, value) => {
          if (key.toString().startsWith('/history/')) count++
          inner.put(key, value)
        },
        delete: (key) => inner.delete(key),
        commit: (options) => {
          if (count > 0) textsPerBatch.push(count)
          return inner.commit(options)
        }
      }
    }
    datastore.holdSyncs()
    const burst = Array.from({ length: 10 }, (_, i) => `burst ${i}`)
    const sends = burst.map((text) => a.send(bHex, text, { signal: AbortSignal.timeout(20_000) }))
    await until(() => datastore.pendingSyncs > 0, 30_000, "the first of B's commits")
    // Every frame is decrypted and queued behind the held sync (early lock release), none acknowledged.
    await new Promise((r) => setTimeout(r, 1500))
    expect(textsPerBatch).toEqual([1])
    const pendingAtA = async () => (await a.history(bHex)).filter((h) => h.state === 'pending').map((h) => h.text)
    expect(await pendingAtA()).toEqual(burst)
    // One sync completes: only what it held is acknowledged; the rest went to the backend as one batch, still held.
    datastore.releaseSyncs(1)
    await until(() => textsPerBatch.length === 2, 30_000, "B's second batch")
    expect(textsPerBatch).toEqual([1, burst.length - 1])
    await until(async () => (await pendingAtA()).length < burst.length, 30_000, 'the first acknowledgement')
    await new Promise((r) => setTimeout(r, 1000))
    const pending = await pendingAtA()
    expect(pending.length).toBe(burst.length - 1)
    const seenAsSent = burst.filter((t) => !pending.includes(t))

    const listen = listenOf(b)
    const image = datastore.cut()
    await b.stop()
    await Promise.allSettled(sends)
    const b2 = await cluster.messenger({ listen }, await profile(image, false))
    // Exactly what A saw acknowledged survived the cut at B.
    expect(await texts(b2, aHex, 'in')).toEqual(['warm-up', ...seenAsSent])
    await a.flush()
    await until(
      async () => (await texts(b2, aHex, 'in')).length === 1 + burst.length,
      30_000,
      'the unsynced rest after the restart'
    )
    expect((await texts(b2, aHex, 'in')).slice(1).sort()).toEqual([...burst].sort())
  })
})

/** Every regular file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name))
}

/** Which of `needles` occur in any file under `dir` (name → file). */
async function grep(dir: string, needles: Record<string, Uint8Array>): Promise<Record<string, string>> {
  const found: Record<string, string> = {}
  for (const file of await filesUnder(dir)) {
    const bytes = await readFile(file)
    for (const [name, needle] of Object.entries(needles)) if (bytes.indexOf(needle) >= 0) found[name] = file
  }
  return found
}

describe('a power cut at A', () => {
  it('a delivered state whose relaxed write the cut lost is sent once more from the outbox; B answers its copy, A converges to delivered and B shows the text once', async () => {
    const cluster = new Cluster()
    clusters.push(cluster)
    await cluster.start(1)
    const disk = new PowerCutDatastore()
    const aStore = await profile(disk)
    const a = await cluster.messenger({}, aStore)
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

    const result = await a.send(bHex, 'acked, then the power went')
    expect(result.status).toBe('sent')
    // At once: the ack's relaxed write (outbox entry gone, history delivered) has no sync of its own yet.
    const listen = listenOf(a)
    const image = disk.cut()
    await a.stop()
    const restored = await profile(image, false)
    expect(await outboxSize(restored)).toBe(1)
    const a2 = await cluster.messenger({ listen }, restored)
    expect((await a2.history(bHex)).find((h) => h.id === result.id)?.state).toBe('pending')
    await a2.flush()
    await until(
      async () => (await a2.history(bHex)).find((h) => h.id === result.id)?.state === 'delivered',
      30_000,
      'A to converge to delivered'
    )
    expect(await outboxSize(restored)).toBe(0)
    await new Promise((r) => setTimeout(r, 500))
    expect(shown.map((e) => e.text)).toEqual(['warm-up', 'acked, then the power went'])
    expect(await texts(b, aHex, 'in')).toEqual(['warm-up', 'acked, then the power went'])
  })
})

describe('data at rest', () => {
  it('no plaintext, and no identity key of the other party, in any file of two LevelDB profiles', async () => {
    const cluster = new Cluster()
    clusters.push(cluster)
    await cluster.start(1)
    const root = await mkdtemp(join(tmpdir(), 'parley-at-rest-'))
    dirs.push(root)
    const paths = { a: join(root, 'alice'), b: join(root, 'bob') }
    const aStore = await profile(await openStore({ kind: 'level', path: paths.a }))
    const bStore = await profile(await openStore({ kind: 'level', path: paths.b }))
    const a = await cluster.messenger({}, aStore)
    const b = await cluster.messenger({}, bStore)
    await publishAndFind(b, a)
    await publishAndFind(a, b)
    const aHex = hex(a.identityKey)
    const bHex = hex(b.identityKey)
    const markerAB = `marker-a-to-b-${randomBytes(12).toString('hex')}`
    const markerBA = `marker-b-to-a-${randomBytes(12).toString('hex')}`
    await a.addContact(bHex, { name: 'bob' })
    expect((await a.send(bHex, `the secret is ${markerAB}`)).status).toBe('sent')
    await until(async () => (await texts(b, aHex, 'in')).length === 1, 20_000, 'the message at B')
    expect((await b.send(aHex, `and mine is ${markerBA}`)).status).toBe('sent')
    await until(async () => (await texts(a, bHex, 'in')).length === 1, 20_000, 'the reply at A')
    const peers = { a: a.peerId.toString(), b: b.peerId.toString() }
    await a.stop()
    await b.stop()
    await aStore.close()
    await bStore.close()

    const utf8 = (s: string) => new TextEncoder().encode(s)
    const needles = (other: Messenger | { identityKey: Uint8Array }, otherHex: string, otherPeer: string) => ({
      'marker a->b': utf8(markerAB),
      'marker b->a': utf8(markerBA),
      'identity key (hex)': utf8(otherHex),
      'identity key (bytes)': other.identityKey,
      'peer id': utf8(otherPeer)
    })
    expect(await grep(paths.a, needles(b, bHex, peers.b))).toEqual({})
    expect(await grep(paths.b, needles(a, aHex, peers.a))).toEqual({})

    // The data is there — encrypted: reopened with the passphrase, each profile still holds both messages.
    for (const [path, contact] of [
      [paths.a, bHex],
      [paths.b, aHex]
    ] as const) {
      const reopened = await profile(await openStore({ kind: 'level', path }), false)
      const all: string[] = []
      for await (const { value } of reopened.query('history')) all.push(new TextDecoder().decode(value))
      expect(all.join('\n')).toContain(markerAB)
      expect(all.join('\n')).toContain(markerBA)
      expect(all.join('\n')).toContain(contact)
      await reopened.close()
    }

    // The grep can see plaintext: the same marker written unencrypted into a LevelDB is found.
    const control = join(root, 'control')
    const raw = await openStore({ kind: 'level', path: control })
    // DurableLevelDatastore only calls key.toString() (interface-datastore's Key is not a dependency of this package).
    const key = { toString: () => '/control' } as unknown as Parameters<typeof raw.put>[0]
    await raw.put(key, utf8(`the secret is ${markerAB}`))
    await raw.close()
    expect(Object.keys(await grep(control, { marker: utf8(markerAB) }))).toEqual(['marker'])
  })
})
