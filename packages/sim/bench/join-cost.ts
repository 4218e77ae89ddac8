/**
 * What one live join costs as the network grows (one thread, dht-lookup's settings): after every STEP joins (and their
 * first publishes), CPU-seconds per join, connections opened per join (both ends counted), open connections per node,
 * streams opened per join by protocol, and RSS. Measures the figures in docs/simulation.md ("Where a live join's cost
 * comes from"). N=150 STEP=25 by default: `pnpm exec node packages/sim/bench/join-cost.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Connection } from '@libp2p/interface'
import { DEFAULT_LINK_MODEL, SimWorld } from '../src/index.ts'

const N = Number(process.env.N ?? 150)
const STEP = Number(process.env.STEP ?? 25)
const dir = await mkdtemp(join(tmpdir(), 'join-cost-'))
let opened = 0
const streams = new Map<string, number>()
const countStreams = (c: Connection): void => {
  const newStream = c.newStream.bind(c)
  c.newStream = ((protocols, options) => {
    const p = (Array.isArray(protocols) ? protocols[0] : protocols) as string
    streams.set(p, (streams.get(p) ?? 0) + 1)
    return newStream(protocols, options)
  }) as Connection['newStream']
}
const world = await SimWorld.start(
  {
    seed: process.env.SEED ?? '1',
    nodes: N,
    relays: 0,
    model: DEFAULT_LINK_MODEL,
    dataDir: dir,
    gossip: false,
    onNodeStart: (_, node) =>
      node.libp2p.addEventListener('connection:open', (e) => {
        opened++
        countStreams(e.detail)
      })
  },
  0
)
let cpu = process.cpuUsage()
let t = performance.now()
let openedBefore = 0
let streamsBefore = new Map<string, number>()
for (let n = STEP; n <= N; n += STEP) {
  await world.grow(n)
  const end = Date.now() + 120_000
  while (world.upNodes().some((i) => (world.probe(i)?.puts ?? 0) === 0) && Date.now() < end)
    await new Promise((r) => setTimeout(r, 200))
  const used = process.cpuUsage(cpu)
  const open = world.upNodes().reduce((a, i) => a + (world.node(i)?.libp2p.getConnections().length ?? 0), 0)
  const perJoin = Object.fromEntries(
    [...streams].map(([p, c]) => [p.replace('/parley-sim', ''), +((c - (streamsBefore.get(p) ?? 0)) / STEP).toFixed(1)])
  )
  console.log(
    JSON.stringify({
      n,
      cpu_s_per_join: +((used.user + used.system) / 1e6 / STEP).toFixed(2),
      wall_s_per_join: +((performance.now() - t) / 1000 / STEP).toFixed(2),
      connection_ends_opened_per_join: +((opened - openedBefore) / STEP).toFixed(1),
      open_connections_per_node: +(open / n).toFixed(1),
      streams_per_join: perJoin,
      rss_mib: Math.round(process.memoryUsage().rss / 2 ** 20)
    })
  )
  cpu = process.cpuUsage()
  t = performance.now()
  openedBefore = opened
  streamsBefore = new Map(streams)
}
await world.stop()
await rm(dir, { recursive: true, force: true })
process.exit(0)
