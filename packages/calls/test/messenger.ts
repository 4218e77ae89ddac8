/** Node messengers for the calls' end-to-end tests and bench: in-memory encrypted profiles, one bootstrap, loopback. */
import { toHex as hex } from '@parley/crypto'
import { createMessenger, type Messenger } from '@parley/messenger'
import { memoryProfile } from '@parley/messenger/testing'

const ONE_HOST = {
  kBucketSize: 4,
  rangeLimits: { maxInboundConnectionsPerRange: 1_000 },
  routingLimits: { maxRoutingPeersPerRange: 1_000, maxRoutingPeersPerRangePerBucket: 1_000 }
}

/** Lower-case hex of bytes (identity keys as the API takes them): @parley/crypto's `toHex`. */
export { hex }

/** A bootstrap node and `n` messengers that all have each other as contacts, each published in the DHT. */
export async function messengers(
  n: number,
  extra = 0
): Promise<{ all: Messenger[]; contacts: Messenger[]; others: Messenger[] }> {
  const boot = await createMessenger({ store: await memoryProfile(), network: ONE_HOST })
  const bootstrap = [boot.addresses[0]!]
  const make = async () => createMessenger({ store: await memoryProfile(), network: { ...ONE_HOST, bootstrap } })
  const contacts: Messenger[] = []
  for (let i = 0; i < n; i++) contacts.push(await make())
  const others: Messenger[] = []
  for (let i = 0; i < extra; i++) others.push(await make())
  for (const m of [...contacts, ...others]) {
    const end = Date.now() + 30_000
    for (;;) {
      try {
        await m.publish()
        break
      } catch (e) {
        if (Date.now() > end) throw e
        await new Promise((r) => setTimeout(r, 200))
      }
    }
  }
  for (const x of contacts) for (const y of contacts) if (x !== y) await x.addContact(hex(y.identityKey))
  return { all: [boot, ...contacts, ...others], contacts, others }
}
