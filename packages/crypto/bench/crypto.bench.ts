/**
 * `pnpm bench:crypto`: our ratchet (node:crypto backend) against @signalapp/libsignal-client in one process run,
 * 100-byte messages, plus each of our figures as a percentage of its primitive ceiling (the time the primitive calls
 * that operation makes take on their own, measured in the same run by replaying the recorded calls), and the
 * WebCrypto backend in Chromium as a ratio to our Node backend. Prints figures; asserts nothing.
 * Last line: one JSON object.
 *
 * Options (environment): BENCH_SECONDS (per workload, default 2), BENCH_ROUNDS (alternating rounds per side, best
 * kept; default 2), BENCH_BROWSER=0 to leave out Chromium.
 */
import { nodeBackend } from '../src/index.ts'
import { runBrowserBench } from './browser.ts'
import { primitiveCeiling } from './ceiling.ts'
import { runLibsignalBaseline } from './libsignal-baseline.ts'
import { runOurs } from './workloads.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 2)
const fmt = (n: number) => n.toFixed(0).padStart(8)
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100

console.log(`Parley ratchet vs libsignal — ${seconds}s per workload, 100-byte messages, Node ${process.version}`)
// Rounds alternate libsignal and ours in this one process, and each side keeps its best round: the order in which
// the two run (heap state, JIT, the shared machine) then favours neither.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const best = <T extends Record<string, number>>(runs: T[]): T =>
  Object.fromEntries(Object.keys(runs[0]!).map((k) => [k, Math.max(...runs.map((r) => r[k]!))])) as T
const libsignalRuns = []
const oursRuns = []
for (let round = 0; round < ROUNDS; round++) {
  libsignalRuns.push(await runLibsignalBaseline({ seconds }))
  oursRuns.push(await runOurs(nodeBackend, seconds))
}
const libsignal = best(libsignalRuns.map((r) => ({ ...r })))
const ours = {
  ...best(oursRuns.map(({ ciphertextBytes100: _c, ...r }) => r)),
  ciphertextBytes100: oursRuns[0]!.ciphertextBytes100
}
const ceiling = await primitiveCeiling(nodeBackend, seconds / 2)

const rows: Array<[string, number, number, number]> = [
  [
    '(a) encrypt+decrypt, one direction',
    ours.encryptDecryptPerSec,
    libsignal.encryptDecryptPerSec,
    ceiling.encryptDecryptPerSec
  ],
  ['(b) ping-pong, DH step every message', ours.pingPongPerSec, libsignal.pingPongPerSec, ceiling.pingPongPerSec],
  ['(c) full session setup', ours.sessionSetupPerSec, libsignal.sessionSetupPerSec, ceiling.sessionSetupPerSec]
]
console.log(
  `${'workload'.padEnd(40)}${'ours/s'.padStart(8)}${'libsig/s'.padStart(10)}${'ratio'.padStart(8)}${'ceiling/s'.padStart(11)}${'%ceil'.padStart(7)}`
)
for (const [name, o, l, c] of rows) {
  console.log(
    `${name.padEnd(40)}${fmt(o)}${fmt(l).padStart(10)}${ratio(o, l).toFixed(2).padStart(8)}${fmt(c).padStart(11)}${((o / c) * 100).toFixed(0).padStart(6)}%`
  )
}
console.log(
  `steady-message ciphertext for a 100-byte plaintext: ours ${ours.ciphertextBytes100} B (header encrypted), libsignal ${libsignal.ciphertextBytes100} B`
)

let browser: { encryptDecryptPerSec: number; pingPongPerSec: number; sessionSetupPerSec: number } | undefined
if (process.env.BENCH_BROWSER !== '0') {
  browser = await runBrowserBench(seconds)
  console.log(
    `WebCrypto backend in Chromium: (a) ${fmt(browser.encryptDecryptPerSec)}/s (${ratio(browser.encryptDecryptPerSec, ours.encryptDecryptPerSec)}× node)` +
      `, (b) ${fmt(browser.pingPongPerSec)}/s (${ratio(browser.pingPongPerSec, ours.pingPongPerSec)}×)` +
      `, (c) ${fmt(browser.sessionSetupPerSec)}/s (${ratio(browser.sessionSetupPerSec, ours.sessionSetupPerSec)}×)`
  )
}

console.log(
  JSON.stringify({
    ratio_encrypt_decrypt: ratio(ours.encryptDecryptPerSec, libsignal.encryptDecryptPerSec),
    ratio_ping_pong: ratio(ours.pingPongPerSec, libsignal.pingPongPerSec),
    ratio_session_setup: ratio(ours.sessionSetupPerSec, libsignal.sessionSetupPerSec),
    ciphertext_bytes_100: ours.ciphertextBytes100,
    libsignal_ciphertext_bytes_100: libsignal.ciphertextBytes100,
    ceiling_pct: {
      encrypt_decrypt: Math.round((ours.encryptDecryptPerSec / ceiling.encryptDecryptPerSec) * 100),
      ping_pong: Math.round((ours.pingPongPerSec / ceiling.pingPongPerSec) * 100),
      session_setup: Math.round((ours.sessionSetupPerSec / ceiling.sessionSetupPerSec) * 100)
    },
    ours_per_sec: {
      encrypt_decrypt: Math.round(ours.encryptDecryptPerSec),
      ping_pong: Math.round(ours.pingPongPerSec),
      session_setup: Math.round(ours.sessionSetupPerSec)
    },
    libsignal_per_sec: {
      encrypt_decrypt: Math.round(libsignal.encryptDecryptPerSec),
      ping_pong: Math.round(libsignal.pingPongPerSec),
      session_setup: Math.round(libsignal.sessionSetupPerSec)
    },
    ...(browser && {
      webcrypto_chromium_vs_node: {
        encrypt_decrypt: ratio(browser.encryptDecryptPerSec, ours.encryptDecryptPerSec),
        ping_pong: ratio(browser.pingPongPerSec, ours.pingPongPerSec),
        session_setup: ratio(browser.sessionSetupPerSec, ours.sessionSetupPerSec)
      }
    })
  })
)
