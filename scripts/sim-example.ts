/**
 * A custom @parley/sim scenario in one file: the network splits in two halves for the middle third of the run, and
 * lookups across the split are measured before, during and after it.
 *
 *   pnpm exec node scripts/sim-example.ts [--nodes 20] [--seed 1] [--out sim-out/partition]
 *
 * Pattern: a `Scenario` object (name, parameters, metrics schema, run) handed to runSimulation(), which checks the
 * parameters, runs it on real nodes and writes results.json, CSV, SVG/PNG plots and report.md like the built-in ones.
 */
import { parseArgs } from 'node:util'
import {
  isSimError,
  linkModelOf,
  percentile,
  progressBar,
  Rng,
  type Row,
  runSimulation,
  type Scenario,
  SimWorld,
  waitFor,
  worldFigures
} from '@parley/sim'

const partitionHeal: Scenario = {
  name: 'partition-heal',
  description: 'The network splits into two halves for the middle third of the run; lookups across the split.',
  params: [{ name: 'lookups', description: 'lookups per phase', default: 12, min: 1, max: 1000, integer: true }],
  metrics: [
    { name: 'success_before', unit: 'ratio', description: 'cross-half lookups that succeeded before the split' },
    { name: 'success_during', unit: 'ratio', description: 'cross-half lookups that succeeded during the split' },
    { name: 'success_after', unit: 'ratio', description: 'cross-half lookups that succeeded after healing' }
  ],
  async run(ctx) {
    const p = ctx.params
    const world = await SimWorld.start({
      seed: p.seed,
      nodes: p.nodes,
      relays: p.relays,
      model: linkModelOf(p),
      dataDir: ctx.tmpDir,
      kBucketSize: p.k,
      signal: ctx.signal,
      onJoin: (d, t) => ctx.progress('join', d, t)
    })
    const half = (i: number) => (i < p.nodes / 2 ? 0 : 1)
    const rng = new Rng(p.seed, 'partition-lookups')
    const rows: Row[] = []
    const phase = async (name: string) => {
      for (let k = 0; k < ctx.extra.lookups!; k++) {
        const from = rng.int(Math.floor(p.nodes / 2))
        const to = Math.floor(p.nodes / 2) + rng.int(Math.ceil(p.nodes / 2))
        const t0 = performance.now()
        const ok = await world
          .node(from)!
          .messenger.lookup(world.node(to)!.messenger.identityKey, { signal: AbortSignal.timeout(5_000) })
          .then(() => true)
          .catch(() => false)
        rows.push({ phase: name, from, to, ok, ms: Math.round(performance.now() - t0) })
        ctx.progress(`lookups ${name}`, k + 1, ctx.extra.lookups!)
      }
    }
    try {
      await waitFor(() => world.upNodes().every((i) => (world.probe(i)?.puts ?? 0) > 0), 60_000, ctx.signal)
      await phase('before')
      world.fabric.partition(half)
      await phase('during')
      world.fabric.heal()
      await phase('after')
    } finally {
      await world.stop()
    }
    const rate = (ph: string) => {
      const xs = rows.filter((r) => r.phase === ph)
      return xs.filter((r) => r.ok).length / xs.length
    }
    const ms = rows.map((r) => r.ms as number).sort((a, b) => a - b)
    return {
      summary: {
        success_before: rate('before'),
        success_during: rate('during'),
        success_after: rate('after'),
        latency_p50_ms: percentile(ms, 50)
      },
      tables: { lookups: rows },
      plots: [
        {
          name: 'success-by-phase',
          title: 'Cross-half lookup success',
          spec: {
            width: 360,
            height: 240,
            data: { values: ['before', 'during', 'after'].map((ph) => ({ phase: ph, success: rate(ph) })) },
            mark: 'bar',
            encoding: {
              x: { field: 'phase', type: 'nominal', sort: null },
              y: { field: 'success', type: 'quantitative', scale: { domain: [0, 1] } }
            }
          }
        }
      ],
      plan: {},
      world: worldFigures(world, p.nodes)
    }
  }
}

const { values } = parseArgs({
  options: { nodes: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' } }
})
const bar = progressBar()
try {
  const run = await runSimulation({
    scenario: partitionHeal,
    params: { nodes: values.nodes ?? 20, seed: values.seed ?? '1' },
    out: values.out ?? 'sim-out/partition',
    force: values.force === true,
    onProgress: bar.update
  })
  bar.end()
  console.log(JSON.stringify(run.record.result.summary))
  console.log(`report: ${run.dir}/report.md`)
} catch (e) {
  bar.end()
  console.error(isSimError(e) ? `${e.code}: ${e.message}` : e)
  process.exitCode = isSimError(e) ? 2 : 1
}
setTimeout(() => process.exit(), 500).unref()
