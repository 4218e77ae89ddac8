/**
 * `pnpm test`: the whole suite. Type-check and lint first (fast, and a broken build makes every other failure noise),
 * then the Node project and the browser project (real Chromium) in one vitest run so there is one summary.
 */
import { spawnSync } from 'node:child_process'
import { ensureChromium } from './ensure-chromium.ts'

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
run('tsc', ['-b'])
run('biome', ['check', '--error-on-warnings', '.'])
run('vitest', ['run', ...extra])
