import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { SimWorld } from './src/world.ts'

const t0 = performance.now()
const w = await SimWorld.start({
  seed: 's1',
  nodes: Number(process.argv[2] ?? 10),
  relays: 1,
  model: { latency: { kind: 'constant', ms: 5 }, jitterMs: 1, loss: 0, bandwidthBps: 0 },
  dataDir: await mkdtemp(`${tmpdir()}/sim-`),
  onJoin: (d, t) => console.error('joined', d, t, Math.round(performance.now() - t0))
})
console.log('join ms', w.joinWallMs, 'rss/node MiB', (w.rssAfterJoin - w.rssBefore) / 1048576 / w.options.nodes)
await new Promise((r) => setTimeout(r, 100))
console.log(
  'puts',
  w
    .upNodes()
    .map((i) => w.probe(i)!.puts)
    .join(',')
)
let ok = 0
for (let k = 0; k < 10; k++) {
  const a = k % w.options.nodes,
    b = (k * 7 + 3) % w.options.nodes
  const s = performance.now()
  try {
    const r = await w.node(a)!.messenger.lookup(w.node(b)!.messenger.identityKey)
    ok++
    console.log(
      'lookup',
      a,
      b,
      Math.round(performance.now() - s),
      'ms hops',
      w.probe(a)!.hops.get([...w.probe(a)!.hops.keys()].at(-1)!),
      r.peerId.equals(w.node(b)!.libp2p.peerId)
    )
  } catch (e) {
    console.log('fail', (e as Error).message)
  }
}
console.log('ok', ok, w.fabric.stats)
await w.stop()
console.log('total', performance.now() - t0)
setTimeout(() => process.exit(0), 100).unref()
