/**
 * Converged start (dht-lookup `--converged 1`, src/converged.ts): node keys known from the seed before any node starts;
 * every routing table holds every other node without a ping or a walk; every record stored at exactly its k closest
 * nodes through their own PUT handler (which validates it); lookups live, in one thread and across worker threads.
 * These tests also fail if kad-dht's internals the converged start reaches (routing table, refresh, query manager,
 * RPC handlers) move in an upgrade.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PeerId } from '@libp2p/interface'
import { type KadDHT, MessageType } from '@libp2p/kad-dht'
import { ContactNotFoundError } from '@parley/network'
import { dhtKeyForIdentity } from '@parley/wire'
import { afterEach, describe, expect, it } from 'vitest'
import { CONVERGED_MAINTENANCE_OFF_MS } from '../src/constants.ts'
import { Directory, Placement, storeRecord } from '../src/converged.ts'
import { ConvergedStartError, InvalidParameterError } from '../src/errors.ts'
import type { LinkModel } from '../src/model.ts'
import { Rng } from '../src/rng.ts'
import { prepare } from '../src/run.ts'
import { ShardedWorld } from '../src/shards.ts'
import { lookupFailure, SimWorld } from '../src/world.ts'
import { expectLookupsFind, untilPublished } from './helpers.ts'

const model: LinkModel = { latency: { kind: 'constant', ms: 5 }, jitterMs: 0, loss: 0, bandwidthBps: 0 }
const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c().catch(() => {})
})

async function tmp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sim-converged-'))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** What node `dht` answers to a GET_VALUE for `key` (its own handler): the record it holds, if any. */
async function held(dht: KadDHT, asker: PeerId, key: Uint8Array): Promise<Uint8Array | undefined> {
  const rpc = (dht as unknown as { rpc: { handleMessage(p: PeerId, m: object): Promise<{ record?: Uint8Array }> } }).rpc
  const answer = await rpc.handleMessage(asker, { type: MessageType.GET_VALUE, key })
  return answer?.record
}

describe('converged start', () => {
  it('one thread: full routing tables without walks or pings, each record at exactly its k closest nodes, lookups find every record', async () => {
    const n = 16
    const k = 4
    const world = await SimWorld.start(
      {
        seed: 'conv',
        nodes: n,
        relays: 0,
        model,
        dataDir: await tmp(),
        gossip: false,
        kBucketSize: k,
        converged: true
      },
      n
    )
    cleanup.push(() => world.stop())
    // The directory knows every node's peer id from the seed alone: the ids the nodes started with.
    const dir = await Directory.of(
      n,
      (i) => new Rng('conv', 'nodes').fork(`node/${i}`),
      (i) => world.fabric.address(i)
    )
    for (let i = 0; i < n; i++) expect(world.node(i)!.libp2p.peerId.equals(dir.peer(i))).toBe(true)
    // Every table holds all the others; maintenance is off.
    for (let i = 0; i < n; i++) {
      const dht = world.node(i)!.libp2p.services.dht as unknown as {
        routingTable: { size: number }
        routingTableRefresh: { refreshInterval: number }
      }
      expect(dht.routingTable.size).toBe(n - 1)
      expect(dht.routingTableRefresh.refreshInterval).toBe(CONVERGED_MAINTENANCE_OFF_MS)
    }
    // No walk and no liveness ping built those tables: the only connections are the seeded bootstrap dials (≤ 3 per
    // node), where a live join of 16 nodes ends near a full mesh.
    const ends = world.upNodes().reduce((a, i) => a + world.node(i)!.libp2p.getConnections().length, 0)
    expect(ends).toBeLessThanOrEqual(2 * 3 * n)
    // Records: each node's published record is held by exactly its k closest nodes, and by itself (kad-dht's put
    // stores locally first).
    await untilPublished(world, 60_000)
    await world.settle()
    for (const i of [0, 5, 11]) {
      const key = dhtKeyForIdentity(world.node(i)!.messenger.identityKey)
      const holders = [...new Set([i, ...dir.closest(key, world.upNodes(), k)])]
      expect(holders.length).toBeGreaterThanOrEqual(k)
      for (let j = 0; j < n; j++) {
        const record = await held(world.node(j)!.libp2p.services.dht, dir.peer(i), key)
        expect(record !== undefined, `node ${j} holds node ${i}'s record`).toBe(holders.includes(j))
      }
    }
    // Lookups are live walks.
    await expectLookupsFind(
      world,
      [
        [1, 9],
        [14, 3],
        [7, 0]
      ],
      1
    )
  }, 180_000)

  it('a holder validates a placed record as a PUT over the wire: a forged one is refused and not stored', async () => {
    const world = await SimWorld.start(
      { seed: 'conv-forged', nodes: 4, relays: 0, model, dataDir: await tmp(), gossip: false, converged: true },
      4
    )
    cleanup.push(() => world.stop())
    const dht = world.node(2)!.libp2p.services.dht
    const key = dhtKeyForIdentity(world.node(1)!.messenger.identityKey)
    const from = world.node(1)!.libp2p.peerId
    await expect(storeRecord(dht, from, key, new Uint8Array([1, 2, 3]))).rejects.toThrow()
    expect(await held(dht, from, key)).toBeUndefined()
  }, 120_000)

  it('a failed lookup says why: out of time (a 150 ms limit against 400 ms links); the other reasons as the errors give them', async () => {
    // k = 1: each record is held by one node only, so a lookup from any other node needs the network.
    const slow: LinkModel = { ...model, latency: { kind: 'constant', ms: 400 } }
    const world = await SimWorld.start(
      {
        seed: 'conv-fail',
        nodes: 4,
        relays: 0,
        model: slow,
        dataDir: await tmp(),
        gossip: false,
        converged: true,
        kBucketSize: 1
      },
      4
    )
    cleanup.push(() => world.stop())
    await untilPublished(world, 60_000)
    await world.settle()
    const outcomes = []
    for (const from of [0, 2, 3]) outcomes.push(await world.lookup(from, 1, 150, AbortSignal.timeout(60_000)))
    for (const r of outcomes) expect(r?.ok === true || r?.failure === 'timeout', JSON.stringify(r)).toBe(true)
    expect(outcomes.filter((r) => r?.failure === 'timeout').length).toBeGreaterThanOrEqual(2)
    expect(outcomes.filter((r) => r?.ok === true).every((r) => r?.failure === undefined)).toBe(true)
    // The other reasons, as the lookup's errors give them.
    const ran = new AbortController().signal
    expect(lookupFailure(new ContactNotFoundError(), ran)).toBe('not-found')
    expect(lookupFailure(new ContactNotFoundError(), AbortSignal.abort())).toBe('timeout')
    expect(lookupFailure(Object.assign(new Error('x'), { code: 'SomeCode' }), ran)).toBe('SomeCode')
    expect(lookupFailure(new TypeError('x'), ran)).toBe('TypeError')
  }, 180_000)

  it('two worker threads: tables and records across the threads, lookups succeed', async () => {
    const world = await ShardedWorld.start(
      {
        seed: 'conv-shards',
        nodes: 12,
        relays: 0,
        model,
        dataDir: await tmp(),
        gossip: false,
        workers: 2,
        converged: true
      },
      12
    )
    cleanup.push(() => world.stop())
    await untilPublished(world, 60_000)
    await world.settle()
    // Node i runs in worker i mod 2: each pair below crosses the threads.
    await expectLookupsFind(world, [
      [0, 1],
      [3, 10],
      [11, 4]
    ])
  }, 180_000)

  it('placement: a record goes to the k closest among the nodes up; one no holder accepts fails with a typed error', async () => {
    const dir = await Directory.of(
      6,
      (i) => new Rng('conv-place', 'nodes').fork(`node/${i}`),
      (i) => `/memory/conv-place-${i}`
    )
    const key = new TextEncoder().encode('/parley/some-key')
    const stored: number[] = []
    const ok = new Placement(dir, 2, async (holder) => {
      stored.push(holder)
    })
    ok.seen([0, 1, 2, 3, 4, 5])
    await ok.put(0, key, new Uint8Array([1]), [0, 1, 2, 3, 4])
    // The k closest up, and the publisher (kad-dht's put stores locally first).
    expect(stored.sort()).toEqual([...new Set([0, ...dir.closest(key, [0, 1, 2, 3, 4], 2)])].sort())
    expect(dir.closest(key, [0, 1, 2, 3, 4], 2)).not.toContain(5)
    const refused = new Placement(dir, 2, async () => {
      throw new Error('refused')
    })
    const err = await refused.put(0, key, new Uint8Array([1]), [0, 1, 2]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConvergedStartError)
    expect((err as ConvergedStartError).code).toBe('ConvergedStart')
  })

  it('full buckets: records go to the closest nodes some table holds (a walk reaches no other), and every lookup finds them', async () => {
    // k = 1: kad-dht 16's trie stops at 64 buckets, so two nodes under one 6-bit prefix do not both fit in a table,
    // and the one every table left out can be found by no walk. Its being a record's true closest node must not lose
    // that record.
    const n = 24
    const world = await SimWorld.start(
      {
        seed: 'conv-full',
        nodes: n,
        relays: 0,
        model,
        dataDir: await tmp(),
        gossip: false,
        converged: true,
        kBucketSize: 1
      },
      n
    )
    cleanup.push(() => world.stop())
    const dir = await Directory.of(
      n,
      (i) => new Rng('conv-full', 'nodes').fork(`node/${i}`),
      (i) => world.fabric.address(i)
    )
    const inTables = new Set<number>()
    for (let i = 0; i < n; i++) {
      const kb = (
        world.node(i)!.libp2p.services.dht as unknown as { routingTable: { kb: { get(id: Uint8Array): unknown } } }
      ).routingTable.kb
      for (let j = 0; j < n; j++) if (kb.get(dir.kadId(j)) !== undefined) inTables.add(j)
    }
    const unseen = [...Array(n).keys()].filter((j) => !inTables.has(j))
    expect(unseen.length, 'nodes no table holds').toBeGreaterThan(0)
    await untilPublished(world, 60_000)
    await world.settle()
    // The case this is about: records whose true closest node is one no table holds. Each must be held by the
    // closest node that some table holds (where a put's walk would have left it), not only by the publisher.
    const keyOf = (i: number) => dhtKeyForIdentity(world.node(i)!.messenger.identityKey)
    const reachable = world.upNodes().filter((j) => inTables.has(j))
    const hidden = [...Array(n).keys()].filter(
      (i) =>
        unseen.includes(dir.closest(keyOf(i), world.upNodes(), 1)[0]!) && dir.closest(keyOf(i), reachable, 1)[0] !== i
    )
    expect(hidden.length, 'records whose closest node is in no table').toBeGreaterThan(0)
    for (const i of hidden) {
      const holder = dir.closest(keyOf(i), reachable, 1)[0]!
      const dht = world.node(holder)!.libp2p.services.dht
      expect(await held(dht, dir.peer(i), keyOf(i)), `node ${holder} holds node ${i}'s record`).toBeDefined()
      const from = (i + 1) % n
      const r = await world.lookup(from, i, 30_000, AbortSignal.timeout(60_000))
      expect(r, `lookup ${from} → ${i}`).toMatchObject({ ok: true })
    }
    // Placement: never a node no table holds (here: the two truly closest), always the publisher itself.
    const p = new Placement(dir, 2, async () => {})
    const key = new TextEncoder().encode('/parley/k')
    const truly = dir.closest(key, [1, 2, 3, 4, 5, 6], 2)
    const tabled = [1, 2, 3, 4, 5, 6].filter((j) => !truly.includes(j))
    p.seen(tabled)
    expect(p.holders(0, key, [0, 1, 2, 3, 4, 5, 6]).sort()).toEqual([0, ...dir.closest(key, tabled, 2)].sort())
  }, 240_000)

  it('--converged is 0 or 1', () => {
    expect(() => prepare({ scenario: 'dht-lookup', params: { nodes: 10, converged: 2 } })).toThrow(
      InvalidParameterError
    )
    expect(() => prepare({ scenario: 'dht-lookup', params: { nodes: 10, converged: 1 } })).not.toThrow()
  })
})
