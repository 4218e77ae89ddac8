/**
 * `pnpm bench:calls` (inside the test network namespace): time from pressing call (the callee answers at once) to the
 * first decoded remote video frame, for a Parley call — signals as E2EE messages between two real messengers, the
 * engine, fingerprint binding, SFrame on every frame — and for a bare RTCPeerConnection whose signalling goes over a
 * plain libp2p stream between two libp2p nodes, in the same run, between the same two Chromium pages.
 * `BENCH_CALLS` (default 12) calls of each, alternating. Last line: one JSON object.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { defaultBackend } from '@parley/crypto'
import type { Messenger } from '@parley/messenger'
import { createNodeLibp2p } from '@parley/network'
import { assertInNetns, until } from '@parley/test-kit'
import { CallNet, launchCallBrowser, type Signal } from '../test/browser-kit.ts'
import { buildHarness } from '../test/harness/build.ts'
import { hex, messengers } from '../test/messenger.ts'

const CALLS = Number(process.env.BENCH_CALLS ?? 12)
const BARE_PROTOCOL = '/parley-bench/bare-signal/1.0.0'

assertInNetns()
const harness = await buildHarness()
const browser = await launchCallBrowser()
const m = await messengers(2)
const [ma, mb] = m.contacts as [Messenger, Messenger]
const byId = new Map(m.contacts.map((x) => [hex(x.identityKey), x]))
const n = new CallNet(browser, harness.url)
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64')
n.route = (s) => byId.get(s.from)!.signals.send(s.to, Buffer.from(s.b64, 'base64'))
for (const [id, messenger] of byId) {
  messenger.events.addEventListener('call-signal', (e) => {
    const d = (e as CustomEvent<{ contact: string; signal: Uint8Array }>).detail
    void n.deliver({ from: d.contact, to: id, b64: b64(d.signal) })
  })
}

// The baseline's transport: two plain libp2p nodes (TCP, Noise, Yamux), one long-lived stream each way.
const nodes = await Promise.all(
  [0, 1].map(async () => {
    const node = await createNodeLibp2p(await generateKeyPair('Ed25519'), defaultBackend, {
      listen: ['/ip4/127.0.0.1/tcp/0'],
      webrtc: false
    })
    await node.start()
    return node
  })
)
const A = await n.join({}, hex(ma.identityKey))
const B = await n.join({ autoAccept: true }, hex(mb.identityKey))
const pageOf = new Map([
  [A.id, A.page],
  [B.id, B.page]
])
const nodeOf = new Map([
  [A.id, nodes[0]!],
  [B.id, nodes[1]!]
])
for (const [id, node] of nodeOf) {
  await node.handle(
    BARE_PROTOCOL,
    async (stream) => {
      const lp = lpStream(stream)
      try {
        for (;;) {
          const msg = JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as Signal
          await pageOf.get(id)!.evaluate(([f, j]) => window.bare.receive(f, j), [msg.from, msg.b64] as const)
        }
      } catch {
        // The stream or the page closed at the end of the run.
      }
    },
    { runOnLimitedConnection: true }
  )
}
const outbound = new Map<string, ReturnType<typeof lpStream>>()
n.bareRoute = async (s) => {
  let lp = outbound.get(s.from)
  if (lp === undefined) {
    const to = nodeOf.get(s.to)!
    lp = lpStream(await nodeOf.get(s.from)!.dialProtocol(to.getMultiaddrs()[0]!, BARE_PROTOCOL))
    outbound.set(s.from, lp)
  }
  await lp.write(new TextEncoder().encode(JSON.stringify(s)))
  return true
}

const parley: number[] = []
const bareTimes: number[] = []
const stateOf = (p: typeof A.page, id: string) => p.evaluate((i) => window.harness.state(i)?.phase, id)
// One warm-up of each (first getUserMedia, first worker start, first session), not counted.
for (let i = 0; i <= CALLS; i++) {
  const call = await A.page.evaluate((to) => window.harness.timedCall(to), B.id)
  if (i > 0) parley.push(call.ms)
  if (process.env.BENCH_VERBOSE) {
    console.log(Math.round(call.ms), JSON.stringify(call.steps))
    const rel = (t: Array<[string, number]>) => t.map(([k, v]) => `${k}@${Math.round(v - t[0]![1])}`).join(' ')
    console.log('  A:', rel(await A.page.evaluate(() => window.harness.trace())))
    console.log('  B:', rel(await B.page.evaluate(() => window.harness.trace())))
  }
  await A.page.evaluate((id) => window.harness.hangup(id), call.id)
  await until(async () => (await stateOf(B.page, call.id)) === 'ended', 20_000, 'callee ended')
  const ms = await A.page.evaluate((to) => window.bare.call(to), B.id)
  if (i > 0) bareTimes.push(ms)
  if (process.env.BENCH_VERBOSE) {
    console.log(
      `  bare: connected@${Math.round(await A.page.evaluate(() => window.bare.connectedAt()))} first frame@${Math.round(ms)}`
    )
  }
  await A.page.evaluate(() => window.bare.hangup())
  await B.page.evaluate(() => window.bare.hangup())
  await new Promise((r) => setTimeout(r, 200))
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}
const round = (x: number) => Math.round(x * 10) / 10
const result = {
  calls: CALLS,
  setup_median_ms: round(pct(parley, 50)),
  setup_p95_ms: round(pct(parley, 95)),
  bare_median_ms: round(pct(bareTimes, 50)),
  bare_p95_ms: round(pct(bareTimes, 95)),
  ratio_setup_vs_bare: Math.round((pct(parley, 50) / pct(bareTimes, 50)) * 100) / 100,
  target_ratio: 1.2
}
console.log(
  `Parley call (E2EE signals via messengers, SFrame): median ${result.setup_median_ms} ms, p95 ${result.setup_p95_ms} ms`
)
console.log(
  `bare RTCPeerConnection (plain libp2p stream):      median ${result.bare_median_ms} ms, p95 ${result.bare_p95_ms} ms`
)
console.log(`ratio ${result.ratio_setup_vs_bare}× (target ≤ ${result.target_ratio}×)`)
console.log(JSON.stringify(result))
await n.close()
await browser.close()
await harness.stop()
await Promise.all([...nodes.map((x) => x.stop()), ...m.all.map((x) => x.stop())])
process.exit(0)
