/**
 * How much disk LevelDB takes for a mailbox store held at its cap (`maxStoreBytes`): fills one mailbox with 16 KiB
 * envelopes until the relay answers RelayFull, drains it, and repeats, printing the data directory's size (du -sb)
 * against the cap. Deleted records stay in LevelDB's files until compaction, so under churn the files run above the
 * cap the relay accounts: docs/relay-operator.md quotes this figure. Last, it times a start on the full store (the
 * quota index is rebuilt by reading every record).
 *
 *   pnpm exec node packages/relay/bench/mailbox-store-disk.ts            # 64 MiB cap, 6 cycles
 *   CAP_MIB=256 CYCLES=4 pnpm exec node packages/relay/bench/mailbox-store-disk.ts
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { defaultBackend as backend, generateIdentity } from '@parley/crypto'
import { MailboxClient } from '@parley/network'
import { openStore } from '@parley/store'
import { protocols } from '@parley/wire'
import { createLibp2p } from 'libp2p'
import { openMailboxServer } from '../src/index.ts'

const cap = Number(process.env.CAP_MIB ?? 64) * 1024 * 1024
const cycles = Number(process.env.CYCLES ?? 6)
const node = (listen: string[] = []) =>
  createLibp2p({ addresses: { listen }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })

const dir = await mkdtemp(join(tmpdir(), 'parley-mailbox-disk-'))
const du = () => Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0])
const store = await openStore({ kind: 'level', path: dir })
const server = await openMailboxServer({
  datastore: store,
  limits: { maxStoreBytes: cap, maxBytesPerMailbox: cap, maxItemsPerMailbox: 1e6, depositsPerMinutePerRange: 1e6 }
})
const relay = await node(['/ip4/127.0.0.1/tcp/0'])
await server.attach(relay)
const sender = await node()
const client = new MailboxClient(
  await sender.dialProtocol(relay.getMultiaddrs()[0]!, protocols().mailbox),
  relay.peerId
)
const owner = await generateIdentity(backend)
await client.register(backend, owner, { expiresAt: Date.now() + 86_400_000 })
await client.authenticate(backend, owner)

let peak = 0
for (let cycle = 0; cycle < cycles; cycle++) {
  let deposits = 0
  for (;;) {
    try {
      await client.deposit(owner.publicKey, backend.randomBytes(16 * 1024))
      deposits++
    } catch {
      break // RelayFull
    }
  }
  const full = du()
  const accounted = server.stats().storeBytes
  for (;;) {
    const page = await client.fetch()
    await client.ack(page.items.map((i) => i.id))
    if (!page.more) break
  }
  const drained = du()
  peak = Math.max(peak, full, drained)
  console.log(
    `cycle ${cycle}: ${deposits} deposits, accounted ${accounted} of ${cap} bytes; ` +
      `on disk ${(full / cap).toFixed(2)}x the cap when full, ${(drained / cap).toFixed(2)}x once drained`
  )
}
console.log(`peak on disk: ${(peak / cap).toFixed(2)}x the cap`)

// A start rebuilds the quota index by reading every record: time it on a full store.
for (;;) {
  try {
    await client.deposit(owner.publicKey, backend.randomBytes(16 * 1024))
  } catch {
    break
  }
}
await server.close()
await store.close()
const reopened = await openStore({ kind: 'level', path: dir })
const t0 = performance.now()
const again = await openMailboxServer({ datastore: reopened, limits: { maxStoreBytes: cap } })
const ms = performance.now() - t0
console.log(
  `start on a full store: ${ms.toFixed(0)} ms to index ${again.stats().storedEnvelopes} envelopes, ` +
    `${again.stats().storeBytes} bytes (${((again.stats().storeBytes / 1048576 / ms) * 1000).toFixed(0)} MiB/s)`
)
await again.close()
await reopened.close()
await sender.stop()
await relay.stop()
await rm(dir, { recursive: true, force: true })
