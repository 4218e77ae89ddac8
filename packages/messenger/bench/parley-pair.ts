/**
 * Two messengers A and B over one loopback TCP connection, each on its own encrypted profile: on-disk LevelDB with
 * synced commits (the default: the issue asks for durable commits, and only the on-disk store fsyncs) or in memory.
 */
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import {
  type AbortOptions,
  createProfileStore,
  openStore,
  type ProfileStore,
  type StoreBackend,
  type StoreLocation
} from '@parley/store'
import {
  createMessenger,
  createNodeLibp2p,
  type Libp2pFactory,
  type Messenger,
  type MessengerEvents,
  NAMESPACES,
  type Namespace
} from '../src/index.ts'
import { measure, type Operation, percentile, type Run, type Sample } from './measure.ts'

export type StoreKind = 'level' | 'memory'

/**
 * What the messengers asked of their profile stores. Every batch commit, put and delete is a durable (synced) write;
 * every read decrypts a record (a keyed-hash name, then AES-GCM).
 */
export interface CommitTally {
  /** Profile writes (batch commits, puts, deletes), relaxed ones included. */
  commits: number
  /** Of those, batch commits with relaxed durability (no fsync of their own). */
  relaxed: number
  /** Synced backend batches (LevelDB fsyncs): group commit merges concurrent commits into one. */
  fsyncs: number
  ms: number
  /** Latency of each write since the last reset (for percentiles). */
  samples: number[]
  /** get() calls and records a query() decrypted. */
  reads: number
}

/** Messages whose delivered receipt never came, by what B did with them. */
export interface Losses {
  /** B acked (stored) the message but never showed it (no `message` event), so it never sent a receipt. */
  ackedNotShown: number
  /** B showed the message, but its receipt never reached A as a `receipt` event. */
  receiptLost: number
}

export interface ParleyPair {
  /** send() until B acked it (a send that fell back to the outbox counts when its retry is acked): [ack]. */
  sendAcked(timeoutMs: number): Operation
  /** send() and then B's encrypted delivered receipt at A: [ack, receipt]. */
  sendDelivered(timeoutMs: number): Operation
  /** Waits (at most `timeoutMs`) for the receipts of every message sent so far; the missing ones count as lost. */
  settle(timeoutMs: number): Promise<void>
  /** Sends that fell back to the outbox (status `queued`) so far. */
  queued(): number
  losses(): Losses
  /** Durable writes of A and B together. */
  readonly tally: CommitTally
  /** The messengers' libp2p nodes (from the public `libp2p` factory option), for the raw baseline. */
  readonly nodes: { a: Libp2p; b: Libp2p }
  /** libp2p connections between A and B (expected: 1). */
  connections(): number
  stop(): Promise<void>
}

/** Delegates to `store`, timing every durable write (the messenger cannot tell the difference). */
function tallied(store: ProfileStore<Namespace>, tally: CommitTally): ProfileStore<Namespace> {
  const timed = async (write: Promise<void>) => {
    const t0 = performance.now()
    try {
      await write
    } finally {
      const ms = performance.now() - t0
      tally.commits++
      tally.ms += ms
      tally.samples.push(ms)
    }
  }
  return {
    namespaces: store.namespaces,
    get: (n, k, o) => {
      tally.reads++
      return store.get(n, k, o)
    },
    put: (n, k, v, o) => timed(store.put(n, k, v, o)),
    delete: (n, k, o) => timed(store.delete(n, k, o)),
    has: (n, k, o) => store.has(n, k, o),
    query: async function* (n, q) {
      for await (const entry of store.query(n, q)) {
        tally.reads++
        yield entry
      }
    },
    batch: () => {
      const b = store.batch()
      return {
        put: (n, k, v) => b.put(n, k, v),
        delete: (n, k) => b.delete(n, k),
        commit: (o) => {
          if (o?.durability === 'relaxed') tally.relaxed++
          return timed(b.commit(o))
        }
      }
    },
    changePassphrase: (c, n, o) => store.changePassphrase(c, n, o),
    close: () => store.close()
  }
}

type ReceiptType = 'sent' | 'delivered'

/** When A saw each `sent` (B stored it: the ack) and `delivered` (B's encrypted receipt) event, by message id. */
class ReceiptClock {
  private readonly seen = { sent: new Map<string, number>(), delivered: new Map<string, number>() }
  private readonly waiters = { sent: new Map<string, () => void>(), delivered: new Map<string, () => void>() }
  /** Messages sent whose delivered receipt has not come yet. */
  readonly undelivered = new Set<string>()

  constructor(m: Messenger) {
    m.events.addEventListener('receipt', (e) => {
      const { type, ids } = (e as CustomEvent<MessengerEvents['receipt']>).detail
      if (type === 'read' || type === 'deposited') return
      const at = performance.now()
      for (const id of ids) {
        if (type === 'delivered') this.undelivered.delete(id)
        this.seen[type].set(id, at)
        this.waiters[type].get(id)?.()
      }
    })
  }

  /** Counts `id` as undelivered until its receipt comes (B's receipt can overtake its ack). */
  expect(id: string): void {
    if (!this.seen.delivered.has(id)) this.undelivered.add(id)
  }

  /** When the event for `id` came (now or later), or undefined if it does not come within `timeoutMs`. */
  async at(type: ReceiptType, id: string, timeoutMs: number): Promise<number | undefined> {
    if (!this.seen[type].has(id)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer)
          this.waiters[type].delete(id)
          resolve()
        }
        const timer = setTimeout(done, timeoutMs)
        this.waiters[type].set(id, done)
      })
    }
    const at = this.seen[type].get(id)
    this.seen[type].delete(id)
    return at
  }

  /** Drops a time nobody will ask for, so the maps stay small over a run. */
  forget(type: ReceiptType, id: string): void {
    this.seen[type].delete(id)
  }

  clear(): void {
    this.seen.sent.clear()
    this.seen.delivered.clear()
  }
}

/** Counts the backend's synced batches (what the profile store's group commit hands to LevelDB with an fsync). */
function countingFsyncs(backend: StoreBackend, tally: CommitTally): StoreBackend {
  const batch = backend.batch.bind(backend)
  backend.batch = () => {
    const b = batch()
    return {
      put: (key, value) => b.put(key, value),
      delete: (key) => b.delete(key),
      commit: async (options?: AbortOptions & { durability?: string }) => {
        if (options?.durability !== 'relaxed') tally.fsyncs++
        await b.commit(options)
      }
    }
  }
  return backend
}

export async function startParleyPair(kind: StoreKind, dir: string, text: string): Promise<ParleyPair> {
  const stores: ProfileStore<Namespace>[] = []
  const tally: CommitTally = { commits: 0, relaxed: 0, fsyncs: 0, ms: 0, samples: [], reads: 0 }
  const profile = async (name: string) => {
    const location: StoreLocation = kind === 'level' ? { kind: 'level', path: join(dir, name) } : { kind: 'memory' }
    // The fast KDF only shortens opening the profile (scrypt runs once, at open); per-message costs are unchanged.
    const store = await createProfileStore(countingFsyncs(await openStore(location), tally), 'bench passphrase', {
      namespaces: NAMESPACES,
      create: true,
      unsafeFastKdfForTests: true
    })
    stores.push(store)
    return tallied(store, tally)
  }
  const nodes: Libp2p[] = []
  const libp2p: Libp2pFactory = async (key, backend, options) => {
    const node = await createNodeLibp2p(key, backend, options)
    nodes.push(node)
    return node
  }
  // TCP only, so the one connection between A and B is a TCP connection (no WebSocket listener to pick). The per-peer
  // DM rate limit is an abuse guard that would cut A off after 600 messages a minute: lifted, as rate is measured.
  const listen = ['/ip4/127.0.0.1/tcp/0']
  const limits = { dmPerMinutePerPeer: Number.MAX_SAFE_INTEGER }
  const b = await createMessenger({ store: await profile('b'), network: { listen }, libp2p, limits })
  const a = await createMessenger({
    store: await profile('a'),
    network: { listen, bootstrap: [b.addresses[0]!] },
    libp2p,
    limits
  })
  const [bNode, aNode] = nodes as [Libp2p, Libp2p]
  // A finds B the way a user would: B's signed record in the DHT, which needs A's DHT connection to B first.
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      await b.publish()
      break
    } catch (e) {
      if (Date.now() > deadline) throw e
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const bHex = toHex(b.identityKey)
  await a.addContact(bHex, { name: 'b' })
  // Both users added each other: a stranger's messages are a message request, which gets no delivered receipt.
  await b.addContact(toHex(a.identityKey), { name: 'a' })
  const clock = new ReceiptClock(a)
  const shownAtB = new Set<string>()
  b.events.addEventListener('message', (e) => shownAtB.add((e as CustomEvent<MessengerEvents['message']>).detail.id))
  const lost: string[] = []
  let queued = 0

  /** One send; its start, when B acked it (undefined: the retry was not acked in time) and its id. */
  const send = async (timeoutMs: number) => {
    const t0 = performance.now()
    const r = await a.send(bHex, text)
    clock.expect(r.id)
    let acked: number | undefined = performance.now()
    if (r.status === 'queued') {
      queued++
      acked = await clock.at('sent', r.id, timeoutMs)
    } else {
      // The `sent` event fired just before send() resolved; nobody will ask for it.
      clock.forget('sent', r.id)
    }
    return { id: r.id, t0, acked }
  }
  const lose = (id: string, since: number): Sample => {
    clock.undelivered.delete(id)
    lost.push(id)
    return { latencies: [], stalledMs: performance.now() - since }
  }

  const pair: ParleyPair = {
    sendAcked: (timeoutMs) => async () => {
      const s = await send(timeoutMs)
      return s.acked === undefined ? lose(s.id, s.t0) : { latencies: [s.acked - s.t0] }
    },
    sendDelivered: (timeoutMs) => async () => {
      const s = await send(timeoutMs)
      if (s.acked === undefined) return lose(s.id, s.t0)
      // B shows a message (and starts its receipt) before it writes the ack: acked but not shown means no receipt
      // will ever come, so a short grace is enough to tell.
      const wait = shownAtB.has(s.id) ? timeoutMs : Math.min(timeoutMs, 200)
      const waitFrom = performance.now()
      const delivered = await clock.at('delivered', s.id, wait)
      if (delivered === undefined) return lose(s.id, waitFrom)
      return { latencies: [s.acked - s.t0, delivered - s.t0] }
    },
    settle: async (timeoutMs) => {
      const end = Date.now() + timeoutMs
      while (clock.undelivered.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
      for (const id of clock.undelivered) lost.push(id)
      clock.undelivered.clear()
      clock.clear()
    },
    queued: () => queued,
    losses: () => {
      const notShown = lost.filter((id) => !shownAtB.has(id)).length
      return { ackedNotShown: notShown, receiptLost: lost.length - notShown }
    },
    tally,
    nodes: { a: aNode, b: bNode },
    connections: () => aNode.getConnections(bNode.peerId).length,
    stop: async () => {
      await a.stop()
      await b.stop()
      for (const s of stores) await s.close()
    }
  }
  // The first message sets up the session (prekey fetch, PQXDH): not part of any mode. Without its receipt every
  // mode would only time out, so the bench stops here.
  const first = await pair.sendDelivered(30_000)()
  if (first.latencies.length === 0) {
    await pair.stop()
    throw new Error('bench setup: the first message got no delivered receipt within 30 s')
  }
  return pair
}

/** What one Parley mode measured: its run, the durable writes and reads it caused and the messages it lost. */
export interface ParleyMode {
  run: Run
  commits: number
  /** Of the commits, relaxed ones (no fsync of their own). */
  relaxed: number
  /** Synced backend batches: fewer than commits where group commit merged concurrent ones. */
  fsyncs: number
  commitMs: number
  reads: number
  commitP50: number
  commitP99: number
  /** From the start of the measured run until its receipts settled, ms. */
  wallMs: number
  settleMs: number
  queued: number
  losses: Losses
}

/** Measures `op` on the pair, then waits up to `settleMs` for the receipts still outstanding. */
export async function parleyMode(
  p: ParleyPair,
  op: Operation,
  options: { window: number; seconds: number; warmup: number; settleMs: number }
): Promise<ParleyMode> {
  let start = { commits: 0, relaxed: 0, fsyncs: 0, ms: 0, reads: 0, at: 0, losses: p.losses(), queued: p.queued() }
  const run = await measure(op, {
    ...options,
    onMeasured: () => {
      const { commits, relaxed, fsyncs, ms, reads } = p.tally
      start = { commits, relaxed, fsyncs, ms, reads, at: performance.now(), losses: p.losses(), queued: p.queued() }
      p.tally.samples.length = 0
    }
  })
  const ended = performance.now()
  await p.settle(options.settleMs)
  const settled = performance.now()
  const samples = [...p.tally.samples].sort((a, b) => a - b)
  const losses = p.losses()
  return {
    run,
    commits: p.tally.commits - start.commits,
    relaxed: p.tally.relaxed - start.relaxed,
    fsyncs: p.tally.fsyncs - start.fsyncs,
    commitMs: p.tally.ms - start.ms,
    reads: p.tally.reads - start.reads,
    commitP50: percentile(samples, 0.5),
    commitP99: percentile(samples, 0.99),
    wallMs: settled - start.at,
    settleMs: settled - ended,
    queued: p.queued() - start.queued,
    losses: {
      ackedNotShown: losses.ackedNotShown - start.losses.ackedNotShown,
      receiptLost: losses.receiptLost - start.losses.receiptLost
    }
  }
}

const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
