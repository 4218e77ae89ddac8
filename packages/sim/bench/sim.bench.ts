/**
 * bench:sim — how far one machine goes. For each run (default 100 and 300 nodes joining live, then 100, 300 and 1,000
 * with a converged start; BENCH_SIM_SIZES=100,300,1000c to change, `c` = converged): a dht-lookup run (one stage,
 * BENCH_SIM_LOOKUPS lookups) on real messengers spread over BENCH_SIM_WORKERS worker
 * threads (default: one per core), reporting nodes started per second, RSS per node, lookup success and the run's
 * wall time. Baseline, in the same process: bare libp2p nodes in the main thread (the same shaped transport and
 * simulation settings, Noise, Yamux, identify, ping and kad-dht under the sim prefix — no messenger) started and
 * joined the same way; the messenger figures are printed as ratios against it, start rates per thread.
 * BENCH_SIM_OUT=<dir> keeps the last run's report there. Last line: one JSON object for the last run (by default the
 * 1,000-node one).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { SIM_CONNECTION_MONITOR } from '../src/constants.ts'
import {
  DEFAULT_JOIN_CONCURRENCY,
  DEFAULT_LINK_MODEL,
  Fabric,
  planTopology,
  Rng,
  runSimulation,
  SIM_PROTOCOL_PREFIX,
  simTransport
} from '../src/index.ts'
import { quietLogger } from '../src/nodes.ts'

/**
 * Runs, in order: a size, with `c` for a converged start (dht-lookup --converged 1: routing tables and records built from
 * the seed, lookups live; see docs/simulation.md). A live 1,000-node run takes about an hour on 2 cores.
 */
const runs = (process.env.BENCH_SIM_SIZES ?? '100,300,100c,300c,1000c').split(',').map((x) => {
  const m = /^\s*(\d+)(c?)\s*$/.exec(x)
  if (m === null) throw new Error(`BENCH_SIM_SIZES: "${x}" is not a size (e.g. 300) or a converged size (e.g. 1000c)`)
  return { n: Number(m[1]), converged: m[2] === 'c' }
})
const lookups = Number(process.env.BENCH_SIM_LOOKUPS ?? 100)
const BASELINE_NODES = Number(process.env.BENCH_SIM_BASELINE ?? 100)
const workers = Number(process.env.BENCH_SIM_WORKERS ?? availableParallelism())
const keep = process.env.BENCH_SIM_OUT

/** Bare kad-dht nodes on the fabric, joined like the simulator's (batches, seeded bootstrap peers). */
async function baseline(n: number): Promise<{ nodesPerS: number; rssMiBPerNode: number }> {
  const fabric = new Fabric('bench', DEFAULT_LINK_MODEL, `bench-baseline-${process.pid}`)
  const rng = new Rng('bench', 'baseline')
  const topology = planTopology('bench', n, 3, DEFAULT_JOIN_CONCURRENCY)
  const nodes: Libp2p[] = []
  const rss0 = process.memoryUsage().rss
  const t0 = performance.now()
  const start = async (i: number) => {
    const node = await createLibp2p({
      privateKey: await generateKeyPairFromSeed('Ed25519', rng.fork(`n/${i}`).bytes(32)),
      addresses: { listen: [fabric.address(i)] },
      transports: [simTransport(fabric, i)],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionMonitor: { enabled: SIM_CONNECTION_MONITOR },
      ...quietLogger(),
      services: {
        identify: identify(),
        ping: ping(),
        dht: kadDHT({
          protocol: `${SIM_PROTOCOL_PREFIX}/kad/1.0.0`,
          clientMode: false,
          peerInfoMapper: passthroughMapper
        })
      }
    })
    nodes[i] = node
    await Promise.allSettled(
      (topology[i] ?? []).map((p) => node.dial(multiaddr(`${fabric.address(p)}/p2p/${nodes[p]!.peerId}`)))
    )
  }
  await start(0)
  for (let i = 1; i < n; i += DEFAULT_JOIN_CONCURRENCY) {
    await Promise.all(Array.from({ length: Math.min(DEFAULT_JOIN_CONCURRENCY, n - i) }, (_, k) => start(i + k)))
  }
  const s = (performance.now() - t0) / 1000
  const rss = (process.memoryUsage().rss - rss0) / 2 ** 20 / n
  await Promise.allSettled(nodes.map((x) => x.stop()))
  return { nodesPerS: n / s, rssMiBPerNode: rss }
}

const base = await baseline(BASELINE_NODES)
console.log(
  `baseline: ${BASELINE_NODES} bare kad-dht nodes: ${base.nodesPerS.toFixed(1)} nodes/s, ${base.rssMiBPerNode.toFixed(1)} MiB RSS/node`
)
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; ${new Date().toISOString()}`
)
console.log(`messenger runs: ${workers} worker thread(s); started/s ×baseline compares the rate per thread`)
console.log(
  'nodes  start      started/s  (×baseline)  MiB/node  (×baseline)  join_s  wait_s  wall_s  lookups  success  hops  p50_ms  p99_ms'
)
let last: Record<string, unknown> = {}
for (const [k, { n, converged }] of runs.entries()) {
  const largest = k === runs.length - 1
  const start = converged ? 'converged' : 'live'
  const t0 = performance.now()
  let shown = 0
  let lastPhase = ''
  const out = largest && keep !== undefined ? keep : await mkdtemp(join(tmpdir(), 'bench-sim-'))
  const run = await runSimulation({
    scenario: 'dht-lookup',
    params: { nodes: n, seed: 'bench', stages: 1, lookups, duration: 10, workers, converged: converged ? 1 : 0 },
    out,
    force: true,
    onProgress: (phase, done, total) => {
      // joins report every batch end (1, 9, 17, …): a line each time another hundred is done
      if (phase !== lastPhase) {
        shown = 0
        lastPhase = phase
      }
      if (done === total || Math.floor(done / 100) > Math.floor(shown / 100)) {
        process.stderr.write(
          `  n=${n} ${start} ${phase} ${done}/${total} ${((performance.now() - t0) / 1000).toFixed(0)} s\n`
        )
      }
      shown = done
    }
  })
  if (out !== keep) await rm(out, { recursive: true, force: true })
  const r = run.record.result
  const w = r.world
  const s = r.summary
  const f = (x: unknown, d = 1) => (typeof x === 'number' ? x.toFixed(d) : '–')
  console.log(
    [
      String(n).padStart(5),
      start.padEnd(9),
      f(w.nodesPerSecond, 2).padStart(10),
      `(${f(w.nodesPerSecond / workers / base.nodesPerS, 2)}×)`.padStart(12),
      f(w.rssMiBPerNode).padStart(9),
      `(${f(w.rssMiBPerNode / base.rssMiBPerNode, 2)}×)`.padStart(12),
      f(w.joinWallS).padStart(7),
      f(w.admissionWaitS).padStart(7),
      f(run.record.wallS).padStart(7),
      String(s.lookups).padStart(8),
      f(s.lookup_success_rate, 3).padStart(8),
      f(s.hops_mean, 2).padStart(5),
      f(s.latency_p50_ms, 0).padStart(7),
      f(s.latency_p99_ms, 0).padStart(7)
    ].join(' ')
  )
  last = {
    nodes: n,
    start,
    workers,
    wall_s: Math.round(run.record.wallS * 10) / 10,
    join_s: Math.round(w.joinWallS * 10) / 10,
    nodes_per_s: Math.round(w.nodesPerSecond * 100) / 100,
    admission_wait_s: Math.round((w.admissionWaitS ?? 0) * 10) / 10,
    rss_mib_per_node: Math.round(w.rssMiBPerNode * 10) / 10,
    peak_rss_mib: Math.round(run.record.peakRssMiB),
    lookup_success_rate: s.lookup_success_rate,
    hops_mean: s.hops_mean,
    latency_p50_ms: s.latency_p50_ms,
    latency_p99_ms: s.latency_p99_ms,
    unpublished_nodes: s.unpublished_nodes,
    baseline_nodes_per_s: Math.round(base.nodesPerS * 100) / 100,
    baseline_rss_mib_per_node: Math.round(base.rssMiBPerNode * 10) / 10
  }
}
console.log(JSON.stringify(last))
setTimeout(() => process.exit(0), 500).unref()
