/**
 * Named bounds on what remote input and an unreachable contact can make a messenger hold or do: the DM stream cap,
 * the control queue's bound and expiry, and retry rounds that cost what is due, not what is queued.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { defaultBackend, generateIdentity } from '@parley/crypto'
import { CONTROL_TTL_MS, MAX_INBOUND_DM_STREAMS_PER_PEER, type Namespace } from '@parley/messenger'
import { createNodeLibp2p } from '@parley/network'
import type { ProfileStore } from '@parley/store'
import { protocols } from '@parley/wire'
import { afterEach, describe, expect, it } from 'vitest'
import { addressOf, Fixture, hex, memoryProfile, ONE_HOST, until } from './kit.ts'

const ids = protocols('/parley')
let fx: Fixture
afterEach(async () => {
  await fx.stop()
})

/** Counts reads of one namespace (gets, and records yielded by queries) on a profile store. */
function countReads(store: ProfileStore<Namespace>, namespace: Namespace): { reads: number } {
  const counter = { reads: 0 }
  const get = store.get.bind(store)
  const query = store.query.bind(store)
  store.get = (ns, key, options) => {
    if (ns === namespace) counter.reads++
    return get(ns, key, options)
  }
  store.query = (ns, options) => {
    const inner = query(ns, options)
    if (ns !== namespace) return inner
    return (async function* () {
      for await (const entry of inner) {
        counter.reads++
        yield entry
      }
    })()
  }
  return counter
}

describe('the DM stream cap', () => {
  it(`a peer holding ${MAX_INBOUND_DM_STREAMS_PER_PEER} DM streams open gets no more; others are served, and so is it once it lets go`, async () => {
    fx = new Fixture()
    const bob = await fx.messenger()
    const node = await createNodeLibp2p(await generateKeyPair('Ed25519'), defaultBackend, { ...ONE_HOST, listen: [] })
    await node.start()
    fx.onStop(async () => node.stop())
    const target = multiaddr(bob.addresses[0]!)
    const connection = await node.dial(target)
    const open: Stream[] = []
    for (let i = 0; i < MAX_INBOUND_DM_STREAMS_PER_PEER; i++) open.push(await connection.newStream(ids.dm))
    // One more is refused by the node (the stream is reset, or never opens).
    const extra = await connection.newStream(ids.dm).then(
      async (s) => {
        await until(() => s.status !== 'open', 5_000, 'the extra stream to be reset')
        return s.status
      },
      () => 'refused'
    )
    expect(extra).not.toBe('open')
    // Another peer is served meanwhile.
    const alice = await fx.messenger({ network: { bootstrap: [bob.addresses[0]!] } })
    await alice.addContact(bob.invite('bob'))
    await until(async () => (await alice.lookup(bob.identityKey).catch(() => undefined)) !== undefined, 30_000)
    expect((await alice.send(hex(bob.identityKey), 'still served')).status).toBe('sent')
    for (const s of open) s.abort(new Error('done'))
    await until(
      async () =>
        (await connection.newStream(ids.dm).then(
          (s) => s.abort(new Error('x')),
          () => 'no'
        )) !== 'no',
      5_000
    )
  })
})

describe('control traffic is bounded apart from texts', () => {
  it('receipts for an unreachable contact are capped (oldest dropped) and expire; texts are not touched', async () => {
    fx = new Fixture()
    let t = Date.now()
    const store = await memoryProfile()
    const alice = await fx.messenger({ store, now: () => t, offline: true, limits: { maxControl: 3, maxOutbox: 5 } })
    const nobody = hex((await generateIdentity(defaultBackend)).publicKey)
    await alice.addContact(nobody, { name: 'nobody' })
    for (let i = 0; i < 8; i++) await alice.markRead(nobody, [hex(defaultBackend.randomBytes(16))])
    expect(alice.queuedControl).toBe(3)
    // Texts have their own bound: all five fit although the control queue is full.
    for (let i = 0; i < 5; i++) expect((await alice.send(nobody, `m${i}`)).status).toBe('queued')
    expect(alice.queued).toBe(5)
    // Past their lifetime the receipts are dropped at the next retry round; the texts stay.
    t += CONTROL_TTL_MS + 1
    await alice.flush()
    expect(alice.queuedControl).toBe(0)
    expect(alice.queued).toBe(5)
    let outbox = 0
    for await (const _ of store.query('outbox')) outbox++
    expect(outbox).toBe(5)
  })

  it('a retry round reads only the entries that are due, not the whole outbox', async () => {
    fx = new Fixture()
    const relay = await fx.relay()
    const t = Date.now()
    const store = await memoryProfile()
    const alice = await fx.messenger({ store, now: () => t, network: { bootstrap: [addressOf(relay)] } })
    const nobody = hex((await generateIdentity(defaultBackend)).publicKey)
    await alice.addContact(nobody, { name: 'nobody' })
    // 200 texts to a contact nobody can find: each first attempt fails and backs off.
    for (let i = 0; i < 200; i++) await alice.send(nobody, `m${i}`, { signal: AbortSignal.timeout(1) })
    expect(alice.queued).toBe(200)
    const counter = countReads(store, 'outbox')
    // The clock stands still. The first round reads what is due (everything) and backs it off; wait until it is over.
    let last = -1
    await until(
      async () => {
        const settled = counter.reads === last && counter.reads > 0
        last = counter.reads
        await new Promise((r) => setTimeout(r, 1_500))
        return settled
      },
      60_000,
      'the first retry round'
    )
    // Nothing is due now: several retry rounds pass (one a second) and read nothing.
    counter.reads = 0
    await new Promise((r) => setTimeout(r, 3_500))
    expect(counter.reads).toBe(0)
  })
})
