/** What a scenario is: a module with parameters, a metrics schema and a run function; and helpers they share. */
import type { TopLevelSpec } from 'vega-lite'
import { DEFAULT_JOIN_CONCURRENCY } from './constants.ts'
import type { CommonParams, ParamSpec } from './params.ts'
import type { ChurnEvent } from './plan.ts'
import type { World } from './world.ts'

/** One metric a scenario reports (its results.json `metrics` section lists them). */
export interface MetricSpec {
  name: string
  unit: string
  description: string
}

/** A plot: a Vega-Lite spec with its data inline. */
export interface PlotSpec {
  name: string
  title: string
  spec: TopLevelSpec
}

export type Row = Record<string, number | string | boolean | null>

/** What a scenario returns; the runner adds parameters, machine, wall time and memory. */
export interface ScenarioResult {
  summary: Record<string, number | null>
  tables: Record<string, Row[]>
  plots: PlotSpec[]
  /** Digests of the seeded plans (topology, churn, traffic): equal seeds give equal digests. */
  plan: Record<string, string>
  /** Nodes and relays started, wall time of the join phase and RSS growth per node. */
  world: {
    nodesStarted: number
    relays: number
    joinWallS: number
    rssMiBPerNode: number
    nodesPerSecond: number
    /** Seconds joins waited for the machine (join backpressure). */
    admissionWaitS?: number
    /** Longest event-loop stall seen while nodes joined, ms. */
    worstLoopStallMs?: number
    /** The network started converged (converged.ts) instead of joining live. */
    converged?: boolean
  }
}

/** Everything a running scenario gets. */
export interface RunContext {
  params: CommonParams
  extra: Record<string, number>
  /** A fresh temporary directory (relay data); removed after the run. */
  tmpDir: string
  signal: AbortSignal
  progress(phase: string, done: number, total: number): void
}

/** A scenario module. */
export interface Scenario {
  name: string
  description: string
  /** Common parameters this scenario changes the defaults of (e.g. relays for mailbox scenarios). */
  defaults?: Partial<CommonParams>
  params: readonly ParamSpec[]
  metrics: readonly MetricSpec[]
  /** It runs on a World (grow, churn, lookups) and so may spread its nodes over worker threads (`--workers`). */
  workers?: boolean
  run(ctx: RunContext): Promise<ScenarioResult>
}

/** The world figures for a result. */
export function worldFigures(w: World, started: number): ScenarioResult['world'] {
  const all = started + w.relays.length
  const joinWallS = w.joinWallMs / 1000
  return {
    nodesStarted: started,
    relays: w.relays.length,
    joinWallS,
    rssMiBPerNode: all > 0 ? (w.rssAfterJoin - w.rssBefore) / 1048576 / all : 0,
    nodesPerSecond: joinWallS > 0 ? all / joinWallS : 0,
    admissionWaitS: w.admissionWaitMs / 1000,
    worstLoopStallMs: w.worstLoopStallMs,
    converged: w.options.converged === true
  }
}

/** Default join concurrency (re-exported for scenarios). */
export const JOIN_BATCH = DEFAULT_JOIN_CONCURRENCY

/** Percentile (nearest rank) of sorted numbers; null for none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

export const mean = (xs: readonly number[]): number | null =>
  xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(t)
      resolve()
    })
  })

/** Waits until `check` holds or `ms` pass; true if it held. */
export async function waitFor(check: () => boolean, ms: number, signal?: AbortSignal): Promise<boolean> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end || signal?.aborted) return false
    await sleep(100, signal)
  }
  return true
}

/** Applies one churn event to the world. */
export async function applyChurn(w: World, e: ChurnEvent, permanentCrash: boolean): Promise<void> {
  if (e.kind === 'crash') await w.crash(e.node, permanentCrash)
  else if (e.kind === 'leave') await w.leave(e.node)
  else await w.rejoin(e.node)
}

/**
 * Runs timed actions: each at its time (seconds from now), in order, without waiting for the previous one to finish
 * (a slow start must not delay the rest of the schedule). Resolves when all have run.
 */
export async function runTimeline(
  actions: ReadonlyArray<{ at: number; run: () => Promise<unknown> | unknown }>,
  signal: AbortSignal,
  onTick?: (done: number) => void
): Promise<void> {
  const t0 = performance.now()
  const pending: Array<Promise<unknown>> = []
  let done = 0
  for (const a of [...actions].sort((x, y) => x.at - y.at)) {
    const wait = a.at * 1000 - (performance.now() - t0)
    if (wait > 0) await sleep(wait, signal)
    if (signal.aborted) break
    pending.push(
      Promise.resolve()
        .then(a.run)
        .catch(() => {})
    )
    onTick?.(++done)
  }
  await Promise.allSettled(pending)
}
