/**
 * A load-generating process of the relay benchmark (forked by relay.bench.ts): light libp2p clients (TCP, Noise,
 * Yamux, identify; a circuit relay transport on those that hold a reservation), each dialling the relay from its own
 * 127.x.y.z source address. On the parent's command it connects them, registers mailbox owners, runs timed echo or
 * deposit loops on some of the connections, or has the owners fetch and acknowledge their mailboxes.
 */
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { defaultBackend, fromHex, generateIdentity, type IdentityKeyPair, toHex } from '@parley/crypto'
import { MailboxClient, MailboxError } from '@parley/messenger'
import { ECHO_PROTOCOL } from '@parley/relay'
import { protocols } from '@parley/wire'
import { createLibp2p, type Libp2p } from 'libp2p'
import { type DrainResult, type RunResult, serve, sleep, watchBusy } from './ipc.ts'

/** Clients dialling at once from one worker (the relay's pending-upgrade limit is raised well above all of them). */
const CONNECT_PARALLEL = 16
const MAILBOX = protocols().mailbox

interface Client {
  node: Libp2p
  reserve: boolean
}

/** One request stream on one client connection, used back to back. */
interface Slot {
  op(): Promise<void>
  close(): Promise<void>
}

const clients: Client[] = []
const owners: Array<{ node: Libp2p; identity: IdentityKeyPair }> = []
// Set by `connect`, before anything else runs.
let relayAddr: Multiaddr
let relayPeer: ReturnType<typeof peerIdFromString>

async function createClient(ip: string, reserve: boolean): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: reserve ? [`${relayAddr.toString()}/p2p-circuit`] : [] },
    // @libp2p/tcp hands dialOpts to net.connect: each client's connection leaves from its own loopback address.
    transports: [tcp({ dialOpts: { localAddress: ip } as never }), ...(reserve ? [circuitRelayTransport()] : [])],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
  if (!reserve) await node.dial(relayAddr)
  else if (!node.getMultiaddrs().some((ma) => ma.toString().includes('/p2p-circuit'))) {
    await node.stop()
    throw new Error('no reservation')
  }
  return node
}

const errorName = (err: unknown): string =>
  err instanceof MailboxError ? err.code : err instanceof Error ? err.name : 'unknown'

function count(errors: Record<string, number>, err: unknown): void {
  const name = errorName(err)
  errors[name] = (errors[name] ?? 0) + 1
}

async function openEcho(node: Libp2p, payload: Uint8Array): Promise<Slot> {
  const stream = await node.dialProtocol(relayAddr, ECHO_PROTOCOL)
  const lp = lpStream(stream)
  return {
    op: async () => {
      await lp.write(payload)
      const echoed = await lp.read()
      if (echoed.byteLength !== payload.byteLength) throw new Error('short echo')
    },
    close: () => stream.close()
  }
}

async function openDeposit(
  node: Libp2p,
  recipients: readonly Uint8Array[],
  envelope: Uint8Array,
  first: number
): Promise<Slot> {
  const client = new MailboxClient(await node.dialProtocol(relayAddr, MAILBOX), relayPeer)
  let next = first
  return {
    op: async () => {
      await client.deposit(recipients[next++ % recipients.length]!, envelope)
    },
    close: () => client.close()
  }
}

interface RunArgs {
  kind: 'echo' | 'deposit'
  /** Request streams this worker keeps busy, each on its own client connection. */
  slots: number
  payloadBytes: number
  /** Epoch ms: the warm-up starts, then the measured window of `measureMs`. */
  startAt: number
  warmupMs: number
  measureMs: number
  /** Deposit runs: the owners' identity keys (hex). */
  recipients: string[]
}

async function run(args: RunArgs): Promise<RunResult> {
  const payload = new Uint8Array(args.payloadBytes).map((_, i) => (i * 31 + 7) & 0xff)
  const recipients = args.recipients.map(fromHex)
  // Spread the busy connections over the worker's clients, reservation holders and plain ones alike.
  const step = Math.max(1, Math.floor(clients.length / args.slots))
  const open = (i: number) => {
    const node = clients[(i * step) % clients.length]!.node
    return args.kind === 'echo' ? openEcho(node, payload) : openDeposit(node, recipients, payload, i)
  }
  const slots = await Promise.all(Array.from({ length: args.slots }, (_, i) => open(i)))
  const result: RunResult = {
    count: 0,
    latencies: [],
    errors: {},
    busy: { cpuMs: 0, loopDelayP99Ms: 0, loopDelayMaxMs: 0, gcMs: 0 }
  }
  const windowStart = args.startAt + args.warmupMs
  const windowEnd = windowStart + args.measureMs
  let busy: ReturnType<typeof watchBusy> | undefined
  const busyStart = setTimeout(() => {
    busy = watchBusy()
  }, windowStart - Date.now())
  const busyEnd = setTimeout(() => {
    if (busy !== undefined) result.busy = busy.end()
    busy = undefined
  }, windowEnd - Date.now())
  await sleep(args.startAt - Date.now())
  const loop = async (i: number) => {
    let slot: Slot | undefined = slots[i]
    while (slot !== undefined && Date.now() < windowEnd) {
      const start = performance.now()
      try {
        await slot.op()
        const now = Date.now()
        if (now >= windowStart && now <= windowEnd) {
          result.count++
          result.latencies.push(performance.now() - start)
        }
      } catch (err) {
        if (Date.now() >= windowStart) count(result.errors, err)
        if (err instanceof MailboxError) await sleep(10)
        else {
          // The stream broke: open a fresh one on the same connection, or give the slot up.
          slot = await open(i).catch(() => undefined)
          slots[i] = slot ?? slots[i]!
        }
      }
    }
  }
  await Promise.all(slots.map((_, i) => loop(i)))
  clearTimeout(busyStart)
  clearTimeout(busyEnd)
  if (busy !== undefined) result.busy = busy.end()
  await Promise.allSettled(slots.map((s) => s.close()))
  return result
}

serve({
  connect: async (args: {
    relay: string
    relayPeerId: string
    ips: string[]
    reserve: boolean[]
  }): Promise<{ connected: number; reserved: number; failed: Record<string, number>; ms: number }> => {
    relayAddr = multiaddr(args.relay)
    relayPeer = peerIdFromString(args.relayPeerId)
    const started = performance.now()
    const failed: Record<string, number> = {}
    let next = 0
    const dialer = async () => {
      while (next < args.ips.length) {
        const i = next++
        try {
          clients.push({ node: await createClient(args.ips[i]!, args.reserve[i]!), reserve: args.reserve[i]! })
        } catch (err) {
          count(failed, err)
        }
      }
    }
    await Promise.all(Array.from({ length: CONNECT_PARALLEL }, dialer))
    return {
      connected: clients.length,
      reserved: clients.filter((c) => c.reserve).length,
      failed,
      ms: performance.now() - started
    }
  },
  /** Makes the worker's last `count` clients mailbox owners, registered at the relay; returns their keys (hex). */
  owners: async ({ count: n }: { count: number }): Promise<string[]> => {
    const expiresAt = Date.now() + 24 * 3600_000
    const chosen = clients.slice(-n)
    await Promise.all(
      chosen.map(async ({ node }) => {
        const identity = await generateIdentity(defaultBackend)
        const client = new MailboxClient(await node.dialProtocol(relayAddr, MAILBOX), relayPeer)
        try {
          await client.register(defaultBackend, identity, { expiresAt })
        } finally {
          await client.close()
        }
        owners.push({ node, identity })
      })
    )
    return owners.map((o) => toHex(o.identity.publicKey))
  },
  run,
  /** Every owner at once: authenticate, then fetch a page and acknowledge it until the mailbox is empty. */
  drain: async (): Promise<DrainResult> => {
    const r: DrainResult = { fetchMs: [], authMs: [], ackMs: [], items: 0, pages: 0, errors: {} }
    await Promise.all(
      owners.map(async ({ node, identity }) => {
        try {
          const client = new MailboxClient(await node.dialProtocol(relayAddr, MAILBOX), relayPeer)
          try {
            let t = performance.now()
            await client.authenticate(defaultBackend, identity)
            r.authMs.push(performance.now() - t)
            for (;;) {
              t = performance.now()
              const page = await client.fetch()
              r.fetchMs.push(performance.now() - t)
              r.pages++
              r.items += page.items.length
              t = performance.now()
              if (page.items.length > 0) {
                await client.ack(page.items.map((item) => item.id))
                r.ackMs.push(performance.now() - t)
              }
              if (!page.more) break
            }
          } finally {
            await client.close()
          }
        } catch (err) {
          count(r.errors, err)
        }
      })
    )
    return r
  },
  stop: async () => {
    await Promise.allSettled(clients.map((c) => c.node.stop()))
    setImmediate(() => process.exit(0))
  }
})

process.send?.({ ready: true })
