/**
 * `pnpm bench:messaging`: Parley message delivery between two messengers A and B over one loopback TCP connection,
 * against echoes over that same connection, in the same run. 100-byte texts and frames.
 *
 * Parley modes: sequential (one message in flight) and pipelined (64 in flight). Full delivery is A.send() → encrypt
 * → stream → B decrypts → durable commit → ack → B's end-to-end encrypted `delivered` receipt back at A; the figures
 * up to the ack (send() resolving) are reported too.
 *
 * The baseline the targets use is the durable echo (durable-echo.ts): one shared stream, each side writing the frame
 * to its own fsynced LevelDB (the backend of Parley's profiles, same options, same directory) before it echoes (B) or
 * counts the echo (A), group-committing what arrives during an fsync. That is the floor any durable messenger on
 * this stack pays. The raw echoes without a disk (one shared stream; one stream per echo) are reported beside it.
 * Prints figures and asserts nothing. Last line: one JSON object.
 *
 * Options (environment): BENCH_SECONDS (per mode, default 5), BENCH_STORE=level (default: on-disk LevelDB, every
 * commit fsynced) or memory (Parley's profiles in memory, to see what the fsyncs cost; the durable echo stays on disk).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { attachDurableEcho, type CommitCount, type DurableEcho } from './durable-echo.ts'
import { type Figures, figures, measure, type Run, round2 } from './measure.ts'
import { type ParleyMode, type ParleyPair, parleyMode, type StoreKind, startParleyPair } from './parley-pair.ts'
import { attachEcho, type Echo, FRAME_BYTES } from './raw-echo.ts'
import { probeStore } from './store-probe.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const warmup = Math.min(2, Math.max(0.5, seconds / 5))
const store: StoreKind = process.env.BENCH_STORE === 'memory' ? 'memory' : 'level'
const WINDOW = 64
const TEXT = 'x'.repeat(FRAME_BYTES)
/**
 * Against the durable echo: full-delivery rate at least this share of its rate (sequential, pipelined), sequential
 * full-delivery p99 at most this multiple of its p99; process CPU per delivered message, pipelined, at most this.
 */
const TARGETS = { sequential: 0.5, pipelined: 0.5, p99: 3, cpuMsPerMessage: 1 }
/**
 * How long a message may take before it counts as lost: sequential receipts take tens of ms, a send that fell back
 * to the outbox waits for the 1 s retry tick; 64 in flight take seconds each.
 */
const TIMEOUT_MS = { sequential: 3_000, pipelined: 20_000 }

const dir = await mkdtemp(join(tmpdir(), 'parley-bench-'))
let parley: ParleyPair | undefined
let durable: DurableEcho | undefined
try {
  parley = await startParleyPair(store, dir, TEXT)
  durable = await attachDurableEcho(parley.nodes.a, parley.nodes.b, dir)
  await run(parley, await attachEcho(parley.nodes.a, parley.nodes.b), durable)
} finally {
  await durable?.close()
  await parley?.stop()
  await rm(dir, { recursive: true, force: true })
}

async function run(p: ParleyPair, echo: Echo, durable: DurableEcho): Promise<void> {
  console.log(
    `Parley messaging vs durable and raw libp2p echoes — ${seconds}s per mode after ${warmup}s warm-up, ${FRAME_BYTES}-byte ` +
      `texts/frames, profiles: ${store === 'level' ? 'LevelDB on disk, durable commits fsynced (group commit), relaxed ones not' : 'in memory (no fsync)'}, ` +
      `Node ${process.version}`
  )
  // One libp2p connection is one TCP socket at each end: A↔B alone makes 2.
  const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length
  console.log(`connections A↔B: ${p.connections()} (TCP sockets in the process: ${sockets()}, expected 2)`)

  // Modes run close together in time, since the 2 cores are shared with other work: Parley's full delivery runs
  // between two durable-echo runs, and the baseline takes the stricter figure of the two (the higher rate, the lower
  // latencies and CPU), so a busy moment during the baseline cannot flatter Parley.
  const sequential = { window: 1, seconds, warmup }
  const pipelined = { window: WINDOW, seconds, warmup }
  const shared = await echo.openSharedStream()
  const durableShared = await durable.openSharedStream()
  const durableMode = async (options: typeof sequential) => {
    const run = await measure(durableShared.echo, { ...options, onMeasured: () => durable.resetCount() })
    return { run, count: durable.count() }
  }
  const rawSeq = await measure(echo.streamPerEcho, sequential)
  const rawSeqShared = await measure(shared.echo, sequential)
  const durableSeqBefore = await durableMode(sequential)
  const seqFull = await parleyMode(p, p.sendDelivered(TIMEOUT_MS.sequential), settle(sequential))
  const durableSeq = stricter(durableSeqBefore, await durableMode(sequential))
  const seqAck = await parleyMode(p, p.sendAcked(TIMEOUT_MS.sequential), settle(sequential))
  const rawPipe = await measure(echo.streamPerEcho, pipelined)
  const rawPipeShared = await measure(shared.echo, pipelined)
  const durablePipeBefore = await durableMode(pipelined)
  const pipeFull = await parleyMode(p, p.sendDelivered(TIMEOUT_MS.pipelined), settle(pipelined))
  const durablePipe = stricter(durablePipeBefore, await durableMode(pipelined))
  const pipeAck = await parleyMode(p, p.sendAcked(TIMEOUT_MS.pipelined), settle(pipelined))
  await shared.close()
  await durableShared.close()
  const connectionsAfter = p.connections()
  const probe = await probeStore(store, dir, Math.min(1, seconds / 5))

  const f = {
    rawSeq: figures(rawSeq),
    rawSeqShared: figures(rawSeqShared),
    durableSeq: durableSeq.figures,
    rawPipe: figures(rawPipe),
    rawPipeShared: figures(rawPipeShared),
    durablePipe: durablePipe.figures,
    seqFull: figures(seqFull.run, 1),
    seqFullAck: figures(seqFull.run, 0),
    seqAck: figures(seqAck.run),
    pipeFull: figures(pipeFull.run, 1),
    pipeFullAck: figures(pipeFull.run, 0),
    pipeAck: figures(pipeAck.run)
  }
  // CPU is the whole process's (both ends, all threads, fsyncs on the libuv pool included) per completed operation:
  // on 2 shared cores it shows what saturates first.
  console.log(
    `${'mode'.padEnd(78)}${'msg/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'CPU ms/msg'.padStart(12)}`
  )
  const row = (name: string, x: Figures, rate = true) =>
    console.log(
      `${name.padEnd(78)}${(rate ? x.perSecond.toFixed(0) : '').padStart(9)}${x.p50.toFixed(2).padStart(9)}` +
        `${x.p99.toFixed(2).padStart(9)}${(rate ? x.cpuMs.toFixed(3) : '').padStart(12)}`
    )
  console.log('sequential (one in flight)')
  row('  raw echo, one stream per echo', f.rawSeq)
  row('  raw echo, one shared stream', f.rawSeqShared)
  row('  durable echo, one shared stream, fsync at each end (baseline)', f.durableSeq)
  console.log(`    ${durableSeq.note}`)
  row("  Parley full delivery: send → B's encrypted delivered receipt at A", f.seqFull)
  row('    the same messages, send → ack (send() resolved)', f.seqFullAck, false)
  row('  Parley send → ack back to back (receipts come back meanwhile)', f.seqAck)
  console.log(`pipelined (${WINDOW} in flight)`)
  row(`  raw echo, one stream per echo, ${WINDOW} streams open`, f.rawPipe)
  row(`  raw echo, one shared stream, ${WINDOW} frames outstanding`, f.rawPipeShared)
  row(`  durable echo, ${WINDOW} frames outstanding, group commit (baseline)`, f.durablePipe)
  console.log(`    ${durablePipe.note}`)
  row(`  Parley full delivery, ${WINDOW} messages awaiting their delivered receipt`, f.pipeFull)
  row('    the same messages, send → ack', f.pipeFullAck, false)
  row(`  Parley send → ack, ${WINDOW} send() calls outstanding`, f.pipeAck)

  const ratio = {
    sequential: f.seqFull.perSecond / f.durableSeq.perSecond,
    pipelined: f.pipeFull.perSecond / f.durablePipe.perSecond,
    p99: f.seqFull.p99 / f.durableSeq.p99,
    p99Pipelined: f.pipeFull.p99 / f.durablePipe.p99,
    cpu: f.pipeFull.cpuMs
  }
  const met = {
    sequential: ratio.sequential >= TARGETS.sequential,
    pipelined: ratio.pipelined >= TARGETS.pipelined,
    p99: ratio.p99 <= TARGETS.p99,
    cpu: ratio.cpu <= TARGETS.cpuMsPerMessage
  }
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED')
  console.log('targets, against the durable echo (the floor of a durable messenger on this stack):')
  console.log(
    `  sequential full delivery ${round2(ratio.sequential)}× the durable echo rate (target ≥ ${TARGETS.sequential}: ` +
      `${verdict(met.sequential)}); ack only ${round2(f.seqAck.perSecond / f.durableSeq.perSecond)}×`
  )
  console.log(
    `  pipelined full delivery ${round2(ratio.pipelined)}× the pipelined durable echo rate (target ≥ ${TARGETS.pipelined}: ` +
      `${verdict(met.pipelined)}); ack only ${round2(f.pipeAck.perSecond / f.durablePipe.perSecond)}×`
  )
  console.log(
    `  sequential full-delivery p99 ${round2(ratio.p99)}× the durable echo p99 (target ≤ ${TARGETS.p99}: ` +
      `${verdict(met.p99)}); pipelined p99 ${round2(ratio.p99Pipelined)}× the pipelined durable echo p99 (no target)`
  )
  console.log(
    `  process CPU per delivered message, pipelined: ${ratio.cpu.toFixed(3)} ms (A and B together; target ≤ ` +
      `${TARGETS.cpuMsPerMessage} ms: ${verdict(met.cpu)}); durable echo ${f.durablePipe.cpuMs.toFixed(3)} ms`
  )
  const vs = (x: { seq: Figures; pipe: Figures }) => ({
    sequential: f.seqFull.perSecond / x.seq.perSecond,
    pipelined: f.pipeFull.perSecond / x.pipe.perSecond,
    p99: f.seqFull.p99 / x.seq.p99
  })
  const vsShared = vs({ seq: f.rawSeqShared, pipe: f.rawPipeShared })
  const vsStreamPer = vs({ seq: f.rawSeq, pipe: f.rawPipe })
  console.log('for reference, against the raw echoes (no disk):')
  for (const [name, r] of [
    ['one shared stream', vsShared],
    ['one stream per echo', vsStreamPer]
  ] as const) {
    console.log(
      `  ${name.padEnd(20)} sequential ${round2(r.sequential)}×, pipelined ${round2(r.pipelined)}×, p99 ${round2(r.p99)}×`
    )
  }
  const modes = [
    ['sequential full delivery', seqFull],
    ['sequential ack only', seqAck],
    ['pipelined full delivery', pipeFull],
    ['pipelined ack only', pipeAck]
  ] as const
  printStoreWork(modes, seqFull, f.seqFull, f.rawSeqShared, probe)
  console.log(`connections A↔B after the run: ${connectionsAfter} (TCP sockets: ${sockets()})`)

  const latency = (x: Figures) => ({ p50: round2(x.p50), p99: round2(x.p99) })
  const perMessage = (m: ParleyMode, n: number) => round2(n / m.run.finished)
  console.log(
    JSON.stringify({
      ratio_vs_durable_echo: round2(ratio.sequential),
      ratio_pipelined_vs_durable_echo: round2(ratio.pipelined),
      p99_ratio_vs_durable_echo: round2(ratio.p99),
      p99_ratio_pipelined_vs_durable_echo: round2(ratio.p99Pipelined),
      cpu_ms_per_message_pipelined: Math.round(ratio.cpu * 1000) / 1000,
      msgs_per_s: {
        sequential_delivered: Math.round(f.seqFull.perSecond),
        sequential_acked: Math.round(f.seqAck.perSecond),
        pipelined_delivered: Math.round(f.pipeFull.perSecond),
        pipelined_acked: Math.round(f.pipeAck.perSecond)
      },
      targets: TARGETS,
      targets_met: met,
      durable_echo: {
        msgs_per_s: { sequential: Math.round(f.durableSeq.perSecond), pipelined: Math.round(f.durablePipe.perSecond) },
        latency_ms: { sequential: latency(f.durableSeq), pipelined: latency(f.durablePipe) },
        cpu_ms_per_message: { sequential: round2(f.durableSeq.cpuMs), pipelined: round2(f.durablePipe.cpuMs) },
        frames_per_fsync: {
          sequential: round2(durableSeq.framesPerFsync),
          pipelined: round2(durablePipe.framesPerFsync)
        },
        runs_msgs_per_s: { sequential: durableSeq.rates, pipelined: durablePipe.rates }
      },
      cpu_ms_per_message: {
        sequential_delivered: round2(f.seqFull.cpuMs),
        pipelined_delivered: round2(f.pipeFull.cpuMs),
        raw_sequential_shared_stream: round2(f.rawSeqShared.cpuMs),
        raw_pipelined_shared_stream: round2(f.rawPipeShared.cpuMs)
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
      vs_shared_stream: {
        ratio: round2(vsShared.sequential),
        ratio_pipelined: round2(vsShared.pipelined),
        p99_ratio: round2(vsShared.p99)
      },
      vs_stream_per_echo: {
        ratio: round2(vsStreamPer.sequential),
        ratio_pipelined: round2(vsStreamPer.pipelined),
        p99_ratio: round2(vsStreamPer.p99)
      },
      store_reads_per_message: {
        sequential_delivered: perMessage(seqFull, seqFull.reads),
        pipelined_delivered: perMessage(pipeFull, pipeFull.reads)
      },
      commits_per_message: {
        sequential_delivered: perMessage(seqFull, seqFull.commits),
        pipelined_delivered: perMessage(pipeFull, pipeFull.commits)
      },
      relaxed_commits_per_message: {
        sequential_delivered: perMessage(seqFull, seqFull.relaxed),
        pipelined_delivered: perMessage(pipeFull, pipeFull.relaxed)
      },
      fsyncs_per_message: {
        sequential_delivered: perMessage(seqFull, seqFull.fsyncs),
        pipelined_delivered: perMessage(pipeFull, pipeFull.fsyncs)
      },
      commit_p50_ms: round2(seqFull.commitP50),
      store_probe_ms: { read_p50: round2(probe.readP50), commit_p50: round2(probe.commitP50) },
      baseline: 'durable-echo',
      store,
      seconds,
      window: WINDOW,
      queued: p.queued(),
      lost: Object.fromEntries(modes.map(([name, m]) => [name.replaceAll(' ', '_'), m.losses]))
    })
  )
}

/**
 * The stricter figure of two durable-echo runs: the higher rate, the lower latencies and CPU per echo (never a
 * weaker baseline than either run), with both rates and the frames each fsync carried.
 */
function stricter(...runs: Array<{ run: Run; count: CommitCount }>) {
  const all = runs.map((r) => figures(r.run))
  const commits = runs.reduce((n, r) => n + r.count.commits, 0)
  const framesPerFsync = runs.reduce((n, r) => n + r.count.frames, 0) / Math.max(1, commits)
  const rates = all.map((x) => Math.round(x.perSecond))
  return {
    figures: {
      perSecond: Math.max(...all.map((x) => x.perSecond)),
      p50: Math.min(...all.map((x) => x.p50)),
      p99: Math.min(...all.map((x) => x.p99)),
      count: Math.max(...all.map((x) => x.count)),
      cpuMs: Math.min(...all.map((x) => x.cpuMs))
    } satisfies Figures,
    rates,
    framesPerFsync,
    note: `the stricter figures of runs before and after Parley's (${rates.join(' and ')}/s), ${framesPerFsync.toFixed(1)} frames per fsync`
  }
}

/** A mode's options plus how long its receipts may take to settle. */
function settle(options: { window: number; seconds: number; warmup: number }) {
  return { ...options, settleMs: options.window === 1 ? TIMEOUT_MS.sequential : TIMEOUT_MS.pipelined }
}

/** What the messengers asked of their stores per message, and the messages that never completed. */
function printStoreWork(
  modes: ReadonlyArray<readonly [string, ParleyMode]>,
  seqFull: ParleyMode,
  seqFullFigures: Figures,
  sharedEcho: Figures,
  probe: { readP50: number; commitP50: number }
): void {
  console.log(
    'profile store work (A and B together, per finished message, from the start of each measured run until its receipts settled):'
  )
  for (const [name, m] of modes) {
    console.log(
      `  ${name.padEnd(26)} ${(m.reads / m.run.finished).toFixed(1)} reads, ${(m.commits / m.run.finished).toFixed(1)} writes ` +
        `(${(m.relaxed / m.run.finished).toFixed(1)} relaxed), ${(m.fsyncs / m.run.finished).toFixed(2)} ` +
        `${store === 'level' ? 'fsynced backend batches' : 'backend batches'}` +
        ` (write p50 ${m.commitP50.toFixed(2)} ms, p99 ${m.commitP99.toFixed(2)} ms; write time summed = ` +
        `${((m.commitMs / m.wallMs) * 100).toFixed(0)}% of wall time), receipts settled ${m.settleMs.toFixed(0)} ms after the run`
    )
  }
  const reads = seqFull.reads / seqFull.run.finished
  const commits = seqFull.fsyncs / seqFull.run.finished
  const storeMs = reads * probe.readP50 + commits * probe.commitP50
  console.log(
    `  store on its own: read p50 ${probe.readP50.toFixed(2)} ms, 3-put batch commit p50 ${probe.commitP50.toFixed(2)} ms → ` +
      `sequential full delivery spends ≈ ${storeMs.toFixed(1)} ms of its ${(1000 / seqFullFigures.perSecond).toFixed(1)} ms per ` +
      `message in the store (${((storeMs * seqFullFigures.perSecond) / 10).toFixed(0)}%; ${(reads * probe.readP50).toFixed(1)} ms ` +
      `reading, ${(commits * probe.commitP50).toFixed(1)} ms writing), and two stream round trips ≈ ` +
      `${(2 * sharedEcho.p50).toFixed(1)} ms (message and receipt: 2 × the shared-stream echo p50)`
  )
  console.log('messages that never completed (from the measured run through its settling):')
  for (const [name, m] of modes) {
    console.log(
      `  ${name.padEnd(26)} ${m.losses.ackedNotShown} acked by B but never shown there (so never receipted), ` +
        `${m.losses.receiptLost} shown but their receipt never reached A, ${m.queued} sends fell back to the outbox`
    )
  }
}
