import { nodeBackend } from '../src/index.ts'
import { benchSide, establish, oneWay } from './workloads.ts'

const a = await benchSide(nodeBackend, 'a'),
  b = await benchSide(nodeBackend, 'b')
await establish(nodeBackend, a, b)
await oneWay(a, b)
const pt = new Uint8Array(100)
let te = 0,
  td = 0
for (let r = 0; r < 3; r++) {
  te = 0
  td = 0
  for (let i = 0; i < 5000; i++) {
    const t0 = performance.now()
    const m = await a.manager.encrypt(b.address, pt)
    const t1 = performance.now()
    await b.manager.decrypt(m.ciphertext, { messageId: m.messageId, address: a.address })
    td += performance.now() - t1
    te += t1 - t0
  }
  console.log('encrypt us', ((te * 1000) / 5000).toFixed(1), 'decrypt us', ((td * 1000) / 5000).toFixed(1))
}
