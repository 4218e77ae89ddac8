/**
 * Gossipsub for Parley groups (`@libp2p/gossipsub`, the libp2p-3 successor of @chainsafe/libp2p-gossipsub), with
 * our parameters: strict signing (every message names and is signed by its publishing peer), message ids from a
 * content hash (SHA-256 of the data, so a re-published copy is the same message everywhere), no flood publishing
 * to non-mesh peers, and peer scoring whose weights are argued in docs/groups.md. Group topics are named from a
 * secret (an MLS exporter) by `groupTopic`, never from a group's name, and scored with `scoreGroupTopic` once
 * joined: an invalid message (the group engine's validator says Reject) costs its sender P4, and a peer that keeps
 * sending them falls below GOSSIP_GRAYLIST_THRESHOLD, after which everything it sends is dropped unread.
 */
import { type GossipSub, type GossipsubOpts, gossipsub } from '@libp2p/gossipsub'
import type { TopicScoreParams } from '@libp2p/gossipsub/score'
import { MAX_GROUP_ENVELOPE_BYTES } from '@parley/wire'
import { toString as bytesToString } from 'uint8arrays'

/** Prefix of every group topic; the rest is the hex topic id (a hash of the group's exporter secret). */
export const GROUP_TOPIC_PREFIX = '/parley/group/1/'
/** Score at or below which a peer's gossip (IHAVE) is ignored and none is sent to it. */
export const GOSSIP_GOSSIP_THRESHOLD = -100
/** Score at or below which we do not publish our own messages to a peer. */
export const GOSSIP_PUBLISH_THRESHOLD = -200
/** Score at or below which every RPC from a peer is dropped unread (graylisted). */
export const GOSSIP_GRAYLIST_THRESHOLD = -400
/** Weight of P4 (invalid messages) in a group topic: the penalty is count² × weight, so 7 rejects graylist a peer. */
export const GOSSIP_INVALID_MESSAGE_WEIGHT = -10
/** P4 decay per decay interval (1 s): an invalid-message count halves in about 70 s. */
export const GOSSIP_INVALID_MESSAGE_DECAY = 0.99
/** Largest RPC frame we read from a peer: one full group envelope and the RPC framing around it. */
export const GOSSIP_MAX_INBOUND_DATA_BYTES = MAX_GROUP_ENVELOPE_BYTES + 16 * 1024
/** Gossipsub heartbeat, ms (the library default: mesh maintenance and gossip emission each second). */
export const GOSSIP_HEARTBEAT_MS = 1000

/** The topic of a group whose topic id (32 bytes, from the MLS exporter) is `topicId`. */
export function groupTopic(topicId: Uint8Array): string {
  return `${GROUP_TOPIC_PREFIX}${bytesToString(topicId, 'base16')}`
}

/**
 * Score parameters of one group topic. P1 (time in mesh) and P2 (first deliveries) reward steady honest peers a
 * little; P3 (mesh delivery deficit) is off, because a chat group is quiet most of the time and an honest quiet
 * peer must not be pruned; P4 (invalid messages) does the work against a flooding or forging peer.
 */
export function groupTopicScoreParams(): TopicScoreParams {
  return {
    topicWeight: 1,
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 3600,
    firstMessageDeliveriesWeight: 1,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 50,
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.9,
    meshMessageDeliveriesCap: 100,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 60_000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.9,
    invalidMessageDeliveriesWeight: GOSSIP_INVALID_MESSAGE_WEIGHT,
    invalidMessageDeliveriesDecay: GOSSIP_INVALID_MESSAGE_DECAY
  }
}

/** Starts scoring a group topic (gossipsub scores only topics it has parameters for). */
export function scoreGroupTopic(pubsub: GossipSub, topic: string): void {
  const scored = pubsub as GossipSub & { score?: { params: { topics: Record<string, TopicScoreParams> } } }
  if (scored.score === undefined) return
  scored.score.params.topics[topic] = groupTopicScoreParams()
}

/** Stops scoring a group topic we left. */
export function unscoreGroupTopic(pubsub: GossipSub, topic: string): void {
  const scored = pubsub as GossipSub & { score?: { params: { topics: Record<string, TopicScoreParams> } } }
  if (scored.score !== undefined) delete scored.score.params.topics[topic]
}

/** A peer's current gossipsub score (for tests, diagnostics and the benchmark). */
export function gossipScore(pubsub: GossipSub, peerId: string): number {
  const scored = pubsub as GossipSub & { getScore?: (id: string) => number }
  return scored.getScore?.(peerId) ?? 0
}

async function contentId(msg: { data: Uint8Array }): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', msg.data as Uint8Array<ArrayBuffer>))
}

/** The gossipsub service with Parley's parameters; `init` overrides any of them (the simulator and benchmarks). */
export function gossip(init: Partial<GossipsubOpts> = {}): ReturnType<typeof gossipsub> {
  return gossipsub({
    globalSignaturePolicy: 'StrictSign',
    msgIdFn: contentId,
    emitSelf: false,
    floodPublish: false,
    // A group member alone on the topic for a moment (a partition, a restart) still publishes; the group's sync
    // from other members fills the gap later.
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    // The engine validates asynchronously (MLS decryption) through topicValidators.
    asyncValidation: false,
    runOnLimitedConnection: true,
    maxInboundDataLength: GOSSIP_MAX_INBOUND_DATA_BYTES,
    heartbeatInterval: GOSSIP_HEARTBEAT_MS,
    scoreParams: {
      topics: {},
      topicScoreCap: 50,
      appSpecificScore: () => 0,
      appSpecificWeight: 1,
      // Off: browsers behind one NAT share an address, and Parley caps connections per /24 already; a sybil
      // still cannot deliver a message that passes the group's MLS validation.
      IPColocationFactorWeight: 0,
      IPColocationFactorThreshold: 10,
      IPColocationFactorWhitelist: new Set(),
      behaviourPenaltyWeight: -10,
      behaviourPenaltyThreshold: 6,
      behaviourPenaltyDecay: 0.9,
      decayInterval: 1000,
      decayToZero: 0.01,
      retainScore: 3600 * 1000
    },
    scoreThresholds: {
      gossipThreshold: GOSSIP_GOSSIP_THRESHOLD,
      publishThreshold: GOSSIP_PUBLISH_THRESHOLD,
      graylistThreshold: GOSSIP_GRAYLIST_THRESHOLD,
      acceptPXThreshold: 100,
      opportunisticGraftThreshold: 5
    },
    ...init
  })
}

export type { GossipSub }
