/**
 * Runs spread over worker threads: a connection whose ends live in two threads (two Fabrics joined by a MessagePort,
 * real libp2p with Noise and Yamux on both ends) keeps the link model and is cut by a crash on either side; a world of
 * real messengers over two worker threads publishes and finds records across the threads; the load gauge that admits
 * joins sees a busy loop; and --workers is checked.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MessageChannel } from 'node:worker_threads'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { noise } from '@libp2p/noise'
import { type Ping, ping } from '@libp2p/ping'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import {
  JOIN_MAX_LOOP_LAG_MS,
  JOIN_MAX_LOOP_UTILIZATION,
  LOAD_WINDOW_MS,
  MAX_WORKERS,
  SIM_CONNECTION_MONITOR
} from '../src/constants.ts'
import { PortCrossLink } from '../src/cross-link.ts'
import { InvalidParameterError } from '../src/errors.ts'
import { LoadGauge } from '../src/load.ts'
import type { LinkModel } from '../src/model.ts'
import { SILENT_LOGGER } from '../src/nodes.ts'
import { checkCommon } from '../src/params.ts'
import { Rng } from '../src/rng.ts'
import { prepare } from '../src/run.ts'
import { ShardedWorld } from '../src/shards.ts'
import { Fabric, simTransport } from '../src/transport.ts'
import { expectLookupsFind, untilPublished } from './helpers.ts'

const started: Array<{ stop(): unknown }> = []
afterEach(async () => {
  await Promise.allSettled(started.splice(0).map(async (n) => n.stop()))
})

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('runs over worker threads', () => {
  it('a connection across two threads: real Noise and Yamux on both ends, the link’s latency, cut by a crash', async () => {
    const model: LinkModel = { latency: { kind: 'constant', ms: 15 }, jitterMs: 0, loss: 0, bandwidthBps: 0 }
    const tag = `shards-test-${process.pid}`
    // Two "workers" of two, in this thread: each its own Fabric (same seed, model and tag), joined by one port pair.
    const fabrics = [new Fabric('shards', model, tag), new Fabric('shards', model, tag)]
    const { port1, port2 } = new MessageChannel()
    new PortCrossLink(fabrics[0]!, 0, 2, new Map([[1, port1]]), SILENT_LOGGER)
    new PortCrossLink(fabrics[1]!, 1, 2, new Map([[0, port2]]), SILENT_LOGGER)
    const rng = new Rng('shards', 'keys')
    const nodes: Array<Libp2p<{ ping: Ping }>> = []
    for (const i of [0, 1]) {
      const node = await createLibp2p({
        privateKey: await generateKeyPairFromSeed('Ed25519', rng.bytes(32)),
        addresses: { listen: [fabrics[i]!.address(i)] },
        transports: [simTransport(fabrics[i]!, i)],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionMonitor: { enabled: SIM_CONNECTION_MONITOR },
        services: { ping: ping() }
      })
      started.push(node)
      nodes.push(node)
    }
    const to1 = multiaddr(`${fabrics[0]!.address(1)}/p2p/${nodes[1]!.peerId}`)
    const rtts: number[] = []
    for (let k = 0; k < 5; k++) rtts.push(await nodes[0]!.services.ping.ping(to1))
    const rtt = rtts.sort((a, b) => a - b)[2]!
    expect(rtt).toBeGreaterThanOrEqual(2 * 15 - 2)
    expect(rtt).toBeLessThan(2 * 15 + 60)
    // Each thread tracks its own node's end.
    expect(fabrics[0]!.connectionsOf(0)).toBe(1)
    expect(fabrics[1]!.connectionsOf(1)).toBe(1)
    expect(fabrics[0]!.connectionsOf(1)).toBe(0)
    // Node 1 crashes in its thread: the end in the other thread is reset too.
    fabrics[1]!.crash(1)
    expect(fabrics[1]!.connectionsOf(1)).toBe(0)
    await until(() => nodes[0]!.getConnections(nodes[1]!.peerId).length === 0, 5_000)
    expect(fabrics[0]!.connectionsOf(0)).toBe(0)
    port1.close()
  })

  it('12 messengers over 2 worker threads publish their records and find each other’s across the threads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sim-shards-'))
    const model: LinkModel = { latency: { kind: 'constant', ms: 5 }, jitterMs: 0, loss: 0, bandwidthBps: 0 }
    const world = await ShardedWorld.start(
      { seed: 'shards', nodes: 12, relays: 0, model, dataDir: dir, gossip: false, workers: 2 },
      12
    )
    started.push({ stop: () => world.stop().then(() => rm(dir, { recursive: true, force: true })) })
    expect(world.upNodes()).toHaveLength(12)
    await untilPublished(world, 120_000)
    // Node i runs in worker i mod 2: each pair below crosses the threads.
    await expectLookupsFind(
      world,
      [
        [0, 1],
        [3, 10],
        [11, 4]
      ],
      1
    )
    // A crashed node is skipped as a source and as a target.
    await world.crash(5, false)
    expect(world.isUp(5)).toBe(false)
    expect(await world.lookup(5, 2, 30_000, AbortSignal.timeout(60_000))).toBeUndefined()
    expect(await world.lookup(2, 5, 30_000, AbortSignal.timeout(60_000))).toBeUndefined()
  }, 240_000)

  it('the load gauge sees a busy event loop (joins wait) and an idle one (joins go ahead)', async () => {
    const gauge = new LoadGauge()
    try {
      // Busy for two full windows: spin in slices, letting the gauge's timer run in between.
      const end = performance.now() + 2.5 * LOAD_WINDOW_MS
      while (performance.now() < end) {
        const slice = performance.now() + 100
        while (performance.now() < slice) {}
        await new Promise((r) => setImmediate(r))
      }
      expect(gauge.utilization).toBeGreaterThan(JOIN_MAX_LOOP_UTILIZATION)
      expect(gauge.hasRoom(JOIN_MAX_LOOP_UTILIZATION, JOIN_MAX_LOOP_LAG_MS)).toBe(false)
      // A timer could not fire during a slice: the longest stall shows it.
      expect(gauge.worstMs).toBeGreaterThanOrEqual(50)
      // Idle for two windows: the loop waits for timers only.
      await new Promise((r) => setTimeout(r, 2.5 * LOAD_WINDOW_MS))
      expect(gauge.utilization).toBeLessThan(JOIN_MAX_LOOP_UTILIZATION / 2)
    } finally {
      gauge.stop()
    }
  })

  it('--workers: 1 to MAX_WORKERS, and only for scenarios that allow it', () => {
    expect(checkCommon({ nodes: 10 }).workers).toBe(1)
    expect(checkCommon({ nodes: 10, workers: MAX_WORKERS }).workers).toBe(MAX_WORKERS)
    expect(() => checkCommon({ nodes: 10, workers: MAX_WORKERS + 1 })).toThrow(InvalidParameterError)
    expect(() => checkCommon({ nodes: 10, workers: 0 })).toThrow(InvalidParameterError)
    expect(prepare({ scenario: 'dht-lookup', params: { nodes: 10, workers: 2 } }).params.workers).toBe(2)
    expect(prepare({ scenario: 'delivery', params: { nodes: 10, workers: 2 } }).params.workers).toBe(2)
    // relay-failure and groups reach into node objects (mailboxes, relays, gossipsub meshes): one thread only.
    for (const scenario of ['relay-failure', 'groups']) {
      let err: unknown
      try {
        prepare({ scenario, params: { nodes: 10, workers: 2 } })
      } catch (e) {
        err = e
      }
      expect(err, scenario).toBeInstanceOf(InvalidParameterError)
      expect((err as InvalidParameterError).parameter).toBe('workers')
    }
  })
})
