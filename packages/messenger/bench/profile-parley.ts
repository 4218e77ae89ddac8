/**
 * A focused run for profiling Parley's delivery path alone (no echo modes): two messengers, `PROFILE_MODE` sequential
 * or pipelined (default pipelined, 64 in flight) for `BENCH_SECONDS` (default 3). Run it under a profiler:
 * `BENCH_SECONDS=3 pnpm exec node --cpu-prof --cpu-prof-dir=/tmp/prof packages/messenger/bench/profile-parley.ts`.
 * Prints the rate and CPU per message; asserts nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { figures, measure } from './measure.ts'
import { startParleyPair } from './parley-pair.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 3)
const window = process.env.PROFILE_MODE === 'sequential' ? 1 : 64
const dir = await mkdtemp(join(tmpdir(), 'parley-profile-'))
const pair = await startParleyPair(process.env.BENCH_STORE === 'memory' ? 'memory' : 'level', dir, 'x'.repeat(100))
try {
  const run = await measure(pair.sendDelivered(20_000), { window, seconds, warmup: 0.5 })
  const f = figures(run, 1)
  console.log(
    `window ${window}: ${f.perSecond.toFixed(0)} msg/s, p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms, ` +
      `CPU ${f.cpuMs.toFixed(3)} ms/msg; sends that fell back to the outbox: ${pair.queued()}, ` +
      `lost: ${JSON.stringify(pair.losses())}`
  )
} finally {
  await pair.stop()
  await rm(dir, { recursive: true, force: true })
}
