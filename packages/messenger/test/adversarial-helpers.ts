/**
 * Fixtures for the adversarial and fault tests: a cluster that stops everything it started, plain libp2p nodes that
 * speak Parley's protocols by hand (an attacker, an observer), DHT probes that say which server answered what, and
 * access to a profile's account and sessions through the profile store the test itself opened.
 */
import { bootstrap } from '@libp2p/bootstrap'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { PeerId, PeerInfo, Stream } from '@libp2p/interface'
import { kadDHT, removePublicAddressesMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import {
  type AccountState,
  createAccount,
  createSessionManager,
  decodeAccount,
  decodePrekeyBundle,
  decodeSessionRecord,
  defaultBackend,
  generateIdentity,
  type SessionManager,
  toHex
} from '@parley/crypto'
import { MemoryProtocolStore } from '@parley/crypto/testing'
import { createNodeLibp2p, type ParleyServices } from '@parley/network'
import type { ProfileStore } from '@parley/store'
import { untilFound } from '@parley/test-kit'
import {
  DHT_NAMESPACE,
  decodePrekeyResponse,
  dhtRecordSelector,
  encodeEnvelope,
  encodePaddedPayload,
  encodePrekeyRequest,
  MAX_PREKEY_RESPONSE_BYTES,
  protocols
} from '@parley/wire'
import { createLibp2p, type Libp2p } from 'libp2p'
import { createMessenger, type Messenger, type Namespace, type NetworkOptions } from '../src/index.ts'
import { memoryProfile, ONE_HOST_NETWORK } from './helpers.ts'

/** Kademlia k for these small networks: larger than the network, so every put and get reaches every server. */
export const FULL_K = 20

export type RawNode = Libp2p<ParleyServices>

/** Every messenger and raw node of one test file; `stop()` ends them all. */
export class Cluster {
  readonly messengers: Messenger[] = []
  readonly raw: RawNode[] = []
  bootstrap: string[] = []
  private readonly network: NetworkOptions

  constructor(network: NetworkOptions = {}) {
    this.network = { kBucketSize: FULL_K, ...ONE_HOST_NETWORK, ...network }
  }

  /** Starts a bootstrap messenger and `servers` more DHT servers that know only it. */
  async start(servers: number): Promise<Messenger[]> {
    const boot = await this.messenger()
    this.bootstrap = [boot.addresses[0]!]
    const out = [boot]
    for (let i = 0; i < servers; i++) out.push(await this.messenger())
    return out
  }

  /** A messenger on loopback that bootstraps from the cluster (a fresh in-memory profile unless `store` is given). */
  async messenger(
    network: NetworkOptions = {},
    store?: ProfileStore<Namespace>,
    options: { republishIntervalMs?: number; limits?: { maxOutbox?: number } } = {}
  ): Promise<Messenger> {
    const m = await createMessenger({
      store: store ?? (await memoryProfile()),
      network: { ...this.network, bootstrap: this.bootstrap, ...network },
      ...options
    })
    this.messengers.push(m)
    return m
  }

  /**
   * A plain libp2p node with the messengers' own options (Parley's DHT validator included), started. Pass
   * `{ datastore: new MemoryDatastore() }` for an attacker's node, which need not keep the monotonic record rule.
   */
  async rawNode(network: NetworkOptions = {}): Promise<RawNode> {
    const node = await createNodeLibp2p(await generateKeyPair('Ed25519'), defaultBackend, {
      ...this.network,
      bootstrap: this.bootstrap,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      ...network
    })
    await node.start()
    this.raw.push(node)
    return node
  }

  /**
   * A DHT server like the others except for its record validator (the misbehaving server of a test): same protocol
   * id, transports and address scope as createNodeLibp2p, Parley's selector, and `validate` instead of Parley's
   * validator — for PUTs it receives (kad-dht's own local put does not validate).
   */
  async customDhtServer(validate: (key: Uint8Array, value: Uint8Array) => Promise<void>): Promise<RawNode> {
    const node = (await createLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { inboundConnectionThreshold: 100, maxIncomingPendingConnections: 100 },
      peerDiscovery: [bootstrap({ list: this.bootstrap })],
      services: {
        identify: identify(),
        ping: ping(),
        dht: kadDHT({
          protocol: protocols('/parley').kad,
          clientMode: false,
          kBucketSize: this.network.kBucketSize ?? FULL_K,
          peerInfoMapper: (p: PeerInfo) => removePublicAddressesMapper(p),
          validators: { [DHT_NAMESPACE]: validate },
          selectors: { [DHT_NAMESPACE]: dhtRecordSelector }
        })
      }
    })) as unknown as RawNode
    this.raw.push(node)
    return node
  }

  async stop(): Promise<void> {
    await Promise.all([
      ...this.messengers.map((m) => m.stop().catch(() => {})),
      ...this.raw.map(async (n) => {
        await Promise.resolve(n.stop()).catch(() => {})
      })
    ])
  }
}

/** Publishes `m`'s record until `reader` can look it up (a put with no peers yet succeeds locally only). */
export async function publishAndFind(m: Messenger, reader: Messenger, ms = 30_000): Promise<void> {
  await untilFound(reader, m, ms, 'record to be published and found', { stepMs: 10_000 })
}

/** What one `dht.put` did: which servers it was sent to and which of them stored it (echoed the record back). */
export interface PutOutcome {
  readonly targets: Set<string>
  readonly accepted: Set<string>
}

/** Puts `value` under `key` from `node` (a raw kad-dht put, no validation on the sending side) and reports. */
export async function rawPut(node: RawNode, key: Uint8Array, value: Uint8Array): Promise<PutOutcome> {
  const targets = new Set<string>()
  const accepted = new Set<string>()
  for await (const e of node.services.dht.put(key, value, { signal: AbortSignal.timeout(20_000) })) {
    if (e.name === 'SEND_QUERY' && e.messageName === 'PUT_VALUE') targets.add(e.to.toString())
    if (e.name === 'PEER_RESPONSE' && e.messageName === 'PUT_VALUE') accepted.add(e.from.toString())
  }
  return { targets, accepted }
}

/** What one `dht.get` saw: per server the (validated) record it served, the servers whose record was discarded. */
export interface GetOutcome {
  /** peer id → record bytes, for records that passed the reader's validator. */
  readonly served: Map<string, Uint8Array>
  /** Servers that served a record the reader's validator refused. */
  readonly invalid: Set<string>
  /** The record the reader selected, if any. */
  readonly best?: Uint8Array
}

/** Runs a kad-dht get from `node` and records every server's answer. */
export async function rawGet(node: RawNode, key: Uint8Array): Promise<GetOutcome> {
  const served = new Map<string, Uint8Array>()
  const invalid = new Set<string>()
  let best: Uint8Array | undefined
  try {
    for await (const e of node.services.dht.get(key, { signal: AbortSignal.timeout(20_000) })) {
      if (e.name === 'PEER_RESPONSE' && e.messageName === 'GET_VALUE' && e.record !== undefined) {
        served.set(e.from.toString(), e.record.value)
      }
      if (e.name === 'QUERY_ERROR' && /invalid record/.test(e.error.message)) invalid.add(e.from.toString())
      if (e.name === 'VALUE') best = e.value
    }
  } catch (e) {
    if (!(e instanceof Error && e.name === 'NotFoundError')) throw e
  }
  return { served, invalid, ...(best !== undefined && { best }) }
}

/** The account a profile holds (identity key pair, device, prekeys): read through the test's own profile store. */
export async function accountOf(store: ProfileStore<Namespace>): Promise<AccountState> {
  const bytes = await store.get('meta', 'account')
  if (bytes === undefined) throw new Error('profile has no account yet')
  return decodeAccount(bytes)
}

/** Per device address: the current session's id (hex) and how many sessions are archived. */
export async function sessionsOf(
  store: ProfileStore<Namespace>
): Promise<Map<string, { current?: string; archived: number }>> {
  const out = new Map<string, { current?: string; archived: number }>()
  for await (const { key, value } of store.query('sessions')) {
    const r = decodeSessionRecord(value)
    out.set(key, {
      ...(r.current !== undefined && { current: toHex(r.current.sessionId) }),
      archived: r.archived.length
    })
  }
  return out
}

/** Every record of the given namespaces, decrypted, keyed `namespace/key` (to compare before and after). */
export async function snapshot(
  store: ProfileStore<Namespace>,
  namespaces: readonly Namespace[]
): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const ns of namespaces) {
    for await (const { key, value } of store.query(ns)) out.set(`${ns}/${key}`, toHex(value))
  }
  return out
}

/** The outcome of one hand-made exchange on a protocol stream: the answer frame, or how the stream ended. */
export interface Exchange {
  readonly answer?: Uint8Array
  readonly error?: Error
  /** True when the peer closed the stream without answering. */
  readonly closed?: boolean
}

/**
 * Opens `protocol` on the messenger at `address` from `node`, writes `bytes` raw (callers add the length prefix, so
 * they can send what no honest encoder would), closes the write side and reads one length-prefixed answer.
 */
export async function exchange(
  node: RawNode,
  address: string,
  protocol: string,
  bytes: Uint8Array,
  maxAnswer = 64 * 1024
): Promise<Exchange> {
  const signal = AbortSignal.timeout(15_000)
  let stream: Stream
  try {
    stream = await node.dialProtocol(multiaddr(address), protocol, { signal })
  } catch (e) {
    return { error: e as Error }
  }
  // Reads through lpStream (attached first, so no answer is missed); writes raw, so any bytes can be sent.
  const lp = lpStream(stream, { maxDataLength: maxAnswer })
  try {
    if (bytes.length > 0 && !stream.send(bytes)) {
      await new Promise((resolve, reject) => {
        stream.addEventListener('drain', resolve, { once: true })
        stream.addEventListener('close', () => reject(new Error('stream closed while sending')), { once: true })
      })
    }
    await stream.close({ signal })
  } catch (e) {
    stream.abort(e as Error)
    return { error: e as Error }
  }
  try {
    return { answer: (await lp.read({ signal })).subarray() }
  } catch (e) {
    const err = e as Error
    return { error: err, closed: err.name === 'UnexpectedEOFError' }
  } finally {
    stream.abort(new Error('done'))
  }
}

/** A varint length prefix followed by `body`: one frame as lpStream writes it. */
export function frame(body: Uint8Array, claimedLength = body.length): Uint8Array {
  const prefix: number[] = []
  let n = claimedLength
  while (n >= 0x80) {
    prefix.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  prefix.push(n)
  const out = new Uint8Array(prefix.length + body.length)
  out.set(prefix)
  out.set(body, prefix.length)
  return out
}

/** Deterministic pseudo-random bytes (xorshift): reproducible garbage, never used near keys. */
export function garbage(length: number, seed: number): Uint8Array {
  let x = seed >>> 0 || 1
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

/** The peer id string of a messenger. */
export function idOf(m: { peerId: PeerId }): string {
  return m.peerId.toString()
}

/**
 * A Parley sender written by hand on a raw node: its own identity, its device key the node's libp2p key, and a
 * session manager over memory. It fetches the target's prekey bundle over /parley/prekeys/1.0.0 and encrypts genuine
 * text messages, so a test can deliver the same envelope as often and as concurrently as it likes.
 */
export class HandSender {
  readonly node: RawNode
  readonly manager: SessionManager
  readonly identityKey: Uint8Array

  private constructor(node: RawNode, manager: SessionManager, identityKey: Uint8Array) {
    this.node = node
    this.manager = manager
    this.identityKey = identityKey
  }

  /** `deviceKey`: the device key its certificate names (default: the node's own libp2p key, as a real device). */
  static async create(node: RawNode, options: { deviceKey?: Uint8Array } = {}): Promise<HandSender> {
    const identity = await generateIdentity(defaultBackend)
    const account = await createAccount(defaultBackend, {
      identity,
      deviceKey: options.deviceKey ?? publicKeyToProtobuf(node.peerId.publicKey!),
      now: Date.now(),
      certificateLifetimeMs: 365 * 24 * 3600_000
    })
    const manager = createSessionManager({ backend: defaultBackend, account, store: new MemoryProtocolStore() })
    return new HandSender(node, manager, identity.publicKey)
  }

  /** Starts a session with the messenger at `address` whose identity is `identityKey`; returns the device address. */
  async startSession(address: string, identityKey: Uint8Array): Promise<string> {
    const x = await exchange(
      this.node,
      address,
      protocols('/parley').prekeys,
      frame(encodePrekeyRequest({ identityKey })),
      MAX_PREKEY_RESPONSE_BYTES
    )
    if (x.answer === undefined) throw x.error ?? new Error('no prekey response')
    const response = decodePrekeyResponse(x.answer)
    if (response.status !== 'ok') throw new Error(`prekeys: ${response.errorCode}`)
    return this.manager.startSession(decodePrekeyBundle(response.prekeyBundle), { expectedIdentity: identityKey })
  }

  /** One framed DM envelope carrying a text payload, encrypted on the current session with `to`. */
  async envelope(to: string, text: string, senderSeq: number, messageId: Uint8Array): Promise<Uint8Array> {
    const payload = encodePaddedPayload({ kind: 'text', senderSeq, sentAt: Date.now(), text })
    const { ciphertext } = await this.manager.encrypt(to, payload, { messageId })
    return frame(encodeEnvelope({ messageId, ciphertext }))
  }
}
