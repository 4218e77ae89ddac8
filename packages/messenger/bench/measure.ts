/** Timing helpers of the messaging bench: closed-loop runs with a fixed number of operations in flight. */

/**
 * What one operation measured: its latencies in ms, one per figure (e.g. [ack, receipt]), or none when it never
 * completed (a lost receipt); then `stalledMs` is how long it waited in vain, which a window-1 run leaves out of its
 * interval (that wait is the bench's timeout, not work Parley did).
 */
export interface Sample {
  latencies: number[]
  stalledMs?: number
}

export type Operation = () => Promise<Sample>

export interface Run {
  /** Operations that completed inside the measured interval. */
  count: number
  /** Operations that finished at all (the drained tail and the incomplete ones included). */
  finished: number
  /** Operations that never completed (no latencies), in the measured interval or its drained tail. */
  incomplete: number
  /** Length of the measured interval, ms (less the stalls of a window-1 run). */
  elapsedMs: number
  /** latencies[i] holds figure i of every counted operation. */
  latencies: number[][]
  /** CPU time of the whole process (all threads) from the start until the drained end, ms. */
  cpuMs: number
}

export interface Figures {
  perSecond: number
  p50: number
  p99: number
  count: number
  /** Process CPU per completed operation (the drained tail included, the lost ones not: they cost CPU too), ms. */
  cpuMs: number
}

/**
 * Runs `op` from `window` workers (window 1: back to back) for a warm-up, lets it drain, then for `seconds`. Only
 * operations that finish before the deadline count, and the interval ends at the deadline: the tail still in flight
 * is drained but neither counted nor timed, so a slow drain cannot inflate or deflate the rate.
 */
export async function measure(
  op: Operation,
  options: { seconds: number; warmup: number; window: number; onMeasured?: () => void }
): Promise<Run> {
  await phase(op, options.warmup, options.window)
  options.onMeasured?.()
  return phase(op, options.seconds, options.window)
}

async function phase(op: Operation, seconds: number, window: number): Promise<Run> {
  const start = performance.now()
  const cpu = process.cpuUsage()
  let deadline = start + seconds * 1000
  const run: Run = { count: 0, finished: 0, incomplete: 0, elapsedMs: 0, latencies: [], cpuMs: 0 }
  const worker = async () => {
    while (performance.now() < deadline) {
      const sample = await op()
      run.finished++
      // One in flight: a stall stopped all work, so the run gets that time back to do real work in, up to the run's
      // own length (a run where everything stalls must still end).
      if (window === 1 && sample.stalledMs !== undefined) {
        deadline += Math.min(sample.stalledMs, Math.max(0, start + 2 * seconds * 1000 - deadline))
      }
      if (sample.latencies.length === 0) {
        run.incomplete++
        continue
      }
      if (performance.now() > deadline) break
      run.count++
      sample.latencies.forEach((ms, i) => {
        run.latencies[i] ??= []
        run.latencies[i].push(ms)
      })
    }
  }
  await Promise.all(Array.from({ length: window }, worker))
  const used = process.cpuUsage(cpu)
  run.cpuMs = (used.user + used.system) / 1000
  const stalls = deadline - (start + seconds * 1000)
  run.elapsedMs = deadline - start - stalls
  return run
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}

/** Rate and latency figure `index` of a run. */
export function figures(run: Run, index = 0): Figures {
  const sorted = [...(run.latencies[index] ?? [])].sort((a, b) => a - b)
  return {
    perSecond: (run.count / run.elapsedMs) * 1000,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    count: run.count,
    cpuMs: run.cpuMs / Math.max(1, run.finished - run.incomplete)
  }
}

/** Rounds to two decimals (ratios) for the JSON line. */
export const round2 = (n: number): number => Math.round(n * 100) / 100
