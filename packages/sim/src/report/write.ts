/**
 * The run's files: results.json (parameters, plan digests, metrics schema, summary, tables, machine, wall time and
 * memory), one CSV per table, each plot as SVG and PNG, and report.md embedding them. Everything is rendered in memory
 * first and written only when all of it succeeded.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, freemem, platform, release, totalmem } from 'node:os'
import { join } from 'node:path'
import {
  DEFAULT_JOIN_CONCURRENCY,
  JOIN_BACKPRESSURE_MAX_WAIT_MS,
  JOIN_MAX_LOOP_LAG_MS,
  JOIN_MAX_LOOP_UTILIZATION,
  JOIN_MAX_UNPUBLISHED,
  SIM_CONNECTION_MONITOR,
  SIM_QUERY_SELF_INTERVAL_MS
} from '../constants.ts'
import type { CommonParams } from '../params.ts'
import type { Row, Scenario, ScenarioResult } from '../scenario.ts'
import { renderPlot } from './render.ts'

/** The machine a run ran on. */
export interface MachineInfo {
  os: string
  cpu: string
  cpus: number
  memoryGiB: number
  freeMemoryGiB: number
  node: string
}

export function machineInfo(): MachineInfo {
  const c = cpus()
  return {
    os: `${platform()} ${release()}`,
    cpu: c[0]?.model ?? 'unknown',
    cpus: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    node: process.version
  }
}

/** What results.json holds. */
export interface RunRecord {
  scenario: string
  description: string
  startedAt: string
  wallS: number
  peakRssMiB: number
  params: CommonParams & Record<string, unknown>
  machine: MachineInfo
  metrics: Scenario['metrics']
  result: ScenarioResult
}

function csvCell(v: Row[string]): string {
  if (v === null || v === undefined) return ''
  const s = String(v)
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

/** A table as CSV (header from the union of the rows' keys, in first-seen order). */
export function toCsv(rows: readonly Row[]): string {
  const cols: string[] = []
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k)
  return `${[cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c] ?? null)).join(','))].join('\n')}\n`
}

const fmt = (v: unknown): string =>
  typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v === null ? '–' : String(v)

function markdown(rec: RunRecord, files: { csv: string[]; plots: Array<{ name: string; title: string }> }): string {
  const r = rec.result
  const lines = [
    `# Simulation report: ${rec.scenario}`,
    '',
    rec.description,
    '',
    `Started ${rec.startedAt}; wall time ${rec.wallS.toFixed(1)} s; peak RSS ${rec.peakRssMiB.toFixed(0)} MiB;`,
    `${r.world.nodesStarted} nodes and ${r.world.relays} relays started in ${r.world.joinWallS.toFixed(1)} s`,
    `(${r.world.nodesPerSecond.toFixed(2)} nodes/s), ${r.world.rssMiBPerNode.toFixed(1)} MiB RSS per node.`,
    '',
    '## Summary',
    '',
    '| metric | value | unit | meaning |',
    '|---|---|---|---|',
    ...Object.entries(r.summary).map(([k, v]) => {
      const m = rec.metrics.find((x) => x.name === k)
      return `| ${k} | ${fmt(v)} | ${m?.unit ?? ''} | ${m?.description ?? ''} |`
    }),
    '',
    '## Plots',
    '',
    ...files.plots.flatMap((p) => [
      `### ${p.title}`,
      '',
      `![${p.title}](${p.name}.svg)`,
      '',
      `PNG: [${p.name}.png](${p.name}.png)`,
      ''
    ]),
    '## Tables',
    '',
    ...files.csv.map((c) => `- [${c}](${c})`),
    '',
    '## Parameters',
    '',
    '| parameter | value |',
    '|---|---|',
    ...Object.entries(rec.params).map(([k, v]) => `| ${k} | ${fmt(v)} |`),
    '',
    'Plan digests (equal seeds and parameters give equal digests): ' +
      Object.entries(r.plan)
        .map(([k, v]) => `${k} \`${v}\``)
        .join(', '),
    '',
    '## Simulation settings',
    '',
    ...simulationSettings(r.world),
    '',
    '## Machine',
    '',
    `${rec.machine.os}; ${rec.machine.cpus} × ${rec.machine.cpu}; ${rec.machine.memoryGiB} GiB memory ` +
      `(${rec.machine.freeMemoryGiB} GiB free at the end); Node ${rec.machine.node}. Wall-clock figures depend on ` +
      'what else the machine ran at the time.',
    ''
  ]
  return lines.join('\n')
}

/** What the simulator sets differently from a deployed node, and how joins were admitted (report.md). */
function simulationSettings(w: ScenarioResult['world']): string[] {
  return [
    'Every node runs the Node preset’s services over the simulated transport, with these simulation settings:',
    '',
    ...(w.converged === true
      ? [
          '- **Converged start** (`--converged 1`): every routing table holds every node up and each record is stored',
          '  at its k closest nodes (through their own PUT handlers) by the simulator, from the seed; kad-dht’s',
          '  self-query and routing-table refresh are off. Join and publish traffic is not simulated; lookups are live',
          "  (α, k and every query timeout are kad-dht's own). See docs/simulation.md."
        ]
      : [
          `- kad-dht self-query every ${SIM_QUERY_SELF_INTERVAL_MS / 60_000} min (kad-dht's default: 5 min); routing-table`,
          "  refresh, α, k (the `k` parameter) and every query timeout are kad-dht's own."
        ]),
    `- libp2p's connection monitor ${SIM_CONNECTION_MONITOR ? 'on' : 'off'} (a simulated link never dies silently: a`,
    '  crash or partition resets both ends at once).',
    `- Joins in batches of ${DEFAULT_JOIN_CONCURRENCY}, admitted while fewer than ${JOIN_MAX_UNPUBLISHED} nodes are on`,
    `  their first publish, the event loop is busy less than ${JOIN_MAX_LOOP_UTILIZATION * 100}% of the time and timers`,
    `  run at most ${JOIN_MAX_LOOP_LAG_MS} ms late (each wait at most`,
    `  ${JOIN_BACKPRESSURE_MAX_WAIT_MS / 1000} s)` +
      (w.admissionWaitS !== undefined
        ? `: joins waited ${w.admissionWaitS.toFixed(1)} s in all; longest event-loop stall while joining ` +
          `${(w.worstLoopStallMs ?? 0).toFixed(0)} ms.`
        : '.')
  ]
}

/** Renders every file of a run, then writes them all into `dir` (created if missing). Returns the file names. */
export async function writeRun(dir: string, rec: RunRecord): Promise<string[]> {
  const out = new Map<string, string | Uint8Array>()
  out.set('results.json', `${JSON.stringify(rec, null, 2)}\n`)
  const csv: string[] = []
  for (const [name, rows] of Object.entries(rec.result.tables)) {
    out.set(`${name}.csv`, toCsv(rows))
    csv.push(`${name}.csv`)
  }
  const plots: Array<{ name: string; title: string }> = []
  for (const p of rec.result.plots) {
    const { svg, png } = await renderPlot(p.spec, p.title)
    out.set(`${p.name}.svg`, svg)
    out.set(`${p.name}.png`, png)
    plots.push({ name: p.name, title: p.title })
  }
  out.set('report.md', markdown(rec, { csv, plots }))
  await mkdir(dir, { recursive: true })
  for (const [name, body] of out) await writeFile(join(dir, name), body)
  return [...out.keys()]
}
