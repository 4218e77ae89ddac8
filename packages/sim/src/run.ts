/**
 * runSimulation(): checks every parameter and the output directory first (a bad one throws a typed error and writes
 * nothing), runs the scenario on real nodes, then renders and writes the report.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { InvalidParameterError, OutputNotEmptyError, RunAbortedError, UnknownScenarioError } from './errors.ts'
import { type CommonParams, checkCommon, checkExtra } from './params.ts'
import { machineInfo, type RunRecord, writeRun } from './report/write.ts'
import type { Scenario } from './scenario.ts'
import { SCENARIOS } from './scenarios/index.ts'

/** Options of runSimulation(). */
export interface SimulationOptions {
  /** A built-in scenario's name or your own Scenario. */
  scenario: string | Scenario
  /** Common and scenario parameters (CLI spelling in camelCase: nodes, seed, duration, loss, latencyMs…). */
  params: Record<string, unknown>
  /** Output directory (created if missing; must be empty unless `force`). */
  out: string
  force?: boolean
  signal?: AbortSignal
  onProgress?: (phase: string, done: number, total: number) => void
}

/** What a finished run returns. */
export interface SimulationRun {
  record: RunRecord
  files: string[]
  dir: string
}

/** Resolves the scenario and checks every parameter (no side effects). */
export function prepare(o: Pick<SimulationOptions, 'scenario' | 'params'>): {
  scenario: Scenario
  params: CommonParams
  extra: Record<string, number>
} {
  const scenario = typeof o.scenario === 'string' ? SCENARIOS.get(o.scenario) : o.scenario
  if (scenario === undefined) throw new UnknownScenarioError(String(o.scenario), [...SCENARIOS.keys()])
  const known = new Set([
    'nodes',
    'seed',
    'duration',
    'relays',
    'latencyMs',
    'latencySigma',
    'jitterMs',
    'loss',
    'bandwidthKbps',
    'k',
    'churn',
    'crashShare',
    'downtime',
    'permanentCrash',
    'workers',
    ...scenario.params.map((p) => p.name)
  ])
  for (const [k, v] of Object.entries(o.params)) {
    if (!known.has(k) && v !== undefined) throw new InvalidParameterError(k, `one of ${[...known].join(', ')}`, v)
  }
  const raw = {
    ...scenario.defaults,
    ...Object.fromEntries(Object.entries(o.params).filter(([, v]) => v !== undefined))
  }
  const params = checkCommon(raw)
  if (params.workers > 1 && scenario.workers !== true) {
    throw new InvalidParameterError('workers', `1 (${scenario.name} runs in one thread)`, params.workers)
  }
  return { scenario, params, extra: checkExtra(scenario.params, raw) }
}

/** Throws unless `dir` is missing, or an empty directory, or `force` is set (then it must be a directory). */
export async function checkOutput(dir: string, force: boolean): Promise<void> {
  let s: Awaited<ReturnType<typeof stat>>
  try {
    s = await stat(dir)
  } catch {
    return
  }
  if (!s.isDirectory()) throw new InvalidParameterError('out', 'a directory', dir)
  if (!force && (await readdir(dir)).length > 0) throw new OutputNotEmptyError(dir)
}

/** Runs one simulation and writes its report. */
export async function runSimulation(o: SimulationOptions): Promise<SimulationRun> {
  const { scenario, params, extra } = prepare(o)
  const dir = resolve(o.out)
  await checkOutput(dir, o.force === true)
  const signal = o.signal ?? new AbortController().signal
  const tmp = await mkdtemp(join(tmpdir(), 'parley-sim-'))
  const startedAt = new Date().toISOString()
  const t0 = performance.now()
  let peak = process.memoryUsage().rss
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 1000)
  sampler.unref()
  try {
    const result = await scenario.run({
      params,
      extra,
      tmpDir: tmp,
      signal,
      progress: o.onProgress ?? (() => {})
    })
    if (signal.aborted) throw new RunAbortedError()
    const record: RunRecord = {
      scenario: scenario.name,
      description: scenario.description,
      startedAt,
      wallS: (performance.now() - t0) / 1000,
      peakRssMiB: Math.max(peak, process.memoryUsage().rss) / 2 ** 20,
      params: { ...params, ...extra },
      machine: machineInfo(),
      metrics: scenario.metrics,
      result
    }
    const files = await writeRun(dir, record)
    return { record, files, dir }
  } finally {
    clearInterval(sampler)
    await rm(tmp, { recursive: true, force: true })
  }
}
