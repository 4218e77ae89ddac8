/**
 * Texts above a gap in a sender's numbers, and how long they wait for it. Bob's messenger runs on an injected clock
 * that the test moves forward (past the gap grace period, past MAX_GAP_HOLD_MS); everything else is real: loopback
 * TCP, a small DHT, in-memory encrypted profiles.
 *
 * The gap is made the way a crash makes one: alice, offline, queues texts; the test then takes their outbox entries
 * out of her profile (as if a crash lost them after they were written to history), so when she is back online and
 * sends one more text, bob receives it above the missing ones, and only bob's resend request — asked once the grace
 * period is over — brings them back (alice answers from her history).
 */
import type { ProfileStore } from '@parley/store'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_GAP_GRACE_MS, GAP_CHECK_INTERVAL_MS, MAX_GAP_HOLD_MS } from '../src/constants.ts'
import { createMessenger, type Messenger, type Namespace } from '../src/index.ts'
import { historyKey } from '../src/records.ts'
import { Cluster, publishAndFind } from './adversarial-helpers.ts'
import { collect, hex, memoryProfile, until } from './helpers.ts'

const clusters: Cluster[] = []

afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.stop()))
})

/** How long a wait may take: a few gap-check rounds (they run on real timers) on a loaded machine. */
const WAIT_MS = 10 * GAP_CHECK_INTERVAL_MS

/** The texts of bob's conversation with alice that he stored (in order of their numbers). */
async function stored(bob: Messenger, aHex: string): Promise<string[]> {
  return (await bob.history(aHex)).filter((h) => h.direction === 'in').map((h) => h.text)
}

/**
 * Alice and bob (on a clock the test moves: `clock.skew`) know each other and have talked once ('hello', alice's
 * number 0). Alice then queues `missing` while offline; the test removes their outbox entries (and, for those in
 * `forgotten`, their history too: alice cannot resend them); back online, she sends 'after', which bob stores above
 * the gap. Returns with 'after' stored at bob, nothing shown since 'hello'.
 */
async function gapAtBob(missing: string[], forgotten: string[] = []) {
  const cluster = new Cluster()
  clusters.push(cluster)
  await cluster.start(1)
  const clock = { skew: 0 }
  const bStore = await memoryProfile()
  const bob = await bobOn(cluster, bStore, clock)
  const aStore = await memoryProfile()
  const first = await cluster.messenger({}, aStore)
  await publishAndFind(bob, first)
  await publishAndFind(first, bob)
  const aHex = hex(first.identityKey)
  const bHex = hex(bob.identityKey)
  await first.addContact(bHex, { name: 'bob' })
  await bob.addContact(aHex, { name: 'alice' })
  const shown = collect(bob, 'message')
  expect((await first.send(bHex, 'hello')).status).toBe('sent')
  await until(() => shown.length === 1, WAIT_MS, "bob showing alice's hello")
  await first.stop()

  // Offline, alice queues the texts that will be missing; then they leave her outbox.
  const offline = await createMessenger({ store: aStore, offline: true })
  const queued = []
  for (const text of missing) queued.push({ text, ...(await offline.send(bHex, text)) })
  await offline.stop()
  for (const [i, q] of queued.entries()) {
    expect(q.status).toBe('queued')
    await aStore.delete('outbox', q.id)
    if (forgotten.includes(q.text)) await forget(aStore, bHex, i + 1, q.id)
  }

  const alice = await cluster.messenger({}, aStore)
  expect((await alice.send(bHex, 'after')).status).toBe('sent')
  await until(async () => (await stored(bob, aHex)).includes('after'), WAIT_MS, "bob storing 'after'")
  // Held back: the texts below it have not arrived.
  expect(shown.map((m) => m.text)).toEqual(['hello'])
  return { cluster, alice, bob, bStore, aHex, bHex, clock, shown }
}

/** Bob's messenger over `store`, on the clock the test moves (listening at `listen` when given). */
async function bobOn(
  cluster: Cluster,
  store: ProfileStore<Namespace>,
  clock: { skew: number },
  listen?: string[]
): Promise<Messenger> {
  const bob = await createMessenger({
    store,
    network: { kBucketSize: 20, bootstrap: cluster.bootstrap, ...oneHost(), ...(listen && { listen }) },
    now: () => Date.now() + clock.skew
  })
  cluster.messengers.push(bob)
  return bob
}

/** The test network is one host: the per-range caps are raised for it (helpers.ts). */
function oneHost() {
  return {
    rangeLimits: { maxInboundConnectionsPerRange: 1_000 },
    routingLimits: { maxRoutingPeersPerRange: 1_000, maxRoutingPeersPerRangePerBucket: 1_000 }
  }
}

/** Alice's history record (and dedup pointer) of one sent text, deleted: she has nothing to resend it from. */
async function forget(store: ProfileStore<Namespace>, bHex: string, seq: number, id: string): Promise<void> {
  await store.delete('history', historyKey(bHex, 'out', seq, id))
  await store.delete('seen', id)
}

describe('texts above a gap wait for the resend of a connected sender', () => {
  it('a gap answered only after the grace period (bob asked) is filled in order: the later text is not shown before it', async () => {
    const { bob, aHex, clock, shown } = await gapAtBob(['missing'])
    // The grace period is over: bob asks alice, whose answer comes after the ask.
    clock.skew += DEFAULT_GAP_GRACE_MS + 1_000
    await until(() => shown.length === 3, WAIT_MS, 'the resent text and the held one shown')
    expect(shown.map((m) => m.text)).toEqual(['hello', 'missing', 'after'])
    expect(shown.map((m) => m.senderSeq)).toEqual([0, 1, 2])
    expect(await stored(bob, aHex)).toEqual(['hello', 'missing', 'after'])
  })

  it(`a sender that never answers holds the later texts back at most MAX_GAP_HOLD_MS (${MAX_GAP_HOLD_MS / 1000} s), then they are shown in order`, async () => {
    // Two missing: 'lost' alice cannot resend (her history lost it too), 'resent' she can.
    const { bob, aHex, clock, shown } = await gapAtBob(['lost', 'resent'], ['lost'])
    clock.skew += DEFAULT_GAP_GRACE_MS + 1_000
    // Bob asked (alice's answer, 'resent', is stored): the gap below it stays open, so both wait.
    await until(async () => (await stored(bob, aHex)).includes('resent'), WAIT_MS, "bob storing 'resent'")
    expect(shown.map((m) => m.text)).toEqual(['hello'])
    // Past the bound they are shown anyway, in order, without the one that never came.
    clock.skew += MAX_GAP_HOLD_MS
    await until(() => shown.length === 3, WAIT_MS, 'the held texts shown after the bound')
    expect(shown.map((m) => m.text)).toEqual(['hello', 'resent', 'after'])
    expect(shown.map((m) => m.senderSeq)).toEqual([0, 2, 3])
  })

  it('bob stopped while a text waits above a gap: restarted, he shows it (flagged replayed) only after the resend fills the gap', async () => {
    const { cluster, alice, bob, bStore, aHex, bHex, clock } = await gapAtBob(['missing'])
    // 'after' is stored but not yet announced when bob stops: his next run announces it — in its place.
    const listen = bob.addresses.map((x) => x.replace(/\/p2p\/[^/]+$/, ''))
    await bob.stop()
    const back = await bobOn(cluster, bStore, clock, listen)
    const shown = collect(back, 'message')
    // Alice reaches the restarted bob (where he listened before), so his resend request finds her connected.
    await until(
      async () => (await alice.typing(bHex, true)) && back.connectionsTo(alice.peerId).length > 0,
      WAIT_MS,
      'alice connected to the restarted bob'
    )
    expect(shown).toEqual([])
    clock.skew += DEFAULT_GAP_GRACE_MS + 1_000
    await until(() => shown.length === 2, WAIT_MS, 'the resent text and the held one shown')
    expect(shown.map((m) => [m.text, m.replayed === true])).toEqual([
      ['missing', false],
      ['after', true]
    ])
    expect(await stored(back, aHex)).toEqual(['hello', 'missing', 'after'])
  })

  it('a sender that is not connected any more holds nothing past the grace period', async () => {
    const { alice, clock, shown } = await gapAtBob(['missing'])
    await alice.stop()
    clock.skew += DEFAULT_GAP_GRACE_MS + 1_000
    await until(() => shown.length === 2, WAIT_MS, 'the held text shown after the grace period')
    expect(shown.map((m) => m.text)).toEqual(['hello', 'after'])
  })
})
