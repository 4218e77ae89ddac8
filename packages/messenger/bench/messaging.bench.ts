/**
 * `pnpm bench:messaging`: Parley message delivery between two messengers A and B over one loopback TCP connection,
 * against a raw libp2p echo over that same connection, in the same run. 100-byte texts and frames.
 *
 * Parley modes: sequential (one message in flight) and pipelined (64 in flight). Full delivery is A.send() → encrypt
 * → stream → B decrypts → durable commit → ack → B's end-to-end encrypted `delivered` receipt back at A; the figures
 * up to the ack (send() resolving) are reported too. The raw echo opens one stream per echo, as Parley's send opens
 * one stream per message: that is the like-for-like baseline the ratios use; one long-lived shared stream is
 * measured as well and reported beside it.
 * Prints figures and asserts nothing. Last line: one JSON object.
 *
 * Options (environment): BENCH_SECONDS (per mode, default 5), BENCH_STORE=level (default: on-disk LevelDB, every
 * commit fsynced, as the "durable commit" asks) or memory (to see what the fsyncs cost).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Figures, figures, measure, type Operation, percentile, type Run, round2 } from './measure.ts'
import { type Losses, type ParleyPair, type StoreKind, startParleyPair } from './parley-pair.ts'
import { attachEcho, type Echo, FRAME_BYTES } from './raw-echo.ts'
import { probeStore } from './store-probe.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const warmup = Math.min(2, Math.max(0.5, seconds / 5))
const store: StoreKind = process.env.BENCH_STORE === 'memory' ? 'memory' : 'level'
const WINDOW = 64
const TEXT = 'x'.repeat(FRAME_BYTES)
const TARGETS = { sequential: 0.25, pipelined: 0.5, p99: 5 }
/**
 * How long a message may take before it counts as lost: sequential receipts take tens of ms, a send that fell back
 * to the outbox waits for the 1 s retry tick; 64 in flight take seconds each.
 */
const TIMEOUT_MS = { sequential: 3_000, pipelined: 20_000 }

const dir = await mkdtemp(join(tmpdir(), 'parley-bench-'))
let parley: ParleyPair | undefined
try {
  parley = await startParleyPair(store, dir, TEXT)
  await run(parley, await attachEcho(parley.nodes.a, parley.nodes.b))
} finally {
  await parley?.stop()
  await rm(dir, { recursive: true, force: true })
}

async function run(p: ParleyPair, echo: Echo): Promise<void> {
  console.log(
    `Parley messaging vs raw libp2p echo — ${seconds}s per mode after ${warmup}s warm-up, ${FRAME_BYTES}-byte texts/frames, ` +
      `profiles: ${store === 'level' ? 'LevelDB on disk, every commit fsynced' : 'in memory (no fsync)'}, Node ${process.version}`
  )
  // One libp2p connection is one TCP socket at each end: A↔B alone makes 2.
  const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length
  console.log(`connections A↔B: ${p.connections()} (TCP sockets in the process: ${sockets()}, expected 2)`)

  // Modes run in pairs close together in time (raw, then Parley), since the 2 cores are shared with other work.
  const sequential = { window: 1, seconds, warmup }
  const pipelined = { window: WINDOW, seconds, warmup }
  const rawSeq = await measure(echo.streamPerEcho, sequential)
  const shared = await echo.openSharedStream()
  const rawSeqShared = await measure(shared.echo, sequential)
  const seqFull = await parleyMode(p, p.sendDelivered(TIMEOUT_MS.sequential), sequential)
  const seqAck = await parleyMode(p, p.sendAcked(TIMEOUT_MS.sequential), sequential)
  const rawPipe = await measure(echo.streamPerEcho, pipelined)
  const rawPipeShared = await measure(shared.echo, pipelined)
  await shared.close()
  const pipeFull = await parleyMode(p, p.sendDelivered(TIMEOUT_MS.pipelined), pipelined)
  const pipeAck = await parleyMode(p, p.sendAcked(TIMEOUT_MS.pipelined), pipelined)
  const connectionsAfter = p.connections()
  const probe = await probeStore(store, dir, Math.min(1, seconds / 5))

  const f = {
    rawSeq: figures(rawSeq),
    rawSeqShared: figures(rawSeqShared),
    rawPipe: figures(rawPipe),
    rawPipeShared: figures(rawPipeShared),
    seqFull: figures(seqFull.run, 1),
    seqFullAck: figures(seqFull.run, 0),
    seqAck: figures(seqAck.run),
    pipeFull: figures(pipeFull.run, 1),
    pipeFullAck: figures(pipeFull.run, 0),
    pipeAck: figures(pipeAck.run)
  }
  // CPU is the whole process's (both ends, all threads) per finished operation: on 2 shared cores it shows what
  // saturates first.
  console.log(
    `${'mode'.padEnd(78)}${'msg/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'CPU ms/msg'.padStart(12)}`
  )
  const row = (name: string, x: Figures, rate = true) =>
    console.log(
      `${name.padEnd(78)}${(rate ? x.perSecond.toFixed(0) : '').padStart(9)}${x.p50.toFixed(2).padStart(9)}` +
        `${x.p99.toFixed(2).padStart(9)}${(rate ? x.cpuMs.toFixed(2) : '').padStart(12)}`
    )
  console.log('sequential (one in flight)')
  row('  raw echo, one stream per echo (baseline)', f.rawSeq)
  row('  raw echo, one shared stream', f.rawSeqShared)
  row("  Parley full delivery: send → B's encrypted delivered receipt at A", f.seqFull)
  row('    the same messages, send → ack (send() resolved)', f.seqFullAck, false)
  row('  Parley send → ack back to back (receipts come back meanwhile)', f.seqAck)
  console.log(`pipelined (${WINDOW} in flight)`)
  row(`  raw echo, one stream per echo, ${WINDOW} streams open (baseline)`, f.rawPipe)
  row(`  raw echo, one shared stream, ${WINDOW} frames outstanding`, f.rawPipeShared)
  row(`  Parley full delivery, ${WINDOW} messages awaiting their delivered receipt`, f.pipeFull)
  row('    the same messages, send → ack', f.pipeFullAck, false)
  row(`  Parley send → ack, ${WINDOW} send() calls outstanding`, f.pipeAck)

  const ratio = {
    sequential: f.seqFull.perSecond / f.rawSeq.perSecond,
    pipelined: f.pipeFull.perSecond / f.rawPipe.perSecond,
    p99: f.seqFull.p99 / f.rawSeq.p99
  }
  const verdict = (ok: boolean) => (ok ? 'meets' : 'MISSES')
  console.log('against the stream-per-echo baseline (Parley opens one stream per message):')
  console.log(
    `  sequential full delivery ${round2(ratio.sequential)}× raw echo rate (target ≥ ${TARGETS.sequential}: ${verdict(ratio.sequential >= TARGETS.sequential)})` +
      `; ack only ${round2(f.seqAck.perSecond / f.rawSeq.perSecond)}×`
  )
  console.log(
    `  pipelined full delivery ${round2(ratio.pipelined)}× raw pipelined rate (target ≥ ${TARGETS.pipelined}: ${verdict(ratio.pipelined >= TARGETS.pipelined)})` +
      `; ack only ${round2(f.pipeAck.perSecond / f.rawPipe.perSecond)}×`
  )
  console.log(
    `  sequential full-delivery p99 ${round2(ratio.p99)}× raw echo p99 (target ≤ ${TARGETS.p99}: ${verdict(ratio.p99 <= TARGETS.p99)})` +
      `; ack-only p99 ${round2(f.seqAck.p99 / f.rawSeq.p99)}×`
  )
  console.log(
    `  against the shared-stream echo instead: sequential ${round2(f.seqFull.perSecond / f.rawSeqShared.perSecond)}×, ` +
      `pipelined ${round2(f.pipeFull.perSecond / f.rawPipeShared.perSecond)}×, p99 ${round2(f.seqFull.p99 / f.rawSeqShared.p99)}×`
  )
  const writes = store === 'level' ? 'synced writes' : 'writes'
  console.log(
    `profile store work (A and B together, per finished message, from the start of each measured run until its receipts settled):`
  )
  const modes = [
    ['sequential full delivery', seqFull],
    ['sequential ack only', seqAck],
    ['pipelined full delivery', pipeFull],
    ['pipelined ack only', pipeAck]
  ] as const
  for (const [name, m] of modes) {
    console.log(
      `  ${name.padEnd(26)} ${(m.reads / m.run.finished).toFixed(1)} reads, ${(m.commits / m.run.finished).toFixed(1)} ${writes}` +
        ` (write p50 ${m.commitP50.toFixed(2)} ms, p99 ${m.commitP99.toFixed(2)} ms; write time summed = ` +
        `${((m.commitMs / m.wallMs) * 100).toFixed(0)}% of wall time), receipts settled ${m.settleMs.toFixed(0)} ms after the run`
    )
  }
  const perMessage = (m: typeof seqFull) => ({ reads: m.reads / m.run.finished, writes: m.commits / m.run.finished })
  const seqStore = perMessage(seqFull)
  const storeMs = seqStore.reads * probe.readP50 + seqStore.writes * probe.commitP50
  console.log(
    `  store on its own: read p50 ${probe.readP50.toFixed(2)} ms, 3-put batch commit p50 ${probe.commitP50.toFixed(2)} ms → ` +
      `sequential full delivery spends ≈ ${storeMs.toFixed(1)} ms of its ${(1000 / f.seqFull.perSecond).toFixed(1)} ms per message ` +
      `in the store (${((storeMs * f.seqFull.perSecond) / 10).toFixed(0)}%; ${(seqStore.reads * probe.readP50).toFixed(1)} ms reading, ` +
      `${(seqStore.writes * probe.commitP50).toFixed(1)} ms writing), and two stream round trips ≈ ${(2 * f.rawSeq.p50).toFixed(1)} ms ` +
      '(message and receipt: 2 × the raw echo p50)'
  )
  console.log('messages that never completed (from the measured run through its settling):')
  for (const [name, m] of modes) {
    console.log(
      `  ${name.padEnd(26)} ${m.losses.ackedNotShown} acked by B but never shown there (so never receipted), ` +
        `${m.losses.receiptLost} shown but their receipt never reached A, ${m.queued} sends fell back to the outbox`
    )
  }
  console.log(`connections A↔B after the run: ${connectionsAfter} (TCP sockets: ${sockets()})`)

  const latency = (x: Figures) => ({ p50: round2(x.p50), p99: round2(x.p99) })
  console.log(
    JSON.stringify({
      ratio_vs_raw_echo: round2(ratio.sequential),
      ratio_pipelined_vs_raw: round2(ratio.pipelined),
      p99_ratio_vs_echo: round2(ratio.p99),
      msgs_per_s: {
        sequential_delivered: Math.round(f.seqFull.perSecond),
        sequential_acked: Math.round(f.seqAck.perSecond),
        pipelined_delivered: Math.round(f.pipeFull.perSecond),
        pipelined_acked: Math.round(f.pipeAck.perSecond)
      },
      cpu_ms_per_message: {
        sequential_delivered: round2(f.seqFull.cpuMs),
        pipelined_delivered: round2(f.pipeFull.cpuMs),
        raw_sequential_stream_per_echo: round2(f.rawSeq.cpuMs),
        raw_pipelined_stream_per_echo: round2(f.rawPipe.cpuMs)
      },
      raw_msgs_per_s: {
        sequential_stream_per_echo: Math.round(f.rawSeq.perSecond),
        sequential_shared_stream: Math.round(f.rawSeqShared.perSecond),
        pipelined_stream_per_echo: Math.round(f.rawPipe.perSecond),
        pipelined_shared_stream: Math.round(f.rawPipeShared.perSecond)
      },
      latency_ms: {
        sequential_delivered: latency(f.seqFull),
        sequential_delivered_ack: latency(f.seqFullAck),
        sequential_acked: latency(f.seqAck),
        pipelined_delivered: latency(f.pipeFull),
        pipelined_acked: latency(f.pipeAck),
        raw_sequential_stream_per_echo: latency(f.rawSeq),
        raw_sequential_shared_stream: latency(f.rawSeqShared),
        raw_pipelined_stream_per_echo: latency(f.rawPipe),
        raw_pipelined_shared_stream: latency(f.rawPipeShared)
      },
      ack_only: {
        ratio_vs_raw_echo: round2(f.seqAck.perSecond / f.rawSeq.perSecond),
        ratio_pipelined_vs_raw: round2(f.pipeAck.perSecond / f.rawPipe.perSecond),
        p99_ratio_vs_echo: round2(f.seqAck.p99 / f.rawSeq.p99)
      },
      vs_shared_stream: {
        ratio_vs_raw_echo: round2(f.seqFull.perSecond / f.rawSeqShared.perSecond),
        ratio_pipelined_vs_raw: round2(f.pipeFull.perSecond / f.rawPipeShared.perSecond),
        p99_ratio_vs_echo: round2(f.seqFull.p99 / f.rawSeqShared.p99)
      },
      store_reads_per_message: {
        sequential_delivered: round2(seqFull.reads / seqFull.run.finished),
        pipelined_delivered: round2(pipeFull.reads / pipeFull.run.finished)
      },
      commits_per_message: {
        sequential_delivered: round2(seqFull.commits / seqFull.run.finished),
        pipelined_delivered: round2(pipeFull.commits / pipeFull.run.finished)
      },
      commit_p50_ms: round2(seqFull.commitP50),
      store_probe_ms: { read_p50: round2(probe.readP50), commit_p50: round2(probe.commitP50) },
      baseline: 'stream-per-echo',
      store,
      seconds,
      window: WINDOW,
      queued: p.queued(),
      lost: Object.fromEntries(modes.map(([name, m]) => [name.replaceAll(' ', '_'), m.losses])),
      targets_met: {
        sequential: ratio.sequential >= TARGETS.sequential,
        pipelined: ratio.pipelined >= TARGETS.pipelined,
        p99: ratio.p99 <= TARGETS.p99
      }
    })
  )
}

/** A Parley mode with the durable writes it caused and the messages it lost, until its receipts came back. */
async function parleyMode(p: ParleyPair, op: Operation, options: { window: number; seconds: number; warmup: number }) {
  let start = { commits: 0, ms: 0, reads: 0, at: 0, losses: p.losses(), queued: p.queued() }
  const run: Run = await measure(op, {
    ...options,
    onMeasured: () => {
      const { commits, ms, reads } = p.tally
      start = { commits, ms, reads, at: performance.now(), losses: p.losses(), queued: p.queued() }
      p.tally.samples.length = 0
    }
  })
  const ended = performance.now()
  await p.settle(options.window === 1 ? TIMEOUT_MS.sequential : TIMEOUT_MS.pipelined)
  const settled = performance.now()
  const samples = [...p.tally.samples].sort((a, b) => a - b)
  const losses = p.losses()
  return {
    run,
    commits: p.tally.commits - start.commits,
    commitMs: p.tally.ms - start.ms,
    reads: p.tally.reads - start.reads,
    commitP50: percentile(samples, 0.5),
    commitP99: percentile(samples, 0.99),
    wallMs: settled - start.at,
    settleMs: settled - ended,
    queued: p.queued() - start.queued,
    losses: {
      ackedNotShown: losses.ackedNotShown - start.losses.ackedNotShown,
      receiptLost: losses.receiptLost - start.losses.receiptLost
    } satisfies Losses
  }
}
