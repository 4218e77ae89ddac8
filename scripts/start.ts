/**
 * `pnpm start`: one Parley relay on this machine (127.0.0.1), its state under ./data so its PeerId and mailboxes
 * survive restarts, serving the web app (apps/web/dist) over HTTP. The app is built first when its build is missing or
 * older than any of its sources (apps/web and the packages it bundles); the page served here is pointed at this relay
 * (`/parley.json`). Prints the addresses, the web URL and the bootstrap address for `parley run --bootstrap`. Ctrl-C
 * stops it cleanly. The crypto walk-through that used to live here is `pnpm demo:crypto`.
 *
 * Environment: PARLEY_START_DATA (state directory), PARLEY_RELAY_HTTP_PORT (default 8080), PARLEY_START_TCP_PORT and
 * PARLEY_START_WS_PORT (defaults 4101/4102; 0 picks free ports), PARLEY_START_NO_BUILD=1 (serve what is there).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createRelay, type Relay, RelayError } from '@parley/relay'

const root = resolve(import.meta.dirname, '..')
// PARLEY_START_DATA moves the state elsewhere (tests run `pnpm start` without touching ./data).
const dataDir = resolve(process.env.PARLEY_START_DATA ?? join(root, 'data'))
const webDir = join(root, 'apps/web/dist')
// Fixed ports keep the bootstrap address the same across restarts; taken ports fall back to free ones.
const HTTP_PORT = Number(process.env.PARLEY_RELAY_HTTP_PORT ?? 8080)
const TCP_PORT = Number(process.env.PARLEY_START_TCP_PORT ?? 4101)
const WS_PORT = Number(process.env.PARLEY_START_WS_PORT ?? 4102)
/** What the web build is made from: a file here newer than dist/index.html makes the build stale. */
const WEB_SOURCES = [
  'apps/web/src',
  'apps/web/public',
  'apps/web/index.html',
  'apps/web/vite.config.ts',
  'apps/web/package.json',
  ...['crypto', 'wire', 'store', 'network', 'messenger'].map((p) => `packages/${p}/src`)
]

/** The newest modification time (ms) of any file under `path`. */
function newest(path: string): number {
  if (!existsSync(path)) return 0
  const info = statSync(path)
  if (!info.isDirectory()) return info.mtimeMs
  let max = 0
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)))
  return max
}

/** Builds apps/web when dist is missing or older than its sources; returns whether a usable build exists. */
function ensureWebBuild(): boolean {
  const index = join(webDir, 'index.html')
  if (process.env.PARLEY_START_NO_BUILD === '1') return existsSync(index)
  const built = existsSync(index) ? statSync(index).mtimeMs : 0
  const sources = Math.max(...WEB_SOURCES.map((p) => newest(join(root, p))))
  if (built >= sources) return true
  console.log(built === 0 ? 'Building the web app (first start)…' : 'Sources changed: rebuilding the web app…')
  try {
    execFileSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
      cwd: join(root, 'apps/web'),
      stdio: 'inherit'
    })
  } catch {
    const previous = existsSync(index)
    console.error(
      `pnpm start: the web app did not build; ${previous ? 'serving the previous build' : 'serving no app'}`
    )
    return previous
  }
  return existsSync(index)
}

/** The lines of an error that name the cause (libp2p's listen error is a paragraph, then a stack per address). */
function firstLines(err: unknown): string {
  const lines = String((err as Error).message ?? err).split('\n')
  const causes = lines.filter((l) => /EADDRINUSE|EACCES/.test(l)).map((l) => l.trim())
  return causes.length > 0 ? causes.join('; ') : lines[0]!
}

const hasWeb = ensureWebBuild()
// Written below when the relay does not answer /parley.json itself: never serve a previous run's relay list.
const staticConfig = join(webDir, 'parley.json')
rmSync(staticConfig, { force: true })
const base = { dataDir, echo: false, ...(hasWeb && { webDir }) }

let relay: Relay
try {
  relay = await createRelay({
    ...base,
    listen: [`/ip4/127.0.0.1/tcp/${TCP_PORT}`, `/ip4/127.0.0.1/tcp/${WS_PORT}/ws`],
    http: { host: '127.0.0.1', port: HTTP_PORT }
  })
} catch (err) {
  if (err instanceof RelayError) {
    console.error(`pnpm start: ${err.message}`)
    process.exit(1)
  }
  console.error(
    `pnpm start: ports ${TCP_PORT}/${WS_PORT}/${HTTP_PORT} unavailable (${firstLines(err)}); using free ports`
  )
  relay = await createRelay({
    ...base,
    listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'],
    http: { host: '127.0.0.1', port: 0 }
  })
}

// Handlers first: whoever reads the addresses below may stop us at once.
const onSignal = () => {
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  relay.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`pnpm start: stop failed: ${(err as Error).message}`)
      process.exit(1)
    }
  )
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

const addrs = relay.multiaddrs.map(String)
// The page finds its relays at /parley.json; a relay that does not serve it yet gets it as a static file.
if (hasWeb) {
  const answer = await fetch(`${relay.httpUrl}/parley.json`).catch(() => undefined)
  if (answer?.ok !== true) {
    const relays = addrs.filter((a) => a.includes('/ws/p2p/'))
    writeFileSync(staticConfig, JSON.stringify({ relays, iceServers: [] }))
  }
}
const boot = addrs.find((a) => !a.includes('/ws')) ?? addrs[0]
console.log(`Parley relay ${relay.peerId.toString()} (state in ${dataDir})`)
for (const a of addrs) console.log(`  listening: ${a}`)
console.log(`  metrics:   ${relay.httpUrl}/metrics   health: ${relay.httpUrl}/healthz`)
if (hasWeb) console.log(`  web app:   ${relay.httpUrl}/`)
else console.log(`  web app:   not built (${webDir} does not exist yet); only /metrics and /healthz are served`)
console.log(`\nJoin it from a terminal:\n  parley run --bootstrap ${boot}`)
console.log('\nCtrl-C stops the relay. `pnpm demo:crypto` shows the end-to-end encryption walk-through.')
