/**
 * Browser tests run in a real Chromium. Where it is missing, install Debian's package when we can (root with apt),
 * otherwise stop at once with the exact command to run. Browser tests are never skipped silently.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chromiumExecutablePath } from '@parley/test-kit'

const CHROMIUM = chromiumExecutablePath()
const INSTALL = 'apt-get update && apt-get install -y chromium'

export function ensureChromium(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0
  if (!isRoot || !hasApt) {
    console.error(`Chromium is needed for the browser tests and is not at ${CHROMIUM}.`)
    console.error(`Install it with:  sudo sh -c '${INSTALL}'   (or set PARLEY_CHROMIUM to a Chromium binary)`)
    process.exit(1)
  }
  console.log(`Chromium missing: installing Debian's chromium (${INSTALL}) ...`)
  execFileSync('sh', ['-c', `DEBIAN_FRONTEND=noninteractive ${INSTALL} >/dev/null`], { stdio: 'inherit' })
  if (!existsSync(CHROMIUM)) {
    console.error(`apt-get finished but ${CHROMIUM} is still missing.`)
    process.exit(1)
  }
  return CHROMIUM
}

if (import.meta.url === `file://${process.argv[1]}`) ensureChromium()
