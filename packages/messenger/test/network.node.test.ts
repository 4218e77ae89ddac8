/**
 * Discovery through the DHT only: A and B know nothing but a bootstrap address; B runs the DHT in client mode; a
 * network of small k-buckets so no node knows everyone. A finds B's record, fetches a prekey bundle from B's device,
 * sets up PQXDH, and they exchange 100 messages each way concurrently.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { Messenger } from '../src/index.ts'
import { collect, hex, node, until } from './helpers.ts'

const NETWORK_SIZE = 20
const MESSAGES = 100
const all: Messenger[] = []

afterAll(async () => {
  await Promise.all(all.map((m) => m.stop().catch(() => {})))
})

describe('messenger over a DHT network', () => {
  it(`A finds client-mode B through the DHT among ${NETWORK_SIZE} nodes; ${MESSAGES} messages each way, concurrently, exactly once, in order, with receipts`, async () => {
    const boot = await node()
    all.push(boot)
    const bootstrap = [boot.addresses[0]!]
    for (let i = 0; i < NETWORK_SIZE - 3; i++) {
      all.push(await node({ bootstrap }))
      await new Promise((r) => setTimeout(r, 30))
    }
    const a = await node({ bootstrap })
    const b = await node({ bootstrap, clientMode: true })
    all.push(a, b)
    await until(
      async () => {
        try {
          await b.publish()
          return true
        } catch {
          return false
        }
      },
      30_000,
      'B to publish'
    )

    const aMessages = collect(a, 'message')
    const bMessages = collect(b, 'message')
    const aReceipts = collect(a, 'receipt')
    const bHex = hex(b.identityKey)
    const aHex = hex(a.identityKey)
    await a.addContact(bHex, { name: 'bob' })
    const first = await a.send(bHex, 'hello from A over the DHT')
    expect(first.status).toBe('sent')
    await until(() => bMessages.length === 1, 30_000, 'first message at B')
    expect(bMessages[0]!.contact).toBe(aHex)

    await Promise.all([
      ...Array.from({ length: MESSAGES }, (_, i) => a.send(bHex, `a->b ${i}`)),
      ...Array.from({ length: MESSAGES }, (_, i) => b.send(aHex, `b->a ${i}`))
    ])
    await a.flush()
    await b.flush()
    await until(() => bMessages.length === MESSAGES + 1 && aMessages.length === MESSAGES, 60_000, 'all messages')

    // Exactly once: no duplicates among the shown messages.
    expect(new Set(bMessages.map((m) => m.id)).size).toBe(MESSAGES + 1)
    expect(new Set(aMessages.map((m) => m.id)).size).toBe(MESSAGES)
    // Per-sender order: each message has its own sequence number, and the history lists them in that order.
    const incoming = (await b.history(aHex)).filter((h) => h.direction === 'in')
    expect(incoming.map((h) => h.text).sort()).toEqual(
      ['hello from A over the DHT', ...Array.from({ length: MESSAGES }, (_, i) => `a->b ${i}`)].sort()
    )
    const seqs = incoming.map((h) => h.senderSeq)
    expect(new Set(seqs).size).toBe(MESSAGES + 1)
    const sent = (await a.history(bHex)).filter((h) => h.direction === 'out')
    const seqOf = new Map(sent.map((h) => [h.id, h.senderSeq]))
    for (const h of incoming) expect(h.senderSeq).toBe(seqOf.get(h.id))

    // Delivered receipts come back end to end; read receipts when B marks them read.
    await until(
      async () => (await a.history(bHex)).filter((h) => h.direction === 'out').every((h) => h.state === 'delivered'),
      60_000,
      'delivered receipts'
    )
    await b.markRead(
      aHex,
      bMessages.slice(0, 10).map((m) => m.id)
    )
    await until(() => aReceipts.some((r) => r.type === 'read' && r.ids.length === 10), 30_000, 'read receipt')
    const read = (await a.history(bHex)).filter((h) => h.state === 'read')
    expect(read).toHaveLength(10)
  })
})
