/**
 * dht-lookup: lookups of Parley records (the messenger's own `lookup`, which walks kad-dht and validates every answer)
 * as the network grows in stages; success rate, hops and latency against network size, with the Kademlia expectation
 * log2(N)/b hops drawn beside the measurement. With churn, the last stage's lookups run while nodes leave and return.
 */

import { DEFAULT_LOOKUP_TIMEOUT_MS, KADEMLIA_B, LOOKUP_CONCURRENCY } from '../constants.ts'
import { linkModelOf } from '../params.ts'
import { digest, planChurn } from '../plan.ts'
import { Rng } from '../rng.ts'
import {
  applyChurn,
  mean,
  percentile,
  type Row,
  type RunContext,
  runTimeline,
  type Scenario,
  type ScenarioResult,
  waitFor,
  worldFigures
} from '../scenario.ts'
import { startWorld } from '../shards.ts'

/** Network sizes of the stages: N/2^(s-1), …, N/2, N (at least 2 nodes, no size twice). */
export function stageSizes(nodes: number, stages: number): number[] {
  const out: number[] = []
  for (let s = stages - 1; s >= 0; s--) {
    const n = Math.max(2, Math.round(nodes / 2 ** s))
    if (!out.includes(n)) out.push(n)
  }
  return out
}

/** How long the nodes of a stage get to publish their records before lookups start (ms). */
const PUBLISH_WAIT_MS = 120_000

async function run(ctx: RunContext): Promise<ScenarioResult> {
  const p = ctx.params
  const sizes = stageSizes(p.nodes, ctx.extra.stages!)
  const perStage = ctx.extra.lookups!
  const world = await startWorld(
    {
      seed: p.seed,
      nodes: p.nodes,
      relays: p.relays,
      model: linkModelOf(p),
      dataDir: ctx.tmpDir,
      kBucketSize: p.k,
      // No group traffic is measured here: gossipsub's per-node heartbeat would only take CPU from the lookups.
      gossip: false,
      workers: p.workers,
      converged: ctx.extra.converged === 1,
      signal: ctx.signal,
      onJoin: (done, total) => ctx.progress('join', done, total)
    },
    0
  )
  const lookups: Row[] = []
  const stages: Row[] = []
  const churn = planChurn(p.seed, p.nodes, p.duration, {
    perMinute: p.churn,
    crashShare: p.crashShare,
    downtime: p.downtime,
    permanentCrash: p.permanentCrash
  })
  let unpublished = 0
  try {
    // Join time counts only the joins (not the publish waits and lookups of the stages in between).
    let joinMs = 0
    for (const [s, size] of sizes.entries()) {
      const g0 = performance.now()
      await world.grow(size)
      joinMs += performance.now() - g0
      const last = s === sizes.length - 1
      if (last) world.joinWallMs = joinMs
      // Every node publishes its own record a moment after it starts (the messenger's republish loop).
      await waitFor(() => world.upNodes().every((i) => (world.probe(i)?.puts ?? 0) > 0), PUBLISH_WAIT_MS, ctx.signal)
      if (last) unpublished = world.upNodes().filter((i) => (world.probe(i)?.puts ?? 0) === 0).length
      // Converged start: every record is placed again at its k closest nodes among those up now (live: no-op).
      await world.settle()
      const rng = new Rng(p.seed, `lookups/${size}`)
      const pairs = Array.from({ length: perStage }, () => {
        const from = rng.int(size)
        let to = rng.int(size - 1)
        if (to >= from) to++
        return { from, to }
      })
      const one = async (k: number): Promise<void> => {
        const { from, to } = pairs[k]!
        const r = await world.lookup(from, to, DEFAULT_LOOKUP_TIMEOUT_MS, ctx.signal)
        if (r === undefined) {
          lookups.push({ size, from, to, ok: false, ms: null, hops: null, failure: null, skipped: true })
          return
        }
        lookups.push({
          size,
          from,
          to,
          ok: r.ok,
          ms: Math.round(r.ms * 10) / 10,
          hops: r.hops,
          failure: r.failure ?? null,
          skipped: false
        })
      }
      let next = 0
      let done = 0
      const worker = async () => {
        while (next < pairs.length && !ctx.signal.aborted) {
          const k = next++
          // The last stage spreads its lookups over the run's duration when churn is on (lookups while nodes churn).
          await one(k)
          ctx.progress(`lookups n=${size}`, ++done, pairs.length)
        }
      }
      if (last && churn.length > 0) {
        await Promise.all([
          runTimeline(
            churn.map((e) => ({ at: e.at, run: () => applyChurn(world, e, p.permanentCrash) })),
            ctx.signal
          ),
          Promise.all(Array.from({ length: LOOKUP_CONCURRENCY }, worker))
        ])
      } else {
        await Promise.all(Array.from({ length: LOOKUP_CONCURRENCY }, worker))
      }
      const mine = lookups.filter((l) => l.size === size && l.skipped === false)
      const okRows = mine.filter((l) => l.ok === true)
      const ms = okRows.map((l) => l.ms as number).sort((a, b) => a - b)
      const hops = okRows.flatMap((l) => (typeof l.hops === 'number' ? [l.hops] : [])).sort((a, b) => a - b)
      const failed = (reason: (f: string) => boolean) =>
        mine.filter((l) => l.ok === false && reason(l.failure as string)).length
      stages.push({
        size,
        lookups: mine.length,
        success_rate: mine.length > 0 ? okRows.length / mine.length : null,
        // Why the others failed (world.ts lookupFailure): out of time, no valid record found, anything else.
        failed_timeout: failed((f) => f === 'timeout'),
        failed_not_found: failed((f) => f === 'not-found'),
        failed_other: failed((f) => f !== 'timeout' && f !== 'not-found'),
        hops_mean: mean(hops),
        hops_p50: percentile(hops, 50),
        hops_max: hops.at(-1) ?? null,
        expected_hops: Math.log2(size) / KADEMLIA_B,
        latency_p50_ms: percentile(ms, 50),
        latency_p90_ms: percentile(ms, 90),
        latency_p99_ms: percentile(ms, 99)
      })
    }
  } finally {
    await world.stop()
  }
  const final = stages.at(-1)!
  const figures = worldFigures(world, p.nodes)
  return {
    summary: {
      nodes: p.nodes,
      lookups: lookups.filter((l) => l.skipped === false).length,
      lookup_success_rate: final.success_rate as number | null,
      hops_mean: final.hops_mean as number | null,
      expected_hops: final.expected_hops as number,
      latency_p50_ms: final.latency_p50_ms as number | null,
      latency_p99_ms: final.latency_p99_ms as number | null,
      unpublished_nodes: unpublished,
      churn_events: churn.length,
      converged: ctx.extra.converged === 1 ? 1 : 0
    },
    tables: { stages, lookups },
    plots: plots(stages, lookups),
    plan: {
      topology: digest(world.topology),
      churn: digest(churn),
      lookups: digest(lookups.map((l) => [l.from, l.to]))
    },
    world: figures
  }
}

function plots(stages: Row[], lookups: Row[]): ScenarioResult['plots'] {
  const hopsData = stages.flatMap((s) => [
    { size: s.size, hops: s.hops_mean, series: 'measured (mean)' },
    { size: s.size, hops: s.expected_hops, series: `Kademlia log2(N)/b, b=${KADEMLIA_B}` }
  ])
  const ok = lookups.filter((l) => l.ok === true)
  return [
    {
      name: 'hops-vs-size',
      title: 'Lookup hops against network size',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        width: 480,
        height: 300,
        data: { values: hopsData },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'size', type: 'quantitative', title: 'nodes (N)', scale: { type: 'log', base: 2 } },
          y: { field: 'hops', type: 'quantitative', title: 'hops' },
          color: { field: 'series', type: 'nominal', title: null }
        }
      }
    },
    {
      name: 'latency-by-size',
      title: 'Lookup latency by network size',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        width: 480,
        height: 300,
        data: { values: ok.map((l) => ({ size: String(l.size), ms: l.ms })) },
        mark: { type: 'boxplot', extent: 'min-max' },
        encoding: {
          x: { field: 'size', type: 'ordinal', title: 'nodes (N)', sort: null },
          y: { field: 'ms', type: 'quantitative', title: 'latency (ms)' }
        }
      }
    },
    {
      name: 'success-vs-size',
      title: 'Lookup success rate against network size',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        width: 480,
        height: 300,
        data: { values: stages.map((s) => ({ size: s.size, success: s.success_rate })) },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'size', type: 'quantitative', title: 'nodes (N)', scale: { type: 'log', base: 2 } },
          y: { field: 'success', type: 'quantitative', title: 'success rate', scale: { domain: [0, 1] } }
        }
      }
    }
  ]
}

export const dhtLookup: Scenario = {
  name: 'dht-lookup',
  description:
    'Record lookups through the DHT as the network grows in stages: success rate, hops and latency against N, beside log2(N)/b.',
  params: [
    { name: 'lookups', description: 'lookups per stage', default: 50, min: 1, max: 100_000, integer: true },
    {
      name: 'stages',
      description: 'network sizes measured (N/2^(s-1) … N)',
      default: 4,
      min: 1,
      max: 12,
      integer: true
    },
    {
      name: 'converged',
      description:
        'start from converged routing tables and placed records, lookups live (1; see docs/simulation.md), or join and publish live (0)',
      default: 0,
      min: 0,
      max: 1,
      integer: true
    }
  ],
  metrics: [
    {
      name: 'lookup_success_rate',
      unit: 'ratio',
      description: 'lookups of the last stage that returned the target’s valid record'
    },
    { name: 'hops_mean', unit: 'hops', description: 'mean hops to the nearest peer that answered with the record' },
    { name: 'expected_hops', unit: 'hops', description: 'Kademlia expectation log2(N)/b at the largest N' },
    { name: 'latency_p50_ms', unit: 'ms', description: 'median lookup wall time (successful lookups)' },
    { name: 'latency_p99_ms', unit: 'ms', description: '99th percentile lookup wall time' },
    {
      name: 'unpublished_nodes',
      unit: 'nodes',
      description: 'nodes whose own record was not published before the lookups'
    }
  ],
  workers: true,
  run
}
