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
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
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
const specs = (process.env.BENCH_SIM_SIZES ?? '100,300,100c,300c,1000c').split(',').map((x) => x.trim())
for (const spec of specs) parseRun(spec)
/** Marks the child's result line on its stdout. */
const RESULT = 'BENCH_SIM_RESULT '

/** `300` (a live run of 300 nodes) or `1000c` (a converged start). */
function parseRun(spec: string): { n: number; converged: boolean } {
  const m = /^(\d+)(c?)$/.exec(spec)
  if (m === null)
    throw new Error(`BENCH_SIM_SIZES: "${spec}" is not a size (e.g. 300) or a converged size (e.g. 1000c)`)
  return { n: Number(m[1]), converged: m[2] === 'c' }
}
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

/** What one run reports to the parent (a child process per run: see below). */
interface RunFigures {
  wallS: number
  peakRssMiB: number
  world: { nodesPerSecond: number; rssMiBPerNode: number; joinWallS: number; admissionWaitS?: number }
  summary: Record<string, number | null>
}

/** One dht-lookup run in this process; progress on stderr. */
async function oneRun(n: number, converged: boolean, out: string): Promise<RunFigures> {
  const start = converged ? 'converged' : 'live'
  const t0 = performance.now()
  let shown = 0
  let lastPhase = ''
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
  return {
    wallS: run.record.wallS,
    peakRssMiB: run.record.peakRssMiB,
    world: run.record.result.world,
    summary: run.record.result.summary
  }
}

/**
 * Each run in a fresh child process: a process's RSS does not shrink back after a run, so runs one after another in
 * one process measured memory per node against the previous run's leftovers (negative figures once).
 */
const CHILD = process.env.BENCH_SIM_CHILD
if (CHILD !== undefined) {
  const { n, converged } = parseRun(CHILD)
  const figures = await oneRun(n, converged, process.env.BENCH_SIM_CHILD_OUT!)
  process.stdout.write(`${RESULT}${JSON.stringify(figures)}\n`)
  process.exit(0)
}

async function inChild(spec: string, out: string): Promise<RunFigures> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_SIM_CHILD: spec, BENCH_SIM_CHILD_OUT: out },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT))
  if (code !== 0 || line === undefined) throw new Error(`bench:sim run ${spec} failed (exit ${code})`)
  return JSON.parse(line.slice(RESULT.length)) as RunFigures
}

const base = await baseline(BASELINE_NODES)
console.log(
  `baseline: ${BASELINE_NODES} bare kad-dht nodes: ${base.nodesPerS.toFixed(1)} nodes/s, ${base.rssMiBPerNode.toFixed(1)} MiB RSS/node`
)
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; ${new Date().toISOString()}`
)
console.log(
  `messenger runs: ${workers} worker thread(s), each run in a fresh process; started/s ×baseline compares the rate per thread`
)
console.log(
  'nodes  start      started/s  (×baseline)  MiB/node  (×baseline)  join_s  wait_s  wall_s  lookups  success  hops  p50_ms  p99_ms'
)
let last: Record<string, unknown> = {}
for (const [k, spec] of specs.entries()) {
  const { n, converged } = parseRun(spec)
  const start = converged ? 'converged' : 'live'
  const largest = k === specs.length - 1
  const out = largest && keep !== undefined ? keep : await mkdtemp(join(tmpdir(), 'bench-sim-'))
  const run = await inChild(spec, out)
  if (out !== keep) await rm(out, { recursive: true, force: true })
  const w = run.world
  const s = run.summary
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
      f(run.wallS).padStart(7),
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
    wall_s: Math.round(run.wallS * 10) / 10,
    join_s: Math.round(w.joinWallS * 10) / 10,
    nodes_per_s: Math.round(w.nodesPerSecond * 100) / 100,
    admission_wait_s: Math.round((w.admissionWaitS ?? 0) * 10) / 10,
    rss_mib_per_node: Math.round(w.rssMiBPerNode * 10) / 10,
    peak_rss_mib: Math.round(run.peakRssMiB),
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
