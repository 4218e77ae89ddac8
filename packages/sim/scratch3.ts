import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { SimWorld } from './src/world.ts'

const t0 = performance.now()
let updates = 0,
  conns = 0
const w = await SimWorld.start({
  seed: 's1',
  nodes: Number(process.argv[2] ?? 10),
  relays: 1,
  model: { latency: { kind: 'constant', ms: 5 }, jitterMs: 1, loss: 0, bandwidthBps: 0 },
  dataDir: await mkdtemp(`${tmpdir()}/sim-`),
  onJoin: (d, t) => {
    if (d % 8 === 0) console.error('cpu', process.cpuUsage())
    const s = w0()
    console.error('joined', d, Math.round(performance.now() - t0), JSON.stringify(s))
  }
})
function w0() {
  return (globalThis as any).W
    ? { chunks: (globalThis as any).W.fabric.stats.chunks, cut: (globalThis as any).W.fabric.stats.connectionsCut }
    : {}
}
;(globalThis as any).W = w
for (const i of w.upNodes()) {
  const n = w.node(i)!.libp2p
  n.addEventListener('self:peer:update', () => updates++)
  n.addEventListener('connection:open', () => conns++)
}
let cpu = process.cpuUsage()
for (let k = 0; k < 8; k++) {
  await new Promise((r) => setTimeout(r, 1000))
  const c = process.cpuUsage(cpu)
  cpu = process.cpuUsage()
  console.log('cpu%', Math.round((c.user + c.system) / 1e4))
  console.log(
    't',
    k,
    'chunks',
    w.fabric.stats.chunks,
    'updates',
    updates,
    'conns',
    conns,
    'puts',
    w
      .upNodes()
      .map((i) => w.probe(i)!.puts)
      .reduce((a, b) => a + b, 0),
    'addrs',
    w.node(5)!.libp2p.getMultiaddrs().map(String).join(' ')
  )
}
await w.stop()
setTimeout(() => process.exit(0), 100).unref()
