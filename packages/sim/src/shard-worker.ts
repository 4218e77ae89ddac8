/**
 * One worker thread of a sharded run (shards.ts): it hosts nodes i with i mod K = its number, each a real messenger
 * (or relay) on this thread's Fabric, and reaches the other workers' nodes through PortCrossLink. The main thread
 * tells it which node to start, whom to dial, which lookup to run, which contact to add and text to send; it reports
 * each node's publish count, its event loop's delay and (when asked) its nodes' message and receipt events.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import { multiaddr } from '@multiformats/multiaddr'
import { dhtKeyForIdentity } from '@parley/wire'
import { SHARD_STATUS_MS, SIM_ERROR_STACK_FRAMES } from './constants.ts'
import { Directory, learnPeers, storeRecord } from './converged.ts'
import { PortCrossLink } from './cross-link.ts'
import { ConvergedStartError, NodeStartFailedError } from './errors.ts'
import { LoadGauge } from './load.ts'
import type { LinkModel } from './model.ts'
import { forwardEvents, type NodeEvent, sendText } from './node-events.ts'
import { SILENT_LOGGER, type SpawnedNode, spawnMessenger, spawnRelay } from './nodes.ts'
import { type DhtProbe, probeDht } from './probes.ts'
import { Rng } from './rng.ts'
import { Fabric } from './transport.ts'
import { type LookupFailure, lookupFailure } from './world.ts'

/** What the main thread gives a worker at start. */
export interface ShardInit {
  self: number
  workers: number
  seed: string
  model: LinkModel
  tag: string
  protocolPrefix: string
  kBucketSize: number
  gossip: boolean
  /** Converged start (converged.ts): the main thread places records; workers build routing tables. */
  converged: boolean
  /** Nodes of the run (the converged start's directory covers them all). */
  nodes: number
  /** Post every node's message and receipt events (ShardEvent) to the main thread. */
  events: boolean
}

/** Requests from the main thread (each answered with { q, ok, value | error }). */
export type ShardRequest =
  | { t: 'ports'; q: number; ports: Record<number, MessagePort> }
  | { t: 'relay'; q: number; r: number; index: number; dataDir: string; bootstrap: string[] }
  | {
      t: 'join'
      q: number
      i: number
      dial: string[]
      bootstrap: string[]
      relays: string[]
      mailboxTarget?: number
      mailboxPollMs?: number
      /** Converged start: the nodes up, which the new node's routing table gets. */
      learn?: number[]
    }
  | { t: 'learn'; q: number; i: number }
  | { t: 'store'; q: number; holder: number; from: number; key: Uint8Array; value: Uint8Array }
  | { t: 'lookup'; q: number; from: number; identity: string; timeoutMs: number }
  | { t: 'contact'; q: number; i: number; identity: string; name: string }
  | { t: 'send'; q: number; from: number; identity: string; text: string }
  | { t: 'crash'; q: number; i: number; permanent: boolean; hosted: boolean }
  | { t: 'revive'; q: number; i: number }
  | { t: 'leave'; q: number; i: number }
  | { t: 'stop'; q: number }

/** Converged start: node i puts a record (the main thread places it and answers with ShardPlaced). */
export interface ShardPlace {
  t: 'place'
  id: number
  i: number
  key: Uint8Array
  value: Uint8Array
}

/** The main thread's answer to a ShardPlace. */
export interface ShardPlaced {
  t: 'placed'
  id: number
  error: string | null
}

/** A node's message or receipt event (ShardInit.events), posted as it fires. */
export interface ShardEvent {
  t: 'event'
  e: NodeEvent
}

/** A node's publish counters and this worker's load, sent every SHARD_STATUS_MS (and answering 'stop'). */
export interface ShardStatus {
  t: 'status'
  self: number
  /** Chunks this worker's links lost and resent so far (Fabric.stats). */
  retransmits: number
  lagMs: number
  utilization: number
  worstMs: number
  /** [index, puts, putFailures] of every node started here. */
  probes: Array<[number, number, number]>
}

const init = workerData as ShardInit
// Thousands of nodes create and drop errors all the time (aborted dials, query timeouts): capturing a stack for each
// is CPU and garbage nobody reads. Errors keep their name and message; DEBUG=… brings the stacks back.
if (process.env.DEBUG === undefined || process.env.DEBUG === '') Error.stackTraceLimit = SIM_ERROR_STACK_FRAMES
const port = parentPort!
const fabric = new Fabric(init.seed, init.model, init.tag, `jitter/${init.self}`)
const settings = {
  fabric,
  protocolPrefix: init.protocolPrefix,
  kBucketSize: init.kBucketSize,
  gossip: init.gossip,
  converged: init.converged
}
const rng = new Rng(init.seed, 'nodes')
const nodes = new Map<number, { node: SpawnedNode; probe: DhtProbe; up: boolean }>()
const relays: Array<{ stop(): Promise<void> }> = []
const gauge = new LoadGauge()
const placing = new Map<number, { resolve: () => void; reject: (e: Error) => void }>()
let nextPlace = 0
let directory: Promise<Directory> | undefined
const dir = (): Promise<Directory> =>
  (directory ??= Directory.of(
    init.nodes,
    (i) => rng.fork(`node/${i}`),
    (i) => fabric.address(i)
  ))

/** Converged start: node i's put goes to the main thread, which stores the record at its k closest nodes. */
function place(i: number) {
  return (key: Uint8Array, value: Uint8Array): Promise<void> =>
    new Promise((resolve, reject) => {
      const id = nextPlace++
      placing.set(id, { resolve, reject })
      port.postMessage({ t: 'place', id, i, key, value } satisfies ShardPlace)
    })
}

function postStatus(): void {
  const probes: ShardStatus['probes'] = []
  for (const [i, n] of nodes) probes.push([i, n.up ? n.probe.puts : 0, n.up ? n.probe.putFailures : 0])
  port.postMessage({
    t: 'status',
    self: init.self,
    retransmits: fabric.stats.retransmits,
    lagMs: gauge.lagMs,
    utilization: gauge.utilization,
    worstMs: gauge.worstMs,
    probes
  } satisfies ShardStatus)
}
const status = setInterval(postStatus, SHARD_STATUS_MS)
const emit = (e: NodeEvent): void => port.postMessage({ t: 'event', e } satisfies ShardEvent)

/** Node i's messenger if it runs here and is up. */
function upNode(i: number): SpawnedNode | undefined {
  const n = nodes.get(i)
  return n?.up === true ? n.node : undefined
}

async function handle(m: ShardRequest): Promise<unknown> {
  switch (m.t) {
    case 'ports': {
      const ports = new Map(Object.entries(m.ports).map(([w, p]) => [Number(w), p]))
      new PortCrossLink(fabric, init.self, init.workers, ports, SILENT_LOGGER)
      return null
    }
    case 'relay': {
      const relay = await spawnRelay(settings, m.index, rng.fork(`relay/${m.r}`), m.dataDir, m.bootstrap)
      relays.push(relay.relay)
      return relay.address
    }
    case 'join': {
      const slot = nodes.get(m.i)
      fabric.revive(m.i)
      const node = await spawnMessenger(
        settings,
        m.i,
        rng.fork(`node/${m.i}`),
        {
          bootstrap: m.bootstrap,
          relays: m.relays,
          ...(m.mailboxTarget !== undefined && { mailboxTarget: m.mailboxTarget }),
          ...(m.mailboxPollMs !== undefined && { mailboxPollMs: m.mailboxPollMs })
        },
        slot && { store: slot.node.store, backend: slot.node.backend }
      )
      const probe = probeDht(node.libp2p.services.dht, init.converged ? place(m.i) : undefined)
      nodes.set(m.i, { node, probe, up: true })
      if (init.events) forwardEvents(m.i, node.messenger, emit)
      const learned =
        m.learn === undefined ? [] : await learnPeers(node.libp2p, node.libp2p.services.dht, await dir(), m.i, m.learn)
      await Promise.allSettled(
        m.dial.map((a) => node.libp2p.dial(multiaddr(a), { signal: AbortSignal.timeout(10_000) }))
      )
      return { peerId: node.libp2p.peerId.toString(), identity: node.identity, learned }
    }
    case 'learn': {
      // Answers whether some table here took the newcomer (the main thread's placement needs to know).
      const d = await dir()
      let taken = false
      for (const [j, n] of nodes) {
        if (j !== m.i && n.up)
          taken = (await learnPeers(n.node.libp2p, n.node.libp2p.services.dht, d, j, [m.i])).length > 0 || taken
      }
      return taken
    }
    case 'store': {
      const n = nodes.get(m.holder)
      if (n === undefined || !n.up) throw new ConvergedStartError(`holder ${m.holder} is down`)
      await storeRecord(n.node.libp2p.services.dht, (await dir()).peer(m.from), m.key, m.value)
      return null
    }
    case 'lookup': {
      const n = nodes.get(m.from)
      if (n === undefined || !n.up) return null
      const t0 = performance.now()
      let peer: string | null = null
      let failure: LookupFailure | null = null
      const limit = AbortSignal.timeout(m.timeoutMs)
      try {
        peer = (await n.node.messenger.lookup(Buffer.from(m.identity, 'hex'), { signal: limit })).peerId.toString()
      } catch (e) {
        failure = lookupFailure(e, limit)
      }
      const ms = performance.now() - t0
      const key = Buffer.from(dhtKeyForIdentity(Buffer.from(m.identity, 'hex'))).toString('hex')
      return { peer, ms, hops: n.probe.hops.get(key) ?? null, failure }
    }
    case 'contact': {
      const n = upNode(m.i)
      if (n === undefined) throw new NodeStartFailedError(`node ${m.i}`, new Error('not up in this worker'))
      await n.messenger.addContact(m.identity, { name: m.name })
      return null
    }
    case 'send': {
      const n = upNode(m.from)
      return n === undefined ? null : sendText(n.messenger, m.identity, m.text)
    }
    case 'crash': {
      fabric.crash(m.i)
      const n = nodes.get(m.i)
      if (m.hosted && n?.up) {
        n.up = false
        await n.node.messenger.stop().catch(() => {})
        if (m.permanent) nodes.delete(m.i)
      }
      return null
    }
    case 'revive':
      fabric.revive(m.i)
      return null
    case 'leave': {
      const n = nodes.get(m.i)
      if (n?.up) {
        n.up = false
        await n.node.messenger.stop().catch(() => {})
      }
      return null
    }
    case 'stop': {
      clearInterval(status)
      gauge.stop()
      await Promise.allSettled([...nodes.values()].map((n) => (n.up ? n.node.messenger.stop() : undefined)))
      await Promise.allSettled(relays.map((r) => r.stop()))
      // The last figures (the timer's may be up to SHARD_STATUS_MS old), ahead of the answer on the same port.
      postStatus()
      return null
    }
  }
}

port.on('message', (m: ShardRequest | ShardPlaced) => {
  if (m.t === 'placed') {
    const p = placing.get(m.id)
    placing.delete(m.id)
    if (m.error === null) p?.resolve()
    else p?.reject(new Error(m.error))
    return
  }
  handle(m).then(
    (value) => port.postMessage({ q: m.q, ok: true, value }),
    (e: Error) => port.postMessage({ q: m.q, ok: false, error: `${e.name}: ${e.message}` })
  )
})
