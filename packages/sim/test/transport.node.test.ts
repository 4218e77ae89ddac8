/**
 * The shaped in-process transport: real libp2p nodes (Noise, Yamux, ping) on `/memory` addresses under the network model.
 * Round trips follow each link's own latency, loss costs retransmission time, partitions refuse and cut, a crash cuts.
 */
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { noise } from '@libp2p/noise'
import { type Ping, ping } from '@libp2p/ping'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { MIN_RETRANSMIT_MS } from '../src/constants.ts'
import type { LinkModel } from '../src/model.ts'
import { Rng } from '../src/rng.ts'
import { Fabric, simTransport } from '../src/transport.ts'

const started: Libp2p[] = []
afterEach(async () => {
  await Promise.allSettled(started.splice(0).map((n) => n.stop()))
})

let tags = 0
async function net(model: LinkModel, count: number): Promise<{ fabric: Fabric; nodes: Array<Libp2p<{ ping: Ping }>> }> {
  const fabric = new Fabric('transport-test', model, `transport-test-${process.pid}-${tags++}`)
  const rng = new Rng('transport-test', 'keys')
  const nodes: Array<Libp2p<{ ping: Ping }>> = []
  for (let i = 0; i < count; i++) {
    const node = await createLibp2p({
      privateKey: await generateKeyPairFromSeed('Ed25519', rng.bytes(32)),
      addresses: { listen: [fabric.address(i)] },
      transports: [simTransport(fabric, i)],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { ping: ping() }
    })
    started.push(node)
    nodes.push(node)
  }
  return { fabric, nodes }
}

const addr = (fabric: Fabric, nodes: Libp2p[], i: number) => multiaddr(`${fabric.address(i)}/p2p/${nodes[i]!.peerId}`)

async function medianRtt(node: Libp2p<{ ping: Ping }>, to: ReturnType<typeof multiaddr>, n = 5): Promise<number> {
  const rtts: number[] = []
  for (let i = 0; i < n; i++) rtts.push(await node.services.ping.ping(to))
  return rtts.sort((a, b) => a - b)[Math.floor(n / 2)]!
}

describe('shaped in-memory transport', () => {
  it('a ping round trip costs about twice the link latency, each link its own', async () => {
    const model: LinkModel = { latency: { kind: 'uniform', min: 20, max: 120 }, jitterMs: 0, loss: 0, bandwidthBps: 0 }
    const { fabric, nodes } = await net(model, 3)
    for (const [a, b] of [
      [0, 1],
      [0, 2]
    ] as const) {
      const rtt = await medianRtt(nodes[a]!, addr(fabric, nodes, b))
      const expected = 2 * fabric.links.latency(a, b)
      expect(rtt).toBeGreaterThanOrEqual(expected - 2)
      expect(rtt).toBeLessThan(expected + 60)
    }
    expect(fabric.links.latency(0, 1)).not.toBeCloseTo(fabric.links.latency(0, 2), 0)
  })

  it('loss shows as retransmission delay: the connection survives and late chunks cost at least MIN_RETRANSMIT_MS', async () => {
    const model: LinkModel = { latency: { kind: 'constant', ms: 5 }, jitterMs: 0, loss: 0.1, bandwidthBps: 0 }
    const { fabric, nodes } = await net(model, 2)
    const rtts: number[] = []
    for (let i = 0; i < 8; i++) {
      rtts.push(await nodes[0]!.services.ping.ping(addr(fabric, nodes, 1), { signal: AbortSignal.timeout(40_000) }))
    }
    expect(fabric.stats.retransmits).toBeGreaterThan(0)
    expect(Math.max(...rtts)).toBeGreaterThanOrEqual(MIN_RETRANSMIT_MS)
    expect(nodes[0]!.getConnections(nodes[1]!.peerId).length).toBe(1)
  }, 120_000)

  it('bandwidth: a node’s uplink serialises what it sends', async () => {
    const model: LinkModel = { latency: { kind: 'constant', ms: 1 }, jitterMs: 0, loss: 0, bandwidthBps: 20_000 }
    const { fabric, nodes } = await net(model, 2)
    const bytesBefore = fabric.stats.bytes
    const rtt = await medianRtt(nodes[0]!, addr(fabric, nodes, 1), 3)
    // A ping is 32 bytes each way plus framing: at 20 kB/s that alone is a few ms, far above 2 × 1 ms.
    expect(fabric.stats.bytes).toBeGreaterThan(bytesBefore)
    expect(rtt).toBeGreaterThanOrEqual((2 * 32 * 1000) / 20_000)
  })

  it('a partition refuses dials across it and cuts the connections across it; healing lets them dial again', async () => {
    const model: LinkModel = { latency: { kind: 'constant', ms: 2 }, jitterMs: 0, loss: 0, bandwidthBps: 0 }
    const { fabric, nodes } = await net(model, 3)
    await nodes[0]!.services.ping.ping(addr(fabric, nodes, 1))
    await nodes[0]!.services.ping.ping(addr(fabric, nodes, 2))
    fabric.partition((i) => (i === 2 ? 1 : 0))
    expect(fabric.stats.connectionsCut).toBeGreaterThan(0)
    await expect(nodes[0]!.services.ping.ping(addr(fabric, nodes, 2))).rejects.toThrow()
    expect(await nodes[0]!.services.ping.ping(addr(fabric, nodes, 1))).toBeGreaterThanOrEqual(0)
    fabric.heal()
    expect(await nodes[0]!.services.ping.ping(addr(fabric, nodes, 2))).toBeGreaterThanOrEqual(0)
  })

  it('a crash cuts every connection of the node at once and it cannot be dialled until revived', async () => {
    const model: LinkModel = { latency: { kind: 'constant', ms: 2 }, jitterMs: 0, loss: 0, bandwidthBps: 0 }
    const { fabric, nodes } = await net(model, 3)
    await nodes[0]!.services.ping.ping(addr(fabric, nodes, 1))
    await nodes[2]!.services.ping.ping(addr(fabric, nodes, 1))
    expect(fabric.connectionsOf(1)).toBeGreaterThan(0)
    fabric.crash(1)
    expect(fabric.connectionsOf(1)).toBe(0)
    await expect(nodes[0]!.services.ping.ping(addr(fabric, nodes, 1))).rejects.toThrow()
    fabric.revive(1)
    expect(await nodes[0]!.services.ping.ping(addr(fabric, nodes, 1))).toBeGreaterThanOrEqual(0)
  })
})
