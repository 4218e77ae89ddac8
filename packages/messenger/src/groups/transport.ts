/**
 * Group transport: one gossipsub topic per group (named from the MLS exporter, see @parley/network groupTopic),
 * the engine as the topic's validator (so only valid messages are forwarded, and invalid ones cost their sender a
 * gossipsub penalty), and the group sync protocol: a member asks another member's device for the envelopes it holds
 * from an epoch on — how a member that was offline, or on the other side of a partition, catches up.
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { equalBytes } from '@parley/crypto'
import { type GossipSub, groupTopic, scoreGroupTopic, unscoreGroupTopic } from '@parley/network'
import {
  decodeGroupSyncRequest,
  decodeGroupSyncResponse,
  encodeGroupSyncRequest,
  encodeGroupSyncResponse,
  groupSyncProtocol,
  MAX_GROUP_SYNC_ENVELOPES,
  MAX_GROUP_SYNC_REQUEST_BYTES,
  MAX_GROUP_SYNC_RESPONSE_BYTES
} from '@parley/wire'
import type { Libp2p } from 'libp2p'
import {
  DEFAULT_GROUP_SYNC_TIMEOUT,
  GROUP_ANTI_ENTROPY_MS,
  GROUP_IDLE_SYNC_MS,
  GROUP_SYNC_MAX_PAGES,
  GROUP_SYNC_MAX_REQUESTS_PER_MINUTE,
  GROUP_SYNC_MIN_INTERVAL_MS
} from './constants.ts'
import type { GroupEngine } from './engine.ts'

const VERDICT = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject
} as const

/** A libp2p node with gossipsub as `pubsub`. */
export type GroupNode = Libp2p<{ pubsub: GossipSub }>

interface Joined {
  readonly engine: GroupEngine
  readonly topicId: Uint8Array
  readonly topic: string
}

/** Binds group engines to one libp2p node. */
export class GroupTransport {
  private readonly node: GroupNode
  private readonly protocol: string
  private readonly groups = new Map<string, Joined>()
  private readonly lastPull = new Map<string, number>()
  private readonly served = new Map<string, { windowStart: number; count: number }>()
  private readonly onSubscription: (
    e: CustomEvent<{ peerId: PeerId; subscriptions: { topic: string; subscribe: boolean }[] }>
  ) => void
  private started = false
  private timer: ReturnType<typeof setInterval> | undefined
  private lastIdleSync = 0

  constructor(node: GroupNode, options: { protocolPrefix?: string } = {}) {
    this.node = node
    this.protocol = groupSyncProtocol(options.protocolPrefix)
    // A member's device newly on our topic (after a partition heals, or coming back online): catch up from it.
    this.onSubscription = (e) => {
      for (const s of e.detail.subscriptions) {
        const g = this.groups.get(s.topic)
        if (s.subscribe && g !== undefined) void this.pull(g.topic, e.detail.peerId).catch(() => {})
      }
    }
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    await this.node.handle(this.protocol, (stream, connection) => this.serve(stream, connection), {
      runOnLimitedConnection: true
    })
    this.node.services.pubsub.addEventListener('subscription-change', this.onSubscription)
    this.timer = setInterval(() => void this.antiEntropy(), GROUP_ANTI_ENTROPY_MS)
  }

  /**
   * Gossip loses what was published while a member was unreachable (a partition, a restart, a mesh not formed yet):
   * a member with messages waiting (for an epoch, a branch or a gap) pulls from the members' devices it sees, and
   * every GROUP_IDLE_SYNC_MS one random member's device is asked anyway.
   */
  private async antiEntropy(): Promise<void> {
    const idle = Date.now() - this.lastIdleSync >= GROUP_IDLE_SYNC_MS
    if (idle) this.lastIdleSync = Date.now()
    for (const g of this.groups.values()) {
      const gaps = g.engine.checkGaps()
      const peers = this.subscribers(g.topic).filter((p) => g.engine.isMemberPeer(p.toString()))
      if (g.engine.pendingCount > 0 || gaps.length > 0 || g.engine.unsettledFork) {
        for (const p of peers) await this.pull(g.topic, p).catch(() => 0)
      } else if (idle && peers.length > 0) {
        // Which member to pull from is not secret, but the project keeps Math.random out of protocol code.
        const pick = crypto.getRandomValues(new Uint32Array(1))[0]! % peers.length
        await this.pull(g.topic, peers[pick] as PeerId).catch(() => 0)
      }
    }
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    if (this.timer !== undefined) clearInterval(this.timer)
    this.node.services.pubsub.removeEventListener('subscription-change', this.onSubscription)
    for (const topic of [...this.groups.keys()]) this.leave(topic)
    await this.node.unhandle(this.protocol).catch(() => {})
  }

  /** Subscribes `engine` to its group's topic; returns the topic. */
  join(engine: GroupEngine, topicId: Uint8Array): string {
    const topic = groupTopic(topicId)
    const pubsub = this.node.services.pubsub
    this.groups.set(topic, { engine, topicId, topic })
    pubsub.topicValidators.set(topic, async (_peer, msg) => {
      // Strict signing: an unsigned message never reaches here; the publisher (not the forwarder) is checked.
      if (msg.type !== 'signed') return TopicValidatorResult.Reject
      const v = await engine.receive(msg.data, msg.from.toString())
      return VERDICT[v.action]
    })
    scoreGroupTopic(pubsub, topic)
    pubsub.subscribe(topic)
    return topic
  }

  /** Unsubscribes from a group's topic. */
  leave(topic: string): void {
    const pubsub = this.node.services.pubsub
    pubsub.unsubscribe(topic)
    pubsub.topicValidators.delete(topic)
    unscoreGroupTopic(pubsub, topic)
    this.groups.delete(topic)
  }

  /** Publishes an envelope on a topic. */
  async publish(topic: string, data: Uint8Array): Promise<void> {
    await this.node.services.pubsub.publish(topic, data)
  }

  /** Peers subscribed to a topic (gossipsub's view). */
  subscribers(topic: string): PeerId[] {
    return this.node.services.pubsub.getSubscribers(topic)
  }

  /**
   * Catches up from `peer`: asks for the envelopes it holds from our oldest kept epoch on, page by page (at most
   * GROUP_SYNC_MAX_PAGES), and gives each to the engine as a synced message. Returns how many it was given.
   */
  async pull(
    topic: string,
    peer: PeerId | string,
    options: { signal?: AbortSignal; force?: boolean } = {}
  ): Promise<number> {
    const g = this.groups.get(topic)
    if (g === undefined) return 0
    const id = typeof peer === 'string' ? peerIdFromString(peer) : peer
    const key = `${topic}/${id.toString()}`
    const now = Date.now()
    if (options.force !== true && now - (this.lastPull.get(key) ?? 0) < GROUP_SYNC_MIN_INTERVAL_MS) return 0
    this.lastPull.set(key, now)
    const signal = options.signal ?? AbortSignal.timeout(DEFAULT_GROUP_SYNC_TIMEOUT)
    const stream = await this.node.dialProtocol(id, this.protocol, { signal, runOnLimitedConnection: true })
    const lp = lpStream(stream, { maxDataLength: MAX_GROUP_SYNC_RESPONSE_BYTES })
    let taken = 0
    try {
      const fromEpoch = Number(g.engine.oldestEpoch)
      for (let page = 0, skip = 0; page < GROUP_SYNC_MAX_PAGES; page++) {
        await lp.write(encodeGroupSyncRequest({ topic: g.topicId, fromEpoch, skip }), { signal })
        const res = decodeGroupSyncResponse((await lp.read({ signal })).subarray())
        for (const data of res.envelopes) {
          await g.engine.receive(data)
          taken++
        }
        skip += res.envelopes.length
        if (!res.more || res.envelopes.length === 0) break
      }
      await stream.close({ signal }).catch(() => stream.abort(new Error('close failed')))
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)))
      throw e
    }
    return taken
  }

  /** Catches up from every subscribed peer of a topic that is a member's device. */
  async pullAll(topic: string, options: { force?: boolean } = {}): Promise<number> {
    let n = 0
    for (const p of this.subscribers(topic)) n += await this.pull(topic, p, options).catch(() => 0)
    return n
  }

  private async serve(stream: Stream, connection: Connection): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_GROUP_SYNC_REQUEST_BYTES })
    const peer = connection.remotePeer.toString()
    try {
      for (;;) {
        let bytes: Uint8Array
        try {
          bytes = (await lp.read({ signal: AbortSignal.timeout(DEFAULT_GROUP_SYNC_TIMEOUT) })).subarray()
        } catch {
          break
        }
        const req = decodeGroupSyncRequest(bytes)
        const g = [...this.groups.values()].find((x) => equalBytes(x.topicId, req.topic))
        // Only a member's device learns what the group holds (ciphertexts, but their count and timing too).
        if (g === undefined || !g.engine.isMemberPeer(peer) || !this.withinServeRate(peer)) {
          await lp.write(encodeGroupSyncResponse({ envelopes: [], more: false }))
          break
        }
        const all = g.engine.history(BigInt(req.fromEpoch))
        const page = all.slice(req.skip, req.skip + MAX_GROUP_SYNC_ENVELOPES)
        const out: Uint8Array[] = []
        let bytesOut = 0
        for (const e of page) {
          if (bytesOut + e.length + 8 > MAX_GROUP_SYNC_RESPONSE_BYTES - 64) break
          out.push(e)
          bytesOut += e.length + 8
        }
        await lp.write(encodeGroupSyncResponse({ envelopes: out, more: req.skip + out.length < all.length }))
      }
      await stream.close().catch(() => stream.abort(new Error('close failed')))
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)))
    }
  }

  private withinServeRate(peer: string): boolean {
    const now = Date.now()
    const r = this.served.get(peer)
    if (r === undefined || now - r.windowStart >= 60_000) {
      this.served.set(peer, { windowStart: now, count: 1 })
      if (this.served.size > 10_000) this.served.clear()
      return true
    }
    return ++r.count <= GROUP_SYNC_MAX_REQUESTS_PER_MINUTE
  }
}
