/**
 * `pnpm simulate --scenario <name> --nodes <N> --seed <s> --duration <t> --out <dir> [--force] [--<param> <value>…]`:
 * runs a @parley/sim scenario on real Parley nodes and writes results.json, CSV tables, SVG and PNG plots and
 * report.md into <dir>. Bad parameters print one clear error and exit 2 having written nothing.
 * `pnpm simulate --help` lists every parameter.
 */
import { parseArgs } from 'node:util'
import { DEFAULT_COMMON, isSimError, progressBar, runSimulation, SCENARIOS } from '@parley/sim'

/** CLI flag (kebab-case) → parameter name (camelCase). */
const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

const COMMON_HELP: Record<string, string> = {
  nodes: 'number of messenger nodes (required)',
  seed: 'seed of every random choice (default 1)',
  duration: 'seconds the traffic phase lasts',
  relays: 'relays (mailboxes, DHT servers)',
  'latency-ms': 'median one-way link latency (log-normal), ms',
  'latency-sigma': 'log-normal shape (0: every link the same)',
  'jitter-ms': 'extra uniform delay per chunk, ms',
  loss: 'chunk loss probability in [0, 1) (retransmitted after an RTO)',
  'bandwidth-kbps': 'uplink per node, kbit/s (0: unlimited)',
  k: 'Kademlia k',
  churn: 'leaves per node per minute',
  'crash-share': 'share of leaves that are crashes',
  downtime: 'mean seconds a node stays away',
  'permanent-crash': 'crashed nodes never come back (their state is gone)',
  workers: 'worker threads the nodes are spread over (dht-lookup, delivery; one per core helps past ~100 nodes)'
}

function help(): string {
  const lines = [
    'usage: pnpm simulate --scenario <name> --nodes <N> [--seed s] [--duration t] --out <dir> [--force] [options]',
    '',
    'scenarios:',
    ...[...SCENARIOS.values()].map((s) => `  ${s.name.padEnd(14)} ${s.description}`),
    '',
    'common options:',
    ...Object.entries(COMMON_HELP).map(([k, v]) => {
      const d = (DEFAULT_COMMON as Record<string, unknown>)[camel(k)]
      return `  --${k.padEnd(16)} ${v}${d !== undefined ? ` (default ${d})` : ''}`
    }),
    ...[...SCENARIOS.values()].flatMap((s) => [
      '',
      `${s.name} options:`,
      ...s.params.map((p) => `  --${kebab(p.name).padEnd(16)} ${p.description} (default ${p.default})`),
      ...Object.entries(s.defaults ?? {}).map(([k, v]) => `  (--${kebab(k)} defaults to ${v} here)`)
    ])
  ]
  return lines.join('\n')
}

async function main(): Promise<number> {
  const scenarioFlags = [...SCENARIOS.values()].flatMap((s) => s.params.map((p) => kebab(p.name)))
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    scenario: { type: 'string' },
    out: { type: 'string' },
    force: { type: 'boolean' },
    help: { type: 'boolean' }
  }
  for (const f of [...Object.keys(COMMON_HELP), ...scenarioFlags])
    options[f] = { type: f === 'permanent-crash' ? 'boolean' : 'string' }
  let values: Record<string, string | boolean | undefined>
  try {
    // `--nodes -3` is a value, not a flag: join negative numbers to their flag so the range check names them.
    const args = process.argv
      .slice(2)
      .flatMap((a, i, all) =>
        /^-\d/.test(a) && all[i - 1]?.startsWith('--') === true && !all[i - 1]!.includes('=')
          ? []
          : [/^--[^=]+$/.test(a) && /^-\d/.test(all[i + 1] ?? '') ? `${a}=${all[i + 1]}` : a]
      )
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values as typeof values
  } catch (e) {
    process.stderr.write(`simulate: ${(e as Error).message}\n\n${help()}\n`)
    return 2
  }
  if (values.help === true) {
    process.stdout.write(`${help()}\n`)
    return 0
  }
  if (typeof values.scenario !== 'string' || typeof values.out !== 'string') {
    process.stderr.write(`simulate: --scenario and --out are required\n\n${help()}\n`)
    return 2
  }
  const params: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(values)) {
    if (k === 'scenario' || k === 'out' || k === 'force' || k === 'help' || v === undefined) continue
    params[camel(k)] = v
  }
  const bar = progressBar()
  const abort = new AbortController()
  process.once('SIGINT', () => abort.abort())
  try {
    const run = await runSimulation({
      scenario: values.scenario,
      params,
      out: values.out,
      force: values.force === true,
      signal: abort.signal,
      onProgress: bar.update
    })
    bar.end()
    process.stdout.write(`${JSON.stringify(run.record.result.summary)}\n`)
    process.stdout.write(
      `wrote ${run.files.length} files to ${run.dir} (report.md) in ${run.record.wallS.toFixed(1)} s\n`
    )
    return 0
  } catch (e) {
    bar.end()
    if (isSimError(e)) {
      process.stderr.write(`simulate: ${e.code}: ${e.message}\n`)
      return 2
    }
    process.stderr.write(`simulate: ${(e as Error).stack ?? String(e)}\n`)
    return 1
  }
}

process.exitCode = await main()
// libp2p may leave timers behind on stopped nodes; the run is over.
setTimeout(() => process.exit(), 500).unref()
