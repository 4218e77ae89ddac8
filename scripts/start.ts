/**
 * `pnpm start`: one Parley relay on this machine (127.0.0.1), its state under ./data so its PeerId and mailboxes
 * survive restarts, serving the web app's build (apps/web/dist) over HTTP when there is one. Prints the addresses,
 * the web URL and the bootstrap address for `parley run --bootstrap`. Ctrl-C stops it cleanly.
 * The crypto walk-through that used to live here is `pnpm demo:crypto`.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createRelay, type Relay, RelayError } from '@parley/relay'

const root = resolve(import.meta.dirname, '..')
// PARLEY_START_DATA moves the state elsewhere (tests run `pnpm start` without touching ./data).
const dataDir = resolve(process.env.PARLEY_START_DATA ?? join(root, 'data'))
const webDir = join(root, 'apps/web/dist')
// Fixed ports keep the bootstrap address the same across restarts; taken ports fall back to free ones.
const HTTP_PORT = Number(process.env.PARLEY_RELAY_HTTP_PORT ?? 8080)
const TCP_PORT = 4101
const WS_PORT = 4102

/** The lines of an error that name the cause (libp2p's listen error is a paragraph, then a stack per address). */
function firstLines(err: unknown): string {
  const lines = String((err as Error).message ?? err).split('\n')
  const causes = lines.filter((l) => /EADDRINUSE|EACCES/.test(l)).map((l) => l.trim())
  return causes.length > 0 ? causes.join('; ') : lines[0]!
}

const hasWeb = existsSync(join(webDir, 'index.html'))
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
const boot = addrs.find((a) => !a.includes('/ws')) ?? addrs[0]
console.log(`Parley relay ${relay.peerId.toString()} (state in ${dataDir})`)
for (const a of addrs) console.log(`  listening: ${a}`)
console.log(`  metrics:   ${relay.httpUrl}/metrics   health: ${relay.httpUrl}/healthz`)
if (hasWeb) console.log(`  web app:   ${relay.httpUrl}/`)
else console.log(`  web app:   not built (${webDir} does not exist yet); only /metrics and /healthz are served`)
console.log(`\nJoin it from a terminal:\n  parley run --bootstrap ${boot}`)
console.log('\nCtrl-C stops the relay. `pnpm demo:crypto` shows the end-to-end encryption walk-through.')
