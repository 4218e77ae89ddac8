/**
 * Real group members in one process: each has a Parley identity and certified device, its own libp2p node (in-memory
 * transport, Noise, Yamux, identify, Parley's gossipsub) and a GroupEngine bound through a GroupTransport. Used by the
 * group tests and by bench:groups. Links can carry a latency (per connection, drawn from a range) through a wrapper
 * around @libp2p/memory, whose own latency option is one number per transport.
 */
import { generateKeyPair, publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { PeerId } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import {
  certifyDevice,
  createKeyPackage,
  defaultBackend,
  generateIdentity,
  type IdentityKeyPair,
  type KeyPackageSecret,
  type LocalDevice,
  MlsGroup,
  toHex
} from '@parley/crypto'
import { gossip } from '@parley/network'
import { until } from '@parley/test-kit'
import { createLibp2p } from 'libp2p'
import { GroupEngine } from '../../src/groups/engine.ts'
import { type GroupNode, GroupTransport } from '../../src/groups/transport.ts'
import type { DropReason, GroupTextEvent } from '../../src/groups/types.ts'

/** The platform's backend (node:crypto here), as a messenger uses. */
export const backend = defaultBackend

let counter = 0
const peerCache = new Map<string, string>()

/** The PeerId string of a device key (libp2p public key protobuf). */
export function peerOf(deviceKey: Uint8Array): string {
  const k = toHex(deviceKey)
  let p = peerCache.get(k)
  if (p === undefined) {
    p = peerIdFromPublicKey(publicKeyFromProtobuf(deviceKey)).toString()
    peerCache.set(k, p)
  }
  return p
}

/**
 * Link latency without @libp2p/memory's serialisation: its own `latency` option delays each buffer in turn (so a
 * connection carries one buffer per latency period). Instead, each buffer a connection sends is handed over after
 * the receiving node's latency, by a timer per buffer (timers of one duration fire in order, so order holds), and
 * buffers pipeline like on a real link. Test and benchmark scaffolding only: it patches the memory connection class.
 */
const latencyOf = new Map<string, number>()
let patched: Promise<void> | undefined

function delayFor(remoteAddr: { toString(): string }): number {
  const s = remoteAddr.toString()
  const p2p = s.lastIndexOf('/p2p/')
  return (p2p >= 0 ? latencyOf.get(s.slice(p2p + 5)) : latencyOf.get(s)) ?? 0
}

function patchMemoryLatency(): Promise<void> {
  patched ??= (async () => {
    const mod = (await import(new URL('./pushable-to-conn.js', import.meta.resolve('@libp2p/memory')).href)) as {
      pushableToMaConn(init: object): object
    }
    const probe = mod.pushableToMaConn({
      connection: { latency: 0 },
      remoteAddr: multiaddr('/memory/latency-probe'),
      direction: 'outbound',
      localPushable: { push() {}, end() {} },
      remotePushable: (async function* () {})(),
      log: defaultLogger().forComponent('latency-probe'),
      maxMessageSize: 1024
    })
    type Conn = { remoteAddr: { toString(): string }; localPushable: { push(d: unknown): void } }
    const proto = Object.getPrototypeOf(probe) as {
      sendData(this: Conn, data: { byteLength: number }): unknown
      sendClose(this: Conn, options?: unknown): Promise<void>
    }
    const sendData = proto.sendData
    const sendClose = proto.sendClose
    proto.sendData = function (data) {
      const l = delayFor(this.remoteAddr)
      if (l === 0) return sendData.call(this, data)
      setTimeout(() => this.localPushable.push(data), l)
      return { sentBytes: data.byteLength, canSendMore: true }
    }
    proto.sendClose = async function (options) {
      const l = delayFor(this.remoteAddr)
      if (l > 0) await new Promise((r) => setTimeout(r, l))
      return sendClose.call(this, options)
    }
  })()
  return patched
}

export interface Member {
  readonly name: string
  readonly identity: IdentityKeyPair
  readonly device: LocalDevice
  readonly node: GroupNode
  readonly transport: GroupTransport
  readonly peerId: PeerId
  readonly texts: GroupTextEvent[]
  readonly drops: DropReason[]
  readonly forks: bigint[]
  engine?: GroupEngine
  topic?: string
  secret?: KeyPackageSecret
}

export interface MemberOptions {
  /** Link latency range, ms (bench). */
  latency?: [number, number]
  /** Gossipsub overrides. */
  gossip?: Parameters<typeof gossip>[0]
}

/** One member with its libp2p node started (not yet in a group). */
export async function member(name: string, options: MemberOptions = {}): Promise<Member> {
  const identity = await generateIdentity(backend)
  const key = await generateKeyPair('Ed25519')
  const now = Date.now()
  const device = await certifyDevice(backend, identity, {
    deviceKey: publicKeyToProtobuf(key.publicKey),
    issuedAt: now,
    expiresAt: now + 86_400_000
  })
  const n = counter++
  const address = `/memory/group-${process.pid}-${n}-${name}`
  if (options.latency !== undefined) {
    await patchMemoryLatency()
    const [min, max] = options.latency
    // A deterministic spread: node n receives with its own figure in [min, max].
    const l = Math.round(min + (((n * 7919) % 1000) / 1000) * (max - min))
    latencyOf.set(address, l)
    latencyOf.set(peerIdFromPublicKey(key.publicKey).toString(), l)
  }
  const node = (await createLibp2p({
    privateKey: key,
    addresses: { listen: [address] },
    transports: [memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      inboundConnectionThreshold: 10_000,
      maxIncomingPendingConnections: 1_000,
      maxConnections: 1_000
    },
    services: { identify: identify(), pubsub: gossip(options.gossip) }
  })) as unknown as GroupNode
  await node.start()
  const transport = new GroupTransport(node)
  await transport.start()
  return { name, identity, device, node, transport, peerId: node.peerId, texts: [], drops: [], forks: [] }
}

/** Connects members in a ring with chords (each to the next `degree` members), dialing a few at a time. */
export async function connect(members: readonly Member[], degree = 3): Promise<void> {
  const dials: Array<() => Promise<unknown>> = []
  for (let i = 0; i < members.length; i++) {
    for (let d = 1; d <= degree && d < members.length; d++) {
      const a = members[i] as Member
      const b = members[(i + d) % members.length] as Member
      dials.push(() => a.node.dial(multiaddr(b.node.getMultiaddrs()[0]?.toString() ?? '')))
    }
  }
  for (let i = 0; i < dials.length; i += 8) await Promise.all(dials.slice(i, i + 8).map((f) => f()))
}

async function topicIdOf(group: MlsGroup): Promise<Uint8Array> {
  return backend.sha256(await group.topicSecret())
}

/** Engine options every member of a test group gets (set by a test before forming the group). */
export const engineDefaults: { historyLimit?: number } = {}

function bind(m: Member, group: MlsGroup, topicId: Uint8Array, positions?: ReadonlyMap<string, number>): void {
  const topic = `${toHex(topicId)}`
  void topic
  const holder: { topic?: string } = {}
  const engine = new GroupEngine({
    backend,
    identityKey: m.identity.publicKey,
    group,
    peerOf,
    positions,
    ...engineDefaults,
    publish: async (data) => {
      if (holder.topic !== undefined) await m.transport.publish(holder.topic, data)
    },
    events: {
      message: (e) => m.texts.push(e),
      drop: (e) => m.drops.push(e.reason),
      fork: (e) => m.forks.push(e.epoch)
    }
  })
  holder.topic = m.transport.join(engine, topicId)
  m.engine = engine
  m.topic = holder.topic
}

/** Creates a group with `admin` and adds `others` in one commit; every member's engine joins the topic. */
export async function formGroup(admin: Member, others: readonly Member[], name = 'group'): Promise<Uint8Array> {
  const kp = await createKeyPackage(backend, admin.identity, admin.device.certificate)
  let group = await MlsGroup.create(backend, kp.secret, { name })
  const topicId = await topicIdOf(group)
  bind(admin, group, topicId)
  if (others.length > 0) {
    const kps = await Promise.all(others.map((o) => createKeyPackage(backend, o.identity, o.device.certificate)))
    const c = await (admin.engine as GroupEngine).commit({ add: kps.map((k) => k.keyPackage) })
    group = (admin.engine as GroupEngine).group
    for (const [i, o] of others.entries()) {
      const joined = await MlsGroup.join(
        backend,
        (kps[i] as { secret: KeyPackageSecret }).secret,
        c.welcome as Uint8Array,
        c.ratchetTree
      )
      bind(o, joined, topicId, (admin.engine as GroupEngine).positions())
    }
  }
  return topicId
}

/** Adds `joiner` to the group through `admin` (a commit, then the Welcome as if over the pairwise session). */
export async function addMember(admin: Member, joiner: Member, topicId: Uint8Array): Promise<void> {
  const kp = await createKeyPackage(backend, joiner.identity, joiner.device.certificate)
  const c = await (admin.engine as GroupEngine).commit({ add: [kp.keyPackage] })
  const joined = await MlsGroup.join(backend, kp.secret, c.welcome as Uint8Array, c.ratchetTree)
  bind(joiner, joined, topicId, (admin.engine as GroupEngine).positions())
}

/** Waits until every member sees at least `n` other subscribers on the topic (meshes can form). */
export async function meshed(members: readonly Member[], n = 1, ms = 30_000): Promise<void> {
  await until(
    () => members.every((m) => m.transport.subscribers(m.topic as string).length >= n),
    ms,
    'topic subscribers'
  )
}

/** The shared wait (`@parley/test-kit`): until(check, ms, what); the group tests import it from here. */
export { until }

export async function stopAll(members: readonly Member[]): Promise<void> {
  await Promise.all(
    members.map(async (m) => {
      await m.transport.stop().catch(() => {})
      await Promise.resolve(m.node.stop()).catch(() => {})
    })
  )
}

export const idOf = (m: Member): string => toHex(m.identity.publicKey)
