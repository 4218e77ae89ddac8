/**
 * `pnpm bench:relay`: one relay in its own process under 1,000 concurrent client connections over loopback, against
 * a plain libp2p echo protocol served by that same relay as the baseline, in the same run.
 *
 * The clients are light libp2p nodes (TCP, Noise, Yamux, identify) in worker processes, each dialling from its own
 * 127.x.y.z source address (50 per /24); every other one holds a circuit relay reservation. Phases:
 *   A. idle: the relay's RSS after a full GC with a few warm-up connections, then with all of them → RSS per idle
 *      connection;
 *   B. echo: a fixed number of request streams (one per client connection, spread over the workers) send 1 KiB
 *      frames back to back through `/parley/bench-echo/1.0.0` → the baseline's requests/s;
 *   C. deposit: the same streams deposit 1 KiB envelopes to registered mailboxes through `/parley/mailbox/1.0.0`
 *      (answered once synced to LevelDB on disk) → deposits/s; then every owner authenticates and fetches and acks
 *      pages until its mailbox is empty → fetch latency.
 * B and C alternate (after a warm-up of each) and the best rate of each counts: the 2 cores are shared. Fetch
 * latencies are pooled over all measured drains. Prints figures and asserts nothing. Last line: one JSON object.
 *
 * Options (flags or environment): --connections / BENCH_CONNECTIONS (default 1000), --seconds / BENCH_SECONDS per
 * measured run (5), --rounds / BENCH_ROUNDS (3), --concurrency / BENCH_CONCURRENCY requests in flight (128),
 * --owners / BENCH_OWNERS mailboxes (100), --workers / BENCH_WORKERS client processes (2), --payload /
 * BENCH_PAYLOAD bytes per envelope and echo frame (1024). Quick run: `--connections 200 --seconds 2 --rounds 1`.
 */
import { fork } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { DEFAULT_MAILBOX_LIMITS, type MailboxStats } from '@parley/relay'
import { type DrainResult, percentile, type RelayMemory, type RelayWindow, Rpc, type RunResult, sleep } from './ipc.ts'
import type { RelayProcessConfig } from './relay-process.ts'

const TARGETS = { ratio: 0.5, rssKiB: 100 }
/** Source addresses per /24 (the relay's mailbox rate limits count per /24). */
const PER_RANGE = 50
/** Time for every worker to open its request streams before a run's warm-up starts. */
const RUN_LEAD_MS = 1500
const WARMUP_MS = 500
/** How long connections sit idle before the second memory reading (identify and reservations settle). */
const SETTLE_MS = 3000
/**
 * The relay's young generation, pinned (MiB per semi-space). V8 otherwise resizes it with the allocation rate, in
 * steps of tens of MiB that would show up as (or hide) memory per connection; pinned, and fully touched by a burst of
 * echo traffic before the first reading, it is the same in both readings.
 */
const SEMI_SPACE_MIB = 16

const { values: flags } = parseArgs({
  options: {
    connections: { type: 'string' },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    concurrency: { type: 'string' },
    owners: { type: 'string' },
    workers: { type: 'string' },
    payload: { type: 'string' }
  }
})
const option = (name: keyof typeof flags, env: string, fallback: number): number => {
  const raw = flags[name] ?? process.env[env]
  const n = raw === undefined ? fallback : Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${raw}`)
  return n
}
const connections = Math.round(option('connections', 'BENCH_CONNECTIONS', 1000))
const seconds = option('seconds', 'BENCH_SECONDS', 5)
const rounds = Math.round(option('rounds', 'BENCH_ROUNDS', 3))
const workerCount = Math.min(connections, Math.round(option('workers', 'BENCH_WORKERS', 2)))
const perWorker = Math.floor(connections / workerCount)
const concurrency = Math.min(perWorker * workerCount, Math.round(option('concurrency', 'BENCH_CONCURRENCY', 128)))
const owners = Math.min(perWorker * workerCount, Math.round(option('owners', 'BENCH_OWNERS', 100)))
const payloadBytes = Math.round(option('payload', 'BENCH_PAYLOAD', 1024))
const warm = Math.max(workerCount, Math.round(connections * 0.02))
/**
 * glibc's malloc arenas (the relay inherits this environment): each thread pool thread may get its own. The daemon's
 * launcher (apps/relay/bin/parley-relay) sets 2 unless the operator chose otherwise; measure the relay as it runs.
 */
process.env.MALLOC_ARENA_MAX ??= '2'
const arenas = process.env.MALLOC_ARENA_MAX

/** Client i's source address: 127.20.r.h, PER_RANGE hosts per /24. */
const sourceIp = (i: number): string =>
  `127.${20 + Math.floor(i / (PER_RANGE * 250))}.${Math.floor(i / PER_RANGE) % 250}.${10 + (i % PER_RANGE)}`
const ranges = Math.ceil(connections / PER_RANGE)

const mailboxLimits = {
  depositsPerMinutePerRange: 100_000_000,
  ownerOpsPerMinutePerRange: 100_000_000,
  maxItemsPerMailbox: 10_000_000,
  maxBytesPerMailbox: 16 * 1024 ** 3
}

const began = performance.now()
const dataDir = await mkdtemp(join(tmpdir(), 'parley-relay-bench-'))
const children: Rpc[] = []
let cleaning: Promise<void> | undefined
const cleanup = (): Promise<void> => {
  cleaning ??= (async () => {
    await Promise.allSettled(children.map((c) => c.stop(15_000)))
    await rm(dataDir, { recursive: true, force: true })
  })()
  return cleaning
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130))
  })
}

try {
  await main()
} catch (err) {
  console.error(err)
  process.exitCode = 1
} finally {
  await cleanup()
}

/** Forks `file` and waits for its first message (its readiness, with whatever it reports). */
async function start(file: string, name: string, args: string[], execArgv: string[]) {
  const child = fork(new URL(file, import.meta.url), args, {
    execArgv: [...process.execArgv, ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const rpc = new Rpc(child, name)
  children.push(rpc)
  const hello = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 60_000)
    child.once('message', (m: Record<string, string>) => {
      clearTimeout(timer)
      resolve(m)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited (${code}) before it was ready`))
    })
  })
  return { rpc, hello }
}

interface Measured {
  rps: number
  p50: number
  p99: number
  count: number
  errors: Record<string, number>
  relay: RelayWindow
  /** The workers' CPU summed, their worst event-loop delay p99. */
  clients: { cpuMs: number; loopDelayP99Ms: number }
}

async function main(): Promise<void> {
  const relayConfig: RelayProcessConfig = {
    dataDir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    http: false,
    echo: true,
    logLevel: 'warn',
    maxConnections: connections + 256,
    maxReservations: Math.max(1024, connections),
    inboundConnectionThreshold: 1000,
    maxIncomingPendingConnections: 512,
    // Every other client of a /24 holds a reservation: the per-range reservation cap must admit them all.
    maxReservationsPerRange: PER_RANGE,
    mailboxLimits
  }
  const { rpc: relay, hello } = await start(
    './relay-process.ts',
    'relay',
    [JSON.stringify(relayConfig)],
    ['--expose-gc', `--min-semi-space-size=${SEMI_SPACE_MIB}`, `--max-semi-space-size=${SEMI_SPACE_MIB}`]
  )
  const relayAddr = hello.multiaddr!
  const workers = (
    await Promise.all(Array.from({ length: workerCount }, (_, w) => start('./client-worker.ts', `worker ${w}`, [], [])))
  ).map((s) => s.rpc)

  console.log(
    `Parley relay under ${connections} client connections over loopback — relay in its own process, clients in ` +
      `${workerCount} worker processes from ${connections} source addresses in ${ranges} /24s of 127.20.0.0/16, ` +
      `every other client holding a circuit reservation; Node ${process.version}, 2 shared cores`
  )
  console.log(
    `relay config: maxConnections ${relayConfig.maxConnections}, maxReservations ${relayConfig.maxReservations}, ` +
      `inboundConnectionThreshold ${relayConfig.inboundConnectionThreshold}/s per IP, maxIncomingPendingConnections ` +
      `${relayConfig.maxIncomingPendingConnections}; mailbox limits raised for the load: depositsPerMinutePerRange ` +
      `${DEFAULT_MAILBOX_LIMITS.depositsPerMinutePerRange} → ${mailboxLimits.depositsPerMinutePerRange}, ` +
      `ownerOpsPerMinutePerRange ${DEFAULT_MAILBOX_LIMITS.ownerOpsPerMinutePerRange} → ${mailboxLimits.ownerOpsPerMinutePerRange}, ` +
      `maxItemsPerMailbox ${DEFAULT_MAILBOX_LIMITS.maxItemsPerMailbox} → ${mailboxLimits.maxItemsPerMailbox}, ` +
      `maxBytesPerMailbox → 16 GiB; mailbox store: LevelDB on disk, synced writes; young generation pinned at ` +
      `${SEMI_SPACE_MIB} MiB semi-spaces; MALLOC_ARENA_MAX ${arenas ?? 'unset (glibc default: 8 per core)'}`
  )

  const perSlot = workers.map((_, k) => share(concurrency, k))
  const timed = async (
    kind: 'echo' | 'deposit',
    measureMs: number,
    slots = perSlot,
    recipients: string[] = []
  ): Promise<Measured> => {
    const startAt = Date.now() + RUN_LEAD_MS
    const windowStart = startAt + WARMUP_MS
    const [win, ...results] = await Promise.all([
      relay.call<RelayWindow>('window', { startAt: windowStart, endAt: windowStart + measureMs }, measureMs + 60_000),
      ...workers.map((w, k) =>
        w.call<RunResult>(
          'run',
          {
            kind,
            slots: slots[k],
            payloadBytes,
            startAt,
            warmupMs: WARMUP_MS,
            measureMs,
            recipients
          },
          measureMs + 120_000
        )
      )
    ])
    const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b)
    const count = results.reduce((n, r) => n + r.count, 0)
    return {
      rps: (count / measureMs) * 1000,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      count,
      errors: mergeCounts(results.map((r) => r.errors)),
      relay: win as RelayWindow,
      clients: {
        cpuMs: results.reduce((n, r) => n + r.busy.cpuMs, 0),
        loopDelayP99Ms: Math.max(...results.map((r) => r.busy.loopDelayP99Ms))
      }
    }
  }
  // Phase A: memory per idle connection, above a baseline that already paid for code loaded on first use and for a
  // fully used young generation.
  const plan = workers.map((_, w) => {
    const ids = Array.from({ length: perWorker }, (_, k) => k * workerCount + w)
    // Every other client of each worker holds a reservation, so request streams land on both kinds.
    return { ips: ids.map(sourceIp), reserve: ids.map((_, k) => k % 2 === 0) }
  })
  const warmPerWorker = Math.ceil(warm / workerCount)
  const connect = async (from: number, to: number) => {
    const results = await Promise.all(
      workers.map((w, k) =>
        w.call<{ connected: number; reserved: number; failed: Record<string, number>; ms: number }>(
          'connect',
          {
            relay: relayAddr,
            relayPeerId: hello.peerId,
            ips: plan[k]!.ips.slice(from, to),
            reserve: plan[k]!.reserve.slice(from, to)
          },
          900_000
        )
      )
    )
    const failed = mergeCounts(results.map((r) => r.failed))
    if (Object.keys(failed).length > 0) console.log(`  connection failures: ${JSON.stringify(failed)}`)
    return results
  }
  await connect(0, warmPerWorker)
  await timed('echo', 2000, Array(workerCount).fill(warmPerWorker))
  await sleep(SETTLE_MS)
  const before = await relay.call<RelayMemory>('memory')
  const t0 = performance.now()
  await connect(warmPerWorker, perWorker)
  const connectMs = performance.now() - t0
  await sleep(SETTLE_MS)
  const after = await relay.call<RelayMemory>('memory')
  const added = after.connections - before.connections
  const rssKiBPerConn = (after.rss - before.rss) / 1024 / added
  const heapKiBPerConn = (after.heapUsed - before.heapUsed) / 1024 / added
  const mib = (b: number) => (b / 1024 ** 2).toFixed(1)
  console.log(
    `A. idle: ${after.connections} connections at the relay (${after.reservations} reservations); the last ${added} ` +
      `connected in ${(connectMs / 1000).toFixed(1)} s (${((added / connectMs) * 1000).toFixed(0)}/s)`
  )
  console.log(
    `   relay after GC: RSS ${mib(before.rss)} → ${mib(after.rss)} MiB, heap ${mib(before.heapUsed)} → ` +
      `${mib(after.heapUsed)} MiB, external ${mib(before.external)} → ${mib(after.external)} MiB with ` +
      `${before.connections} → ${after.connections} connections`
  )
  const grew = (k: 'rss' | 'heapTotal' | 'newSpace' | 'external') => after[k] - before[k]
  console.log(
    `   RSS growth ${mib(grew('rss'))} MiB: V8 heap committed +${mib(grew('heapTotal'))} MiB (young generation, ` +
      `pinned at ${SEMI_SPACE_MIB} MiB semi-spaces: resident ${mib(before.newSpace)} → ${mib(after.newSpace)} MiB), external +${mib(grew('external'))} MiB, the rest (native: sockets, LevelDB, ` +
      `allocator) +${mib(grew('rss') - grew('heapTotal') - grew('external'))} MiB`
  )
  console.log(
    `   → ${rssKiBPerConn.toFixed(1)} KiB RSS per idle connection (${heapKiBPerConn.toFixed(1)} KiB of it live JS heap); ` +
      `target ≤ ${TARGETS.rssKiB} KiB: ${verdict(rssKiBPerConn <= TARGETS.rssKiB)}`
  )

  const ownerKeys = (
    await Promise.all(workers.map((w, k) => w.call<string[]>('owners', { count: share(owners, k) }, 300_000)))
  ).flat()

  const drain = async () => {
    const t = performance.now()
    const results = await Promise.all(workers.map((w) => w.call<DrainResult>('drain', {}, 600_000)))
    const stats = await relay.call<MailboxStats>('stats')
    return {
      ms: performance.now() - t,
      fetchMs: results.flatMap((r) => r.fetchMs),
      authMs: results.flatMap((r) => r.authMs),
      ackMs: results.flatMap((r) => r.ackMs),
      items: results.reduce((n, r) => n + r.items, 0),
      pages: results.reduce((n, r) => n + r.pages, 0),
      errors: mergeCounts(results.map((r) => r.errors)),
      left: stats.storedEnvelopes
    }
  }

  console.log(
    `B/C. ${concurrency} requests in flight (one stream per client connection, ${perSlot.join('+')} per worker), ` +
      `${payloadBytes}-byte echo frames / envelopes to ${ownerKeys.length} mailboxes; ${seconds} s per run after ` +
      `${WARMUP_MS / 1000} s warm-up; a warm-up round, then ${rounds} rounds of echo, deposit, drain; best rate of each counts`
  )
  await timed('echo', 1000)
  await timed('deposit', 1000, perSlot, ownerKeys)
  await drain()

  const echoes: Measured[] = []
  const deposits: Measured[] = []
  const drains: Array<Awaited<ReturnType<typeof drain>>> = []
  console.log(
    `   ${''.padEnd(16)}${''.padStart(8)}${''.padStart(9)}${''.padStart(9)}${'relay: CPU'.padStart(11)}` +
      `${'loop p99'.padStart(9)}${'GC'.padStart(5)}${'clients: CPU'.padStart(14)}${'loop p99'.padStart(9)}`
  )
  console.log(
    `   ${'round'.padEnd(7)}${'run'.padEnd(9)}${'req/s'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}` +
      `${'%'.padStart(11)}${'ms'.padStart(9)}${'%'.padStart(5)}${'%'.padStart(14)}${'ms'.padStart(9)}  store commits`
  )
  const row = (round: number, name: string, m: Measured) => {
    const w = m.relay
    const commits =
      w.commits === 0
        ? ''
        : `${w.commits} (${(w.writes / w.commits).toFixed(1)} writes each, p50 ${w.commitP50.toFixed(2)} ms, ` +
          `p99 ${w.commitP99.toFixed(2)} ms, busy ${((w.commitMs / w.wallMs) * 100).toFixed(0)}% of the window)`
    const errors = Object.keys(m.errors).length > 0 ? ` errors ${JSON.stringify(m.errors)}` : ''
    console.log(
      `   ${String(round).padEnd(7)}${name.padEnd(9)}${m.rps.toFixed(0).padStart(8)}${m.p50.toFixed(2).padStart(9)}` +
        `${m.p99.toFixed(2).padStart(9)}${pct(w.busy.cpuMs, w.wallMs).padStart(11)}` +
        `${w.busy.loopDelayP99Ms.toFixed(0).padStart(9)}${pct(w.busy.gcMs, w.wallMs).padStart(5)}` +
        `${pct(m.clients.cpuMs, w.wallMs).padStart(14)}${m.clients.loopDelayP99Ms.toFixed(0).padStart(9)}  ${commits}${errors}`
    )
  }
  for (let r = 1; r <= rounds; r++) {
    const echo = await timed('echo', seconds * 1000)
    row(r, 'echo', echo)
    echoes.push(echo)
    const deposit = await timed('deposit', seconds * 1000, perSlot, ownerKeys)
    row(r, 'deposit', deposit)
    deposits.push(deposit)
    const d = await drain()
    drains.push(d)
    const sorted = [...d.fetchMs].sort((a, b) => a - b)
    const errors = Object.keys(d.errors).length > 0 ? `, errors ${JSON.stringify(d.errors)}` : ''
    console.log(
      `   ${String(r).padEnd(7)}${'drain'.padEnd(9)}${d.items} envelopes in ${d.pages} pages by ${d.authMs.length} ` +
        `owners at once in ${(d.ms / 1000).toFixed(1)} s: fetch p50 ${percentile(sorted, 0.5).toFixed(1)} ms, ` +
        `p99 ${percentile(sorted, 0.99).toFixed(1)} ms; ${d.left} left at the relay${errors}`
    )
  }

  const best = (runs: Measured[]) => runs.reduce((a, b) => (b.rps > a.rps ? b : a))
  const echo = best(echoes)
  const deposit = best(deposits)
  const ratio = deposit.rps / echo.rps
  const fetchSorted = drains.flatMap((d) => d.fetchMs).sort((a, b) => a - b)
  const authSorted = drains.flatMap((d) => d.authMs).sort((a, b) => a - b)
  const ackSorted = drains.flatMap((d) => d.ackMs).sort((a, b) => a - b)
  const fetch = { p50: percentile(fetchSorted, 0.5), p99: percentile(fetchSorted, 0.99) }
  const stats = await relay.call<MailboxStats>('stats')
  const drainRate = (drains.reduce((n, d) => n + d.items, 0) / drains.reduce((n, d) => n + d.ms, 0)) * 1000
  const itemsPerPage =
    drains.reduce((n, d) => n + d.items, 0) /
    Math.max(
      1,
      drains.reduce((n, d) => n + d.pages, 0)
    )
  const perCommit = deposit.relay.commits === 0 ? 0 : deposit.relay.writes / deposit.relay.commits

  console.log('summary (best round of each):')
  console.log(
    `   echo baseline ${echo.rps.toFixed(0)} req/s (p50 ${echo.p50.toFixed(2)} ms, p99 ${echo.p99.toFixed(2)} ms); ` +
      `deposits ${deposit.rps.toFixed(0)}/s (p50 ${deposit.p50.toFixed(2)} ms, p99 ${deposit.p99.toFixed(2)} ms)`
  )
  console.log(
    `   deposits ${round2(ratio)}× the echo rate; target ≥ ${TARGETS.ratio}: ${verdict(ratio >= TARGETS.ratio)}`
  )
  console.log(
    `   fetch (pooled over ${drains.length} drains, ${owners} owners fetching at once, ${fetchSorted.length} fetches, ` +
      `${itemsPerPage.toFixed(0)} envelopes per page, ${drainRate.toFixed(0)} envelopes/s fetched and acked): p50 ${fetch.p50.toFixed(1)} ms, p99 ${fetch.p99.toFixed(1)} ms; authenticate p50 ` +
      `${percentile(authSorted, 0.5).toFixed(1)} ms; ack p50 ${percentile(ackSorted, 0.5).toFixed(1)} ms`
  )
  console.log(
    `   relay RSS ${rssKiBPerConn.toFixed(1)} KiB per idle connection; target ≤ ${TARGETS.rssKiB} KiB: ` +
      `${verdict(rssKiBPerConn <= TARGETS.rssKiB)}`
  )
  console.log(
    `   deposits share synced commits: ${perCommit.toFixed(1)} per commit, commit p50 ` +
      `${deposit.relay.commitP50.toFixed(2)} ms; the relay's mailbox refusals over the run: ${JSON.stringify(stats.rejects)}`
  )
  console.log(`   wall time ${((performance.now() - began) / 1000).toFixed(0)} s`)

  console.log(
    JSON.stringify({
      connections: after.connections,
      reservations: after.reservations,
      ratio_deposit_vs_echo: round2(ratio),
      echo_rps: Math.round(echo.rps),
      deposit_rps: Math.round(deposit.rps),
      fetch_p50_ms: round2(fetch.p50),
      fetch_p99_ms: round2(fetch.p99),
      rss_kib_per_idle_conn: round2(rssKiBPerConn),
      heap_kib_per_idle_conn: round2(heapKiBPerConn),
      relay_rss_mib: { before: round2(before.rss / 1024 ** 2), after: round2(after.rss / 1024 ** 2) },
      semi_space_mib: SEMI_SPACE_MIB,
      malloc_arena_max: arenas === undefined ? null : Number(arenas),
      latency_ms: {
        echo: { p50: round2(echo.p50), p99: round2(echo.p99) },
        deposit: { p50: round2(deposit.p50), p99: round2(deposit.p99) },
        auth_p50: round2(percentile(authSorted, 0.5)),
        ack_p50: round2(percentile(ackSorted, 0.5))
      },
      relay_cpu_pct: {
        echo: Math.round((echo.relay.busy.cpuMs / echo.relay.wallMs) * 100),
        deposit: Math.round((deposit.relay.busy.cpuMs / deposit.relay.wallMs) * 100)
      },
      deposits_per_commit: round2(perCommit),
      drain_envelopes_per_s: Math.round(drainRate),
      commit_p50_ms: round2(deposit.relay.commitP50),
      rounds_rps: { echo: echoes.map((m) => Math.round(m.rps)), deposit: deposits.map((m) => Math.round(m.rps)) },
      errors: mergeCounts([...echoes, ...deposits].map((m) => m.errors)),
      rejects: stats.rejects,
      concurrency,
      owners: ownerKeys.length,
      payload_bytes: payloadBytes,
      seconds,
      rounds,
      workers: workerCount,
      source_ranges: ranges,
      store: 'level',
      targets_met: { ratio: ratio >= TARGETS.ratio, rss: rssKiBPerConn <= TARGETS.rssKiB }
    })
  )
}

/** Worker k's part of `total` spread over the workers. */
function share(total: number, k: number): number {
  return Math.floor(total / workerCount) + (k < total % workerCount ? 1 : 0)
}

function mergeCounts(all: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const counts of all) for (const [k, n] of Object.entries(counts)) out[k] = (out[k] ?? 0) + n
  return out
}

function verdict(ok: boolean): string {
  return ok ? 'meets' : 'MISSES'
}

function pct(part: number, whole: number): string {
  return ((part / whole) * 100).toFixed(0)
}

function round2(n: number): number {
  return Math.round(n * 100) / 100
}
