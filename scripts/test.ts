/**
 * `pnpm test`: the whole suite. Type-check and lint first (fast, and a broken build makes every other failure noise),
 * then the Node project and the browser project (real Chromium) in one vitest run so there is one summary, then the
 * simulated networks (project `sim`, one file at a time), then the WebRTC tests (project `netns`) inside a private
 * network namespace (scripts/netns.ts). When the namespace cannot be made here, that last step fails with the reason:
 * WebRTC tests are never skipped.
 */
import { spawnSync } from 'node:child_process'
import { ensureChromium } from './ensure-chromium.ts'
import { ensureCoturn } from './ensure-coturn.ts'
import { runInNetns } from './netns.ts'

function run(cmd: string, args: string[]): void {
  console.log(`\n$ ${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, { stdio: 'inherit' })
  if (r.status !== 0) {
    console.error(`\n${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`)
    process.exit(r.status ?? 1)
  }
}

const extra = process.argv.slice(2)
ensureChromium()
ensureCoturn()
run('tsc', ['-b'])
run('biome', ['check', '--error-on-warnings', '.'])
run('vitest', ['run', '--project=!netns', '--project=!sim', ...extra])
// A `--project` the caller named selects among the main projects; the sim and netns runs keep only the other arguments.
const netnsExtra = extra.filter((arg, i) => !arg.startsWith('--project') && extra[i - 1] !== '--project')
// File filters meant for the main projects may match no simulation or WebRTC test; without filters, none is a failure.
const filtered = netnsExtra.some((arg) => !arg.startsWith('-'))
// Simulated networks alone on the machine, one file at a time: their delivery and lookup figures are what they assert.
run('vitest', ['run', '--project', 'sim', ...(filtered ? ['--passWithNoTests'] : []), ...netnsExtra])
console.log(`\n$ node scripts/netns.ts vitest run --project netns ${netnsExtra.join(' ')}`)
const netnsStatus = runInNetns([
  'vitest',
  'run',
  '--project',
  'netns',
  ...(filtered ? ['--passWithNoTests'] : []),
  ...netnsExtra
])
if (netnsStatus !== 0) {
  console.error(`\nThe WebRTC tests (vitest project netns, inside a network namespace) failed (exit ${netnsStatus})`)
  process.exit(netnsStatus)
}
