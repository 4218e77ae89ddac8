/**
 * `parley-relay`: the relay daemon. Reads flags, PARLEY_RELAY_* variables and an optional JSON config file, starts
 * the relay, prints where it can be reached (stdout) and logs JSON lines (stderr). SIGTERM or SIGINT stops it
 * cleanly (mailbox drained, stores flushed) and exits 0. Exit codes: 2 for a bad setting, 1 for any other failure.
 */
import { createRelay, type Relay, RelayError } from '@parley/relay'
import { ConfigError, helpText, resolveConfig } from './config.ts'

/** A stop that takes longer than this (a wedged store or peer) ends the process with exit code 1. */
const STOP_DEADLINE_MS = 30_000

function fail(message: string, code: number): never {
  process.stderr.write(`parley-relay: ${message}\n`)
  process.exit(code)
}

/** The address to hand to `parley run --bootstrap`: TCP first (Node peers), else WebSockets. */
function bootstrapAddress(addrs: ReadonlyArray<{ toString(): string }>): string | undefined {
  const strings = addrs.map((a) => a.toString()).filter((a) => !a.includes('/p2p-circuit'))
  return strings.find((a) => a.includes('/tcp/') && !a.includes('/ws')) ?? strings[0]
}

function banner(relay: Relay): string {
  const lines = [`peer id:    ${relay.peerId.toString()}`]
  for (const a of relay.multiaddrs) lines.push(`address:    ${a.toString()}`)
  if (relay.httpUrl !== undefined)
    lines.push(`http:       ${relay.httpUrl}  (${relay.httpUrl}/metrics, ${relay.httpUrl}/healthz)`)
  const boot = bootstrapAddress(relay.multiaddrs)
  if (boot !== undefined) lines.push(`bootstrap:  ${boot}`, `  parley run --bootstrap ${boot}`)
  return `${lines.join('\n')}\n`
}

async function main(): Promise<void> {
  let config: ReturnType<typeof resolveConfig>
  try {
    config = resolveConfig(process.argv.slice(2))
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 2)
    throw err
  }
  if (config.help) {
    process.stdout.write(`${helpText()}\n`)
    return
  }

  // Signals are heard from before the relay starts: one that arrives while it starts stops it as soon as it is up
  // (a supervisor may send SIGTERM right after seeing the banner, or before it).
  let relay: Relay | undefined
  let stopping = false
  const stop = (signal: string) => {
    if (relay === undefined) return
    const running = relay
    running.log.info('relay.signal', { signal })
    const deadline = setTimeout(() => fail(`stop took over ${STOP_DEADLINE_MS / 1000} s; exiting`, 1), STOP_DEADLINE_MS)
    running.stop().then(
      () => {
        clearTimeout(deadline)
        process.exit(0)
      },
      (err: unknown) => fail(`stop failed: ${(err as Error).message}`, 1)
    )
  }
  let pending: string | undefined
  const onSignal = (signal: string) => {
    if (stopping) return
    stopping = true
    if (relay === undefined) pending = signal
    else stop(signal)
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)

  try {
    relay = await createRelay(config.relay)
  } catch (err) {
    if (err instanceof RelayError) fail(err.message, err.code === 'InvalidOption' ? 2 : 1)
    // libp2p reports listen failures as one paragraph with a stack per address: keep the lines naming the cause.
    const lines = String((err as Error).message).split('\n')
    const causes = lines.filter((l) => /EADDRINUSE|EACCES|EADDRNOTAVAIL/.test(l)).map((l) => l.trim())
    if (causes.length > 0) fail(`cannot listen: ${causes.join('; ')}`, 1)
    throw err
  }
  process.stdout.write(banner(relay))
  if (pending !== undefined) stop(pending)
}

// Anything else is still one line: the first line of the message, never a stack.
main().catch((err: unknown) =>
  fail(err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err).split('\n')[0]!, 1)
)
