/**
 * The TURN test (test/turn.netns.test.ts) starts a real coturn inside the test namespace. Where it is missing,
 * install Debian's package when we can (root with apt), otherwise stop at once with the exact command to run. The
 * test is never skipped silently. Installing it starts no service (Debian's coturn stays disabled until configured).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const TURNSERVER = '/usr/bin/turnserver'
const INSTALL = 'apt-get update && apt-get install -y coturn'

export function ensureCoturn(): string {
  if (existsSync(TURNSERVER)) return TURNSERVER
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0
  if (!isRoot || !hasApt) {
    console.error(`coturn is needed for the TURN test and ${TURNSERVER} is missing.`)
    console.error(`Install it with:  sudo sh -c '${INSTALL}'`)
    process.exit(1)
  }
  console.log(`coturn missing: installing Debian's coturn (${INSTALL}) ...`)
  execFileSync('sh', ['-c', `DEBIAN_FRONTEND=noninteractive ${INSTALL} >/dev/null`], { stdio: 'inherit' })
  if (!existsSync(TURNSERVER)) {
    console.error(`apt-get finished but ${TURNSERVER} is still missing.`)
    process.exit(1)
  }
  return TURNSERVER
}

if (import.meta.url === `file://${process.argv[1]}`) ensureCoturn()
