/**
 * The messenger engine: one libp2p node, one encrypted profile, and the E2EE session manager.
 *
 * Data flow of one message: compose → history entry (pending) → ratchet encrypt, committed with the session update
 * and the exact ciphertext in the outbox (one batch) → delivered over `/parley/dm/1.0.0` when the peer is reachable,
 * else retried with backoff → the recipient decrypts and commits plaintext, dedup id and session in one durable
 * batch BEFORE it acknowledges → the sender drops the outbox entry on the ack → an end-to-end encrypted delivered
 * receipt comes back, and a read receipt when shown. Retries and duplicates never show a message twice.
 */
import {
  generateKeyPair,
  privateKeyFromProtobuf,
  privateKeyToProtobuf,
  publicKeyFromProtobuf,
  publicKeyToProtobuf
} from '@libp2p/crypto/keys'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import {
  type AccountState,
  availableOneTimePrekeys,
  type CryptoBackend,
  createAccount,
  createSessionManager,
  decodeAccount,
  decodePrekeyBundle,
  defaultBackend,
  deviceAddress,
  encodeAccount,
  encodeBundle,
  encodePrekeyBundle,
  fromHex,
  generateIdentity,
  generateOneTimePrekeys,
  type IdentityKeyPair,
  KeyedMutex,
  lastResortPrekeyNeedsRotation,
  MESSAGE_TYPE_INITIAL,
  needsSessionReset,
  ParleyCryptoError,
  type PrekeyBundle,
  type ProtocolStore,
  type ProtocolTransaction,
  pruneRetiredPrekeys,
  publishBundle,
  renewDeviceCertificateIfDue,
  rotateLastResortPrekey,
  rotateSignedPrekey,
  type SessionManager,
  safetyNumber,
  sealToDevice,
  takePrekeyBundle,
  toHex,
  validateEd25519PublicKey
} from '@parley/crypto'
import {
  type CourierFactory,
  depositAtRelays,
  type FoundRecord,
  type Libp2pFactory,
  lookupRecord,
  type NetworkOptions,
  onRelayReconnect,
  type ParleyServices,
  relayName,
  sourceRange,
  takePrekeysAtRelays,
  withMailbox
} from '@parley/network'
import type { ProfileBatch, ProfileStore } from '@parley/store'
import {
  type Ack,
  DEPOSIT_TOKEN_BYTES,
  decodeEnvelope,
  decodeInvite,
  decodePrekeyRequest,
  decodePrekeyResponse,
  dhtKeyForIdentity,
  encodeAck,
  encodeDhtRecord,
  encodeEnvelope,
  encodeInvite,
  encodePaddedPayload,
  encodePrekeyRequest,
  encodePrekeyResponse,
  MAX_DEPOSIT_TOKENS,
  MAX_ENVELOPE_BYTES,
  MAX_PREKEY_RESPONSE_BYTES,
  MAX_RESEND_ITEMS,
  type PayloadInit,
  type ProtocolIds,
  protocols,
  signDhtRecord
} from '@parley/wire'
import type { Libp2p } from 'libp2p'
import { cachedProfileStore } from './cached-store.ts'
import {
  BUNDLE_LIFETIME_MS,
  CERTIFICATE_LIFETIME_MS,
  CONTROL_TTL_MS,
  DEDUP_RETENTION_MS,
  DEFAULT_DIAL_TIMEOUT,
  DEFAULT_GAP_GRACE_MS,
  DEFAULT_LOOKUP_TIMEOUT,
  DEFAULT_PROTOCOL_PREFIX,
  DEFAULT_REPUBLISH_INTERVAL,
  GAP_CHECK_INTERVAL_MS,
  MAILBOX_POLL_INTERVAL_MS,
  MAILBOX_RELAY_TARGET,
  MAX_CONTROL_QUEUE,
  MAX_DEPOSIT_RELAYS,
  MAX_DM_MESSAGES_PER_MINUTE_PER_PEER,
  MAX_INBOUND_DM_STREAMS_PER_PEER,
  MAX_INBOUND_SESSION_STREAMS_PER_PEER,
  MAX_OUTBOX,
  MAX_PREKEY_REQUESTS_PER_MINUTE_PER_PEER,
  MAX_PREKEY_REQUESTS_PER_MINUTE_PER_RANGE,
  MAX_RESEND_ASKS,
  MAX_TEXT_BYTES,
  ONE_TIME_PREKEY_REPLENISH_BELOW,
  ONE_TIME_PREKEY_TARGET,
  PREKEY_ROTATION_MS,
  RECORD_LIFETIME_MS,
  RETRY_FACTOR,
  RETRY_INITIAL_MS,
  RETRY_MAX_MS,
  RETRY_ROUND_MAX,
  SEEN_PRUNE_INTERVAL_MS
} from './constants.ts'
import {
  IdentityChangedError,
  InvalidInputError,
  NotStartedError,
  OutboxFullError,
  PeerProtocolError,
  UnknownContactError
} from './errors.ts'
import type { MessengerEvents } from './events.ts'
import { giveUp, missingNumbers, readSequence, writeSequence } from './gaps.ts'
import { keepMailbox, type MailboxOwner } from './mailbox-owner.ts'
import { OutboxSchedule } from './outbox-schedule.ts'
import { applyReceived, type ReceivedContext, type ReceivedOutcome } from './received.ts'
import {
  bindDevice,
  boundIdentity,
  type ContactRecord,
  DELIVERY_RANK,
  type DeviceRecord,
  decodeContact,
  decodeHistory,
  decodeOutbox,
  decodeSeen,
  deviceClaims,
  encodeRecord,
  type HistoryRecord,
  historyKey,
  type Namespace,
  type OutboxRecord,
  putDeviceOf,
  readDevice,
  TOKEN_IN,
  TOKEN_OUT,
  wasReceived
} from './records.ts'
import {
  DEFAULT_REQUEST_LIMITS,
  dropRequest,
  enforceRequestBounds,
  type MessageRequest,
  type RequestLimits,
  readRequests,
  settleRequest
} from './requests.ts'
import { SessionStreams, serveSessionStream } from './session-stream.ts'

export interface MessengerOptions {
  /** The opened, encrypted profile store (see @parley/store). */
  store: ProfileStore<Namespace>
  network?: NetworkOptions
  backend?: CryptoBackend
  /** Injected clock (ms). */
  now?: () => number
  /** How often our DHT record is republished. */
  republishIntervalMs?: number
  /**
   * Open the profile without a network node (for one-shot commands): contacts, history and safety numbers work;
   * send() only queues.
   */
  offline?: boolean
  /**
   * Builds the libp2p node. The package's entry points fill it in: the Node preset from the Node entry, the browser
   * preset from the browser entry (so neither bundle carries the other's transports).
   */
  libp2p?: Libp2pFactory
  /** Limits (defaults in constants.ts); tests and operators may lower or raise them. */
  limits?: {
    maxOutbox?: number
    dmPerMinutePerPeer?: number
    /** Control messages (receipts, tokens, resend requests) queued at most; the oldest is dropped past it. */
    maxControl?: number
    /** Message requests from strangers (see requests.ts). */
    requests?: Partial<RequestLimits>
    /** How long a gap in a contact's message numbers may stay open before we ask for a resend. */
    gapGraceMs?: number
    /** Prekey bundles one address range may fetch per minute (MAX_PREKEY_REQUESTS_PER_MINUTE_PER_RANGE). */
    prekeysPerMinutePerRange?: number
  }
  /**
   * Mailbox relays: where our mail waits while we are offline, and where our one-time prekeys are handed out. Tried in
   * order, then the bootstrap peers (those that run the mailbox service qualify), until `target` (default 2) accept.
   */
  mailbox?: {
    relays?: string[]
    target?: number
    pollIntervalMs?: number
    /**
     * Only contacts may deposit: each contact gets its own deposit token over the E2EE session, and our relays refuse
     * deposits without one of ours (strangers cannot fill the mailbox; their first message must come directly).
     */
    requireDepositTokens?: boolean
  }
  /** Builds the throwaway node deposits go out from (the entry points fill it in). */
  courier?: CourierFactory
}

export interface SendResult {
  /** hex message id. */
  readonly id: string
  /**
   * `sent`: the peer stored it durably; `deposited`: the peer is offline and its mailbox relays hold it; `queued`: it
   * waits in the outbox and is retried.
   */
  readonly status: 'sent' | 'deposited' | 'queued'
}

/** How a message reached us: over a connection authenticated as a device, or through a mailbox with a claim. */
type Via =
  | { kind: 'direct'; deviceKey: Uint8Array /** the session stream: our Ack tells the sender */; acked: boolean }
  | { kind: 'mailbox'; claimed: string | undefined }

/** A message being received: how it came, and what to run once its commit is durable. */
interface InboundSlot {
  readonly context: ReceivedContext
  readonly after: Array<() => void>
}

/** Typed event emitter over EventTarget (works in Node and browsers). */
class Emitter extends EventTarget {
  emit<K extends keyof MessengerEvents>(type: K, detail: MessengerEvents[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }
}

/**
 * Ack error codes after which the sender starts a new session and encrypts the message again: the peer has no
 * session for it (lost state), our ratchet or its forked, a restored sender reused message numbers, or our first
 * messages name prekeys the peer no longer has (it consumed or rotated them, then lost the session they made).
 */
const RESET_CODES: ReadonlySet<string> = new Set([
  'NoSession',
  'UndecryptableHeader',
  'RatchetFork',
  'DuplicateMessage',
  'UnknownPrekey',
  'ReplayedInitialMessage',
  'LastResortPrekeyExhausted',
  'SealedSenderFailure'
])
/** Why mail could not be opened for which the sender is asked to resend (a session problem, not a forgery). */
const RESEND_CODES: ReadonlySet<string> = new Set([
  'NoSession',
  'UndecryptableHeader',
  'RatchetFork',
  'UnknownPrekey',
  'ReplayedInitialMessage',
  'LastResortPrekeyExhausted'
])
/** Resend requests one contact may make of us per minute. */
const MAX_RESENDS_PER_MINUTE = 10
const log = logger('parley:messenger')
/** The most message ids one delivered receipt carries. */
const MAX_RECEIPT_IDS = 256
/** Retry delay of a publish that failed (or found no peers). */
const REPUBLISH_RETRY_MS = 2000
/** After our addresses change, wait this long for more changes before republishing. */
const ADDRESS_REPUBLISH_DELAY_MS = 1000

const META_ACCOUNT = 'account'
const META_NETWORK_KEY = 'network-key'

/** Creates and starts a messenger over an opened profile (`options.libp2p` required: see the package entries). */
export async function startMessenger(options: MessengerOptions): Promise<Messenger> {
  const m = new Messenger(options)
  await m.start()
  return m
}

export class Messenger {
  readonly events = new Emitter()
  private readonly store: ProfileStore<Namespace>
  private readonly backend: CryptoBackend
  private readonly now: () => number
  private readonly networkOptions: NetworkOptions
  private readonly ids: ProtocolIds
  private readonly republishIntervalMs: number
  private readonly offline: boolean
  private readonly libp2pFactory: Libp2pFactory | undefined
  private readonly courierFactory: CourierFactory | undefined
  private readonly mailboxOptions: {
    relays: string[]
    target: number
    pollIntervalMs: number
    requireDepositTokens: boolean
  }
  /** What a mailbox round needs from us (mailbox-owner.ts). */
  private readonly owner: MailboxOwner
  /** Contacts a deposit token is being given to right now. */
  private readonly givingTokens = new Set<string>()
  /** Relays holding our mailbox now (multiaddrs with /p2p/), as listed in our DHT record. */
  private mailboxRelays: string[] = []
  private mailboxRound: Promise<boolean> | undefined
  private republishTimer: ReturnType<typeof setTimeout> | undefined
  private readonly maxOutbox: number
  private readonly dmPerMinutePerPeer: number
  /** Per remote peer: DM messages accepted in the current minute (a misbehaving peer is cut off). */
  private readonly rates = new Map<string, { windowStart: number; count: number }>()
  private readonly maxControl: number
  private readonly requestLimits: RequestLimits
  private readonly gapGraceMs: number
  private readonly prekeysPerMinutePerRange: number
  private stopRelayWatch: (() => void) | undefined
  /** Our session streams to peers (session-stream.ts). */
  private readonly streams = new SessionStreams()
  private node?: Libp2p<ParleyServices>
  private sessions?: SessionManager
  /** Every outbox entry's kind and due time (outbox-schedule.ts). */
  private readonly schedule = new OutboxSchedule()
  /** Contacts whose text numbers have a gap, and how often each missing number was asked for. */
  private readonly gaps = new Map<string, Map<number, number>>()
  private readonly shutdown = new AbortController()
  private timers: ReturnType<typeof setTimeout>[] = []
  private retrying = false
  /** Session setup and encryption per contact run one at a time (one session, not one per concurrent send). */
  private readonly contactLocks = new KeyedMutex()
  /** Context of the operation whose crypto commit is in flight, keyed by hex message id. */
  private readonly pendingSends = new Map<
    string,
    { contact: string; write?: (b: ProfileBatch<Namespace>, sent: NonNullable<ProtocolTransaction['sent']>) => void }
  >()

  constructor(options: MessengerOptions) {
    // Contacts and devices are read on every message: keep them in a write-through cache.
    this.store = cachedProfileStore(options.store, ['contacts', 'devices'])
    this.backend = options.backend ?? defaultBackend
    this.now = options.now ?? Date.now
    this.networkOptions = options.network ?? {}
    this.ids = protocols(this.networkOptions.protocolPrefix ?? DEFAULT_PROTOCOL_PREFIX)
    this.republishIntervalMs = options.republishIntervalMs ?? DEFAULT_REPUBLISH_INTERVAL
    this.offline = options.offline ?? false
    this.libp2pFactory = options.libp2p
    this.courierFactory = options.courier
    this.mailboxOptions = {
      relays: options.mailbox?.relays ?? [],
      target: options.mailbox?.target ?? MAILBOX_RELAY_TARGET,
      pollIntervalMs: options.mailbox?.pollIntervalMs ?? MAILBOX_POLL_INTERVAL_MS,
      requireDepositTokens: options.mailbox?.requireDepositTokens ?? false
    }
    this.owner = {
      backend: this.backend,
      now: this.now,
      account: () => this.manager.account,
      updateAccount: (fn) => this.manager.updateAccount(fn),
      receive: (envelope, claimed) =>
        this.receiveOnce(envelope.messageId, () =>
          this.receive(envelope.messageId, envelope.ciphertext, { kind: 'mailbox', claimed })
        ),
      undecryptable: (claimed, messageId, code) => this.askToResend(claimed, messageId, code),
      pageDone: () => this.announceDrained(),
      log: (format, ...args) => log(format, ...args)
    }
    this.maxOutbox = options.limits?.maxOutbox ?? MAX_OUTBOX
    this.dmPerMinutePerPeer = options.limits?.dmPerMinutePerPeer ?? MAX_DM_MESSAGES_PER_MINUTE_PER_PEER
    this.maxControl = options.limits?.maxControl ?? MAX_CONTROL_QUEUE
    this.requestLimits = { ...DEFAULT_REQUEST_LIMITS, ...options.limits?.requests }
    this.gapGraceMs = options.limits?.gapGraceMs ?? DEFAULT_GAP_GRACE_MS
    this.prekeysPerMinutePerRange = options.limits?.prekeysPerMinutePerRange ?? MAX_PREKEY_REQUESTS_PER_MINUTE_PER_RANGE
  }

  // ---------------------------------------------------------------- identity and lifecycle

  private get manager(): SessionManager {
    if (this.sessions === undefined) throw new NotStartedError()
    return this.sessions
  }

  private get libp2p(): Libp2p<ParleyServices> {
    if (this.node === undefined) throw new NotStartedError()
    return this.node
  }

  /** This user's identity key. */
  get identityKey(): Uint8Array {
    return this.manager.account.identity.publicKey
  }

  /** This device's libp2p peer id. */
  get peerId(): PeerId {
    return this.libp2p.peerId
  }

  /** Addresses others can dial this node at (none when offline). */
  get addresses(): string[] {
    return this.node?.getMultiaddrs().map((a) => a.toString()) ?? []
  }

  /** Whether this messenger runs a network node. */
  /** Open connections to a peer (diagnostics: `limits` is set on relayed ones). */
  connectionsTo(peer: PeerId): Connection[] {
    return this.node?.getConnections(peer) ?? []
  }

  get online(): boolean {
    return this.node !== undefined && !this.shutdown.signal.aborted
  }

  /** Our own half of safety numbers: 60 digits shared with a contact are computed with `safetyNumber(contact)`. */
  async fingerprint(): Promise<string> {
    return (await safetyNumber(this.backend, this.identityKey, this.identityKey)).display.slice(0, 35)
  }

  /** Undelivered texts waiting in the outbox. */
  get queued(): number {
    return this.schedule.texts
  }

  /** Control messages (receipts, deposit tokens, resend requests) waiting in the outbox. */
  get queuedControl(): number {
    return this.schedule.controls
  }

  async start(): Promise<void> {
    const networkKeyBytes = await this.store.get('meta', META_NETWORK_KEY)
    const networkKey = networkKeyBytes ? privateKeyFromProtobuf(networkKeyBytes) : await generateKeyPair('Ed25519')
    const deviceKey = publicKeyToProtobuf(networkKey.publicKey)
    let account: AccountState
    const accountBytes = await this.store.get('meta', META_ACCOUNT)
    if (accountBytes !== undefined) {
      account = decodeAccount(accountBytes)
    } else {
      const identity: IdentityKeyPair = await generateIdentity(this.backend)
      account = await createAccount(this.backend, {
        identity,
        deviceKey,
        now: this.now(),
        certificateLifetimeMs: CERTIFICATE_LIFETIME_MS
      })
      account = await generateOneTimePrekeys(this.backend, account, 'x25519', ONE_TIME_PREKEY_TARGET)
      account = await generateOneTimePrekeys(this.backend, account, 'kem', ONE_TIME_PREKEY_TARGET)
      const b = this.store.batch()
      b.put('meta', META_NETWORK_KEY, privateKeyToProtobuf(networkKey))
      b.put('meta', META_ACCOUNT, encodeAccount(account))
      await b.commit()
    }
    this.sessions = createSessionManager({ backend: this.backend, account, store: this.protocolStore(), now: this.now })
    // A device certificate with less than half its lifetime left is renewed (same device and agreement keys).
    await this.renewCertificate()
    // The one full pass over the outbox: from here on the schedule knows what is due.
    for await (const { value } of this.store.query('outbox')) this.scheduleEntry(decodeOutbox(value))
    for await (const { key, value } of this.store.query('meta', { prefix: 'seq/' })) {
      const state = JSON.parse(new TextDecoder().decode(value)) as { ahead?: unknown[] }
      if (Array.isArray(state.ahead) && state.ahead.length > 0) this.gaps.set(key.slice('seq/'.length), new Map())
    }
    if (this.offline) return

    const factory = this.libp2pFactory
    if (factory === undefined) throw new InvalidInputError('libp2p', 'a libp2p factory (use the package entry point)')
    const node = await factory(networkKey, this.backend, {
      ...this.networkOptions,
      ...(this.networkOptions.now === undefined && { now: this.now })
    })
    this.node = node
    // Both run over relayed (circuit) connections too, whose relay caps bytes and time: a message or a bundle is a
    // few KiB, and a node with no listening address (a browser, a node behind NAT) is reachable no other way.
    await node.handle(this.ids.dm, (stream, connection) => this.onDmStream(stream, connection), {
      maxInboundStreams: MAX_INBOUND_DM_STREAMS_PER_PEER,
      runOnLimitedConnection: true
    })
    await node.handle(this.ids.prekeys, (stream, connection) => this.onPrekeyStream(stream, connection), {
      runOnLimitedConnection: true
    })
    await node.handle(this.ids.session, (stream, connection) => this.onSessionStream(stream, connection), {
      maxInboundStreams: MAX_INBOUND_SESSION_STREAMS_PER_PEER,
      runOnLimitedConnection: true
    })
    const status = (online: boolean) => (e: CustomEvent<PeerId>) => {
      const key = e.detail.publicKey
      if (key === undefined) return
      void this.store
        .get('devices', toHex(publicKeyToProtobuf(key)))
        .then((identity) => {
          if (identity === undefined) return
          const relayed = node.getConnections(e.detail).some((c) => c.limits !== undefined)
          this.events.emit('peer:status', { contact: new TextDecoder().decode(identity), online, relayed })
        })
        .catch(() => {})
    }
    node.addEventListener('peer:connect', status(true))
    node.addEventListener('peer:disconnect', status(false))
    // Our addresses changed (a circuit reservation came or went, a listener moved): republish soon, so contacts find
    // the addresses we can be reached at now rather than at the next timer.
    node.addEventListener('self:peer:update', () => this.republishSoon())
    await node.start()
    // A relay we use that restarted may have lost our record (or its mailbox registration): republish soon.
    this.stopRelayWatch = onRelayReconnect(
      node,
      () => [...(this.networkOptions.bootstrap ?? []), ...this.mailboxRelays],
      () => this.republishSoon()
    )
    this.later(() => this.republishLoop(), 0)
    this.later(() => this.retryLoop(), RETRY_INITIAL_MS)
    this.later(() => this.mailboxLoop(), this.mailboxOptions.pollIntervalMs)
    this.later(() => this.gapLoop(), GAP_CHECK_INTERVAL_MS)
    this.later(() => this.pruneLoop(), 60_000)
  }

  async stop(): Promise<void> {
    this.shutdown.abort()
    this.streams.closeAll()
    this.stopRelayWatch?.()
    for (const t of this.timers) clearTimeout(t)
    if (this.republishTimer !== undefined) clearTimeout(this.republishTimer)
    await this.node?.stop()
  }

  private later(fn: () => Promise<void>, delay: number): void {
    if (this.shutdown.signal.aborted) return
    const t = setTimeout(() => {
      this.timers = this.timers.filter((x) => x !== t)
      fn().catch(() => {})
    }, delay)
    this.timers.push(t)
  }

  private signal(timeout: number, signal?: AbortSignal): AbortSignal {
    return AbortSignal.any([signal ?? AbortSignal.timeout(timeout), this.shutdown.signal])
  }

  /** An invite link others can add us with (with our current addresses when online). */
  invite(name?: string): string {
    return encodeInvite({
      identityKey: this.identityKey,
      addresses: this.node?.getMultiaddrs().map((a) => a.bytes) ?? [],
      relays: [],
      ...(name !== undefined && { name })
    })
  }

  /** The current session with a contact's device (hex session id), if any: for diagnostics and tests. */
  async sessionWith(contact: string): Promise<{ sessionId: string; acknowledged: boolean } | undefined> {
    const c = await this.contact(contact)
    const d = await this.device(c.identity)
    if (d === undefined) return undefined
    const info = await this.manager.sessionInfo(deviceAddress(fromHex(c.identity), fromHex(d.deviceKey)))
    return info && { sessionId: toHex(info.sessionId), acknowledged: info.acknowledged }
  }

  /** The safety number with a contact. */
  async safetyNumber(contact: string): Promise<string> {
    const c = await this.contact(contact)
    return (await safetyNumber(this.backend, this.identityKey, fromHex(c.identity))).display
  }

  // ---------------------------------------------------------------- DHT record

  /** Publishes (or refreshes) our record in the DHT: signed bundle, device addresses. */
  async publish(options: { signal?: AbortSignal } = {}): Promise<void> {
    const node = this.libp2p
    const { bundle } = await this.manager.updateAccount(async (state) => {
      const p = await publishBundle(this.backend, state, this.now(), BUNDLE_LIFETIME_MS)
      return { state: p.state, result: p }
    })
    const record = await signDhtRecord(this.backend, this.manager.account.identity, {
      bundle: encodeBundle(bundle),
      addresses: node.getMultiaddrs().map((a) => a.bytes),
      mailboxRelays: this.mailboxRelays.map((a) => multiaddr(a).bytes),
      sequence: bundle.sequence,
      expiresAt: this.now() + RECORD_LIFETIME_MS
    })
    const signal = this.signal(DEFAULT_LOOKUP_TIMEOUT, options.signal)
    for await (const _ of node.services.dht.put(dhtKeyForIdentity(this.identityKey), encodeDhtRecord(record), {
      signal
    })) {
      // drain the query
    }
  }

  /** Republishes our record once, ADDRESS_REPUBLISH_DELAY_MS after the last address change (debounced). */
  private republishSoon(): void {
    if (this.republishTimer !== undefined) clearTimeout(this.republishTimer)
    if (this.shutdown.signal.aborted) return
    this.republishTimer = setTimeout(() => {
      this.republishTimer = undefined
      if (this.libp2p.getConnections().length === 0) return
      this.publish().catch((e: Error) => log('republishing after an address change failed: %s', e.message))
    }, ADDRESS_REPUBLISH_DELAY_MS)
  }

  private async republishLoop(): Promise<void> {
    let published = false
    try {
      // Mailboxes first, so the record we publish lists the relays that hold our mail.
      await this.refreshMailboxes().catch((e: Error) => log('mailbox round failed: %s', e.message))
      if (this.libp2p.getConnections().length > 0) {
        await this.publish()
        published = true
      }
      await this.replenishPrekeys()
    } catch (e) {
      log('publishing our record failed: %s', (e as Error).message)
    }
    // A node with no peers yet, or whose put failed, tries again soon; a published record is refreshed on the timer.
    this.later(() => this.republishLoop(), published ? this.republishIntervalMs : REPUBLISH_RETRY_MS)
  }

  private async renewCertificate(): Promise<boolean> {
    return this.manager.updateAccount(async (state) => {
      const r = await renewDeviceCertificateIfDue(this.backend, state, this.now(), CERTIFICATE_LIFETIME_MS)
      return { state: r.state, result: r.renewed }
    })
  }

  private async replenishPrekeys(): Promise<void> {
    // A node that runs for months renews its certificate here too.
    await this.renewCertificate()
    await this.manager.updateAccount(async (state) => {
      let s = pruneRetiredPrekeys(state, this.now())
      // Signed and last-resort prekeys rotate; the old ones stay for PREKEY_GRACE_MS for messages in flight.
      if (this.now() - (s.signedPrekeys[0]?.createdAt ?? 0) >= PREKEY_ROTATION_MS)
        s = await rotateSignedPrekey(this.backend, s, this.now())
      // Early too, once many first messages used it (its replay cache must never be trimmed: see the crypto docs).
      if (
        this.now() - (s.lastResortPrekeys[0]?.createdAt ?? 0) >= PREKEY_ROTATION_MS ||
        lastResortPrekeyNeedsRotation(s)
      ) {
        s = await rotateLastResortPrekey(this.backend, s, this.now())
      }
      for (const kind of ['x25519', 'kem'] as const) {
        if (availableOneTimePrekeys(s, kind) < ONE_TIME_PREKEY_REPLENISH_BELOW) {
          s = await generateOneTimePrekeys(this.backend, s, kind, ONE_TIME_PREKEY_TARGET)
        }
      }
      return { state: s, result: undefined }
    })
  }

  /** Finds a contact's current record in the DHT (validated; the newest sequence wins). */
  async lookup(identity: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<FoundRecord> {
    return lookupRecord(this.libp2p.services.dht, this.backend, identity, this.now(), {
      signal: this.signal(DEFAULT_LOOKUP_TIMEOUT, options.signal),
      // When Sybils eclipse the walk, the bootstrap and mailbox relays are asked directly.
      fallback: {
        node: this.libp2p,
        peers: [...(this.networkOptions.bootstrap ?? []), ...this.mailboxRelays],
        protocol: this.ids.kad
      }
    })
  }

  // ---------------------------------------------------------------- contacts

  private async contact(identityHex: string): Promise<ContactRecord> {
    const bytes = await this.store.get('contacts', identityHex)
    if (bytes === undefined) throw new UnknownContactError()
    return decodeContact(bytes)
  }

  /** Every contact. */
  async contacts(): Promise<ContactRecord[]> {
    const out: ContactRecord[] = []
    for await (const { value } of this.store.query('contacts')) out.push(decodeContact(value))
    return out
  }

  /**
   * Adds a contact by identity key (hex) or invite link. A new identity under the name of an existing contact is a
   * safety-number change: the contact is marked `identity-changed`, `identity-changed` is emitted and nothing is
   * sent to it until acceptIdentity().
   */
  async addContact(input: string, options: { name?: string } = {}): Promise<ContactRecord> {
    let identity: string
    let addresses: string[] = []
    let name = options.name
    if (input.startsWith('parley://')) {
      const inv = decodeInvite(input)
      identity = toHex(inv.identityKey)
      addresses = inv.addresses.map((a) => multiaddr(a).toString())
      name ??= inv.name
    } else {
      if (!/^[0-9a-f]{64}$/.test(input))
        throw new InvalidInputError('contact', 'an invite link or a 64-hex identity key')
      validateEd25519PublicKey('contact identity key', fromHex(input)) // InvalidKey: off-curve or small-order (zero)
      identity = input
    }
    if (identity === toHex(this.identityKey)) throw new InvalidInputError('contact', 'someone else than yourself')
    if (name !== undefined) {
      const same = (await this.contacts()).find((c) => c.name === name && c.identity !== identity)
      if (same !== undefined) {
        // Under the contact's lock: a send or receipt in flight must not write back the unmarked record.
        const changed = await this.locked(same.identity, async () => {
          const current = await this.contact(same.identity)
          const marked: ContactRecord = { ...current, status: 'identity-changed', pendingIdentity: identity }
          await this.store.put('contacts', same.identity, encodeRecord(marked))
          return marked
        })
        this.events.emit('identity-changed', { contact: same.identity, name, newIdentity: identity })
        return changed
      }
    }
    let accepted = false
    const record = await this.locked(identity, async () => {
      const existing = await this.store.get('contacts', identity)
      const next: ContactRecord = existing
        ? {
            ...decodeContact(existing),
            ...(name !== undefined && { name }),
            addresses: addresses.length > 0 ? addresses : decodeContact(existing).addresses
          }
        : {
            v: 1,
            identity,
            ...(name !== undefined && { name }),
            addresses,
            status: 'ok',
            nextSeq: 0,
            verified: false,
            createdAt: this.now()
          }
      const b = this.store.batch()
      b.put('contacts', identity, encodeRecord(next))
      // A message request from this identity becomes the conversation.
      accepted = await settleRequest(this.store, b, identity)
      await b.commit()
      return next
    })
    this.events.emit('contact', { contact: identity, ...(name !== undefined && { name }) })
    if (accepted) await this.afterAccept(identity)
    return record
  }

  /** Message requests: identities we have not added that wrote to us (bounded; see requests.ts). */
  async requests(): Promise<MessageRequest[]> {
    return readRequests(this.store)
  }

  /** Accepts a message request: the sender becomes a contact, and its messages get their delivered receipts. */
  async acceptRequest(identity: string, options: { name?: string } = {}): Promise<ContactRecord> {
    if (!(await readRequests(this.store)).some((r) => r.identity === identity)) throw new UnknownContactError()
    return this.addContact(identity, options)
  }

  /** Declines a message request: its messages, dedup ids, device and sessions are deleted. */
  async declineRequest(identity: string): Promise<boolean> {
    return dropRequest(this.requestStore(), this.requestEffects, identity)
  }

  /** What a request's bounds and drops need from us. */
  private requestStore() {
    return this.store as unknown as Parameters<typeof dropRequest>[0]
  }

  private readonly requestEffects = {
    removeSessions: async (identity: string): Promise<void> => {
      const addresses: string[] = []
      for await (const { key } of this.store.query('sessions', { prefix: `${identity}.` })) addresses.push(key)
      for (const address of addresses) {
        await this.manager.removeSession(address, () => this.store.delete('sessions', address))
      }
    }
  }

  /** A request was accepted: its messages now get the delivered receipts they were denied, and a deposit token. */
  private async afterAccept(identity: string): Promise<void> {
    const ids: string[] = []
    for await (const { value } of this.store.query('history', { prefix: `${identity}/in/` })) {
      ids.push(decodeHistory(value).id)
    }
    for (const id of ids) this.queueDeliveredReceipt(identity, id)
    void this.giveDepositToken(identity).catch((e: Error) => log('giving a deposit token failed: %s', e.message))
  }

  /** Accepts a contact's new identity after a safety-number change: the contact now is that identity. */
  async acceptIdentity(contact: string): Promise<ContactRecord> {
    const first = await this.contact(contact)
    if (first.status !== 'identity-changed' || first.pendingIdentity === undefined) return first
    const pending = first.pendingIdentity
    // Both records change together, under both contacts' locks, so no concurrent send or receipt writes an old copy.
    const next = await this.locked(contact, () =>
      this.locked(pending, async () => {
        const c = await this.contact(contact)
        const existing = await this.store.get('contacts', pending)
        // The new identity may already have written to us (a message request): keep its sequence numbers.
        const known = existing === undefined ? undefined : decodeContact(existing)
        const merged: ContactRecord = {
          v: 1,
          identity: pending,
          ...(c.name !== undefined && { name: c.name }),
          addresses: known?.addresses ?? [],
          status: 'ok',
          nextSeq: Math.max(known?.nextSeq ?? 0, 0),
          verified: false,
          createdAt: known?.createdAt ?? this.now()
        }
        const b = this.store.batch()
        b.delete('contacts', c.identity)
        b.put('contacts', merged.identity, encodeRecord(merged))
        await settleRequest(this.store, b, pending)
        // Messages still queued for the old identity are never sent to the new one (the user wrote them to someone
        // else's key): they leave the outbox and their history entries say `failed`.
        const dropped = this.schedule.ofContact(c.identity)
        for (const e of dropped) {
          b.delete('outbox', e.id)
          const seen = await this.store.get('seen', e.id)
          const hkey = seen && decodeSeen(seen).history
          const h = hkey && (await this.store.get('history', hkey))
          if (hkey && h) b.put('history', hkey, encodeRecord({ ...decodeHistory(h), state: 'failed' }))
        }
        await b.commit()
        for (const e of dropped) this.schedule.delete(e.id)
        return merged
      })
    )
    const c = first
    this.events.emit('contact', { contact: next.identity, ...(c.name !== undefined && { name: c.name }) })
    return next
  }

  /** A contact's conversation, in order (per-sender sequence, then time). */
  async history(contact: string): Promise<HistoryRecord[]> {
    const out: HistoryRecord[] = []
    for await (const { value } of this.store.query('history', { prefix: `${contact}/` })) out.push(decodeHistory(value))
    return out.sort((a, b) => a.sentAt - b.sentAt || a.senderSeq - b.senderSeq)
  }

  // ---------------------------------------------------------------- sending

  /** Sends a text; resolves once it is durably queued and, if the peer was reachable, stored there. */
  async send(contact: string, text: string, options: { signal?: AbortSignal } = {}): Promise<SendResult> {
    if (typeof text !== 'string') throw new InvalidInputError('text', 'a string')
    if (new TextEncoder().encode(text).length > MAX_TEXT_BYTES)
      throw new InvalidInputError('text', `at most ${MAX_TEXT_BYTES} bytes`)
    // Replying to a message request accepts it (as in Signal): the sender becomes a contact.
    if ((await this.store.get('contacts', contact)) === undefined) await this.acceptRequest(contact)
    // Sequence numbers are allocated under the contact's lock: concurrent sends get distinct, increasing numbers.
    const outbox = await this.locked(contact, async () => {
      const c = await this.contact(contact)
      if (c.status === 'identity-changed') throw new IdentityChangedError()
      if (this.schedule.texts >= this.maxOutbox) throw new OutboxFullError(this.maxOutbox)
      const id = toHex(this.backend.randomBytes(16))
      const sentAt = this.now()
      const payload = encodePaddedPayload({ kind: 'text', senderSeq: c.nextSeq, sentAt, text })
      const history: HistoryRecord = {
        v: 1,
        id,
        contact,
        direction: 'out',
        senderSeq: c.nextSeq,
        sentAt,
        text,
        state: 'pending'
      }
      const entry: OutboxRecord = {
        v: 1,
        id,
        contact,
        kind: 'text',
        payload: toHex(payload),
        attempts: 0,
        nextAttemptAt: sentAt,
        createdAt: sentAt
      }
      const hkey = historyKey(contact, 'out', c.nextSeq, id)
      const writeRecords = (b: ProfileBatch<Namespace>, withEntry: OutboxRecord) => {
        b.put('contacts', contact, encodeRecord({ ...c, nextSeq: c.nextSeq + 1 }))
        b.put('history', hkey, encodeRecord(history))
        b.put('seen', id, encodeRecord({ v: 1, at: sentAt, history: hkey }))
        b.put('outbox', id, encodeRecord(withEntry))
      }
      // With a session at hand, encrypt now: the history, dedup and outbox records and the session update are one
      // durable batch (one sync instead of two). Otherwise queue the payload; the first attempt sets up a session.
      const address = this.online ? await this.currentAddress(c) : undefined
      if (address !== undefined) {
        let encrypted: OutboxRecord = entry
        this.pendingSends.set(id, {
          contact,
          write: (b, sent) => {
            encrypted = { ...entry, ciphertext: toHex(sent.ciphertext), address: sent.address }
            writeRecords(b, encrypted)
          }
        })
        try {
          await this.manager.encrypt(address, payload, { messageId: fromHex(id) })
          return encrypted
        } catch (e) {
          // A session unanswered for too long is not used again: queue the payload; the attempt starts a new one.
          if (!(e instanceof ParleyCryptoError && e.code === 'StaleSession')) throw e
          await this.manager.archiveCurrentSession(address)
        } finally {
          this.pendingSends.delete(id)
        }
      }
      const b = this.store.batch()
      writeRecords(b, entry)
      await b.commit()
      return entry
    })
    const id = outbox.id
    this.scheduleEntry(outbox)
    const outcome = this.online ? await this.attempt(outbox, options).catch(() => false as const) : false
    void this.giveDepositToken(contact).catch((e: Error) => log('giving a deposit token failed: %s', e.message))
    return { id, status: outcome === false ? 'queued' : outcome }
  }

  /**
   * Tells a contact we are typing. Never queued or stored: sent only when a session exists and the device is
   * reachable now; otherwise dropped (it is stale by the time a retry could deliver it).
   */
  async typing(contact: string, active: boolean): Promise<boolean> {
    if (!this.online) return false
    const c = await this.contact(contact)
    const d = await this.device(c.identity)
    if (c.status !== 'ok' || d === undefined) return false
    const address = deviceAddress(fromHex(c.identity), fromHex(d.deviceKey))
    if ((await this.manager.sessionInfo(address)) === undefined) return false
    try {
      const signal = this.signal(DEFAULT_DIAL_TIMEOUT)
      const id = this.backend.randomBytes(16)
      const payload = encodePaddedPayload({ kind: 'typing', senderSeq: 0, sentAt: this.now(), typing: { active } })
      const { ciphertext } = await this.locked(contact, () => this.manager.encrypt(address, payload, { messageId: id }))
      const target = await this.resolve(c, { signal })
      const ack = await this.streams.deliver(target.peerId, id, ciphertext, signal, () =>
        this.dial(target.peerId, target.addresses, this.ids.session, signal)
      )
      return ack.status === 'ok'
    } catch {
      return false
    }
  }

  /**
   * Delivered receipts go out at once, but while one is on its way, further ones for the same contact collect and
   * leave together when it is done: a lone message gets its receipt without delay, and a burst costs a few receipt
   * messages (each one session step and store commit) instead of one per message.
   */
  private queueDeliveredReceipt(contact: string, id: string): void {
    let pending = this.pendingReceipts.get(contact)
    if (pending === undefined) {
      pending = []
      this.pendingReceipts.set(contact, pending)
    }
    pending.push(id)
    if (!this.receiptInFlight.has(contact)) void this.flushDeliveredReceipts(contact)
  }

  private async flushDeliveredReceipts(contact: string): Promise<void> {
    this.receiptInFlight.add(contact)
    try {
      for (;;) {
        const ids = this.pendingReceipts.get(contact)
        if (ids === undefined || ids.length === 0 || this.shutdown.signal.aborted) return
        this.pendingReceipts.delete(contact)
        for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS) {
          await this.sendReceipt(contact, 'delivered', ids.slice(i, i + MAX_RECEIPT_IDS)).catch((e: unknown) =>
            log('delivered receipt failed: %s', (e as Error).message)
          )
        }
      }
    } finally {
      this.receiptInFlight.delete(contact)
    }
  }

  /** Tells the contact these messages were read (an end-to-end encrypted read receipt). */
  async markRead(contact: string, ids: string[]): Promise<void> {
    await this.sendReceipt(contact, 'read', ids)
  }

  private async sendReceipt(contact: string, type: 'delivered' | 'read', ids: string[]): Promise<void> {
    if (ids.length === 0) return
    await this.queueControl(contact, 'receipt', (senderSeq) => ({
      kind: 'receipt',
      senderSeq,
      sentAt: this.now(),
      receipt: { type, messageIds: ids.map(fromHex) }
    }))
  }

  /**
   * Queues a payload that is not a text (a receipt, a deposit token, a resend request) in the durable outbox and tries
   * it at once; `also` adds writes to the same batch. Control traffic goes only to contacts, carries no text number
   * (texts stay numbered without holes), has its own bound — past MAX_CONTROL_QUEUE the oldest is dropped — and
   * expires after CONTROL_TTL_MS: it can never make the user's own sending fail.
   */
  private async queueControl(
    contact: string,
    kind: 'receipt' | 'token' | 'resend',
    build: (senderSeq: number) => PayloadInit,
    also?: (b: ProfileBatch<Namespace>) => void
  ): Promise<void> {
    await this.contact(contact)
    const now = this.now()
    const entry: OutboxRecord = {
      v: 1,
      id: toHex(this.backend.randomBytes(16)),
      contact,
      kind,
      payload: toHex(encodePaddedPayload(build(0))),
      attempts: 0,
      nextAttemptAt: now,
      createdAt: now
    }
    const b = this.store.batch()
    b.put('outbox', entry.id, encodeRecord(entry))
    const overflow = this.schedule.oldestControls(this.schedule.controls + 1 - this.maxControl)
    for (const old of overflow) b.delete('outbox', old.id)
    also?.(b)
    await b.commit()
    for (const old of overflow) this.schedule.delete(old.id)
    this.scheduleEntry(entry)
    if (this.online) await this.attempt(entry).catch(() => false)
  }

  /** Puts an outbox entry (as written) on the schedule. */
  private scheduleEntry(e: OutboxRecord): void {
    this.schedule.set({
      id: e.id,
      contact: e.contact,
      kind: e.kind,
      createdAt: e.createdAt,
      nextAttemptAt: e.nextAttemptAt
    })
  }

  /**
   * With `mailbox.requireDepositTokens`: gives a contact its own deposit token (once), end-to-end encrypted, and
   * re-registers our mailboxes so the relays accept it. The token and the outbox entry carrying it land in one batch.
   */
  private async giveDepositToken(contact: string): Promise<void> {
    if (!this.mailboxOptions.requireDepositTokens || this.givingTokens.has(contact)) return
    this.givingTokens.add(contact)
    try {
      if ((await this.store.get('meta', `${TOKEN_OUT}${contact}`)) !== undefined) return
      const token = this.backend.randomBytes(DEPOSIT_TOKEN_BYTES)
      await this.queueControl(
        contact,
        'token',
        (senderSeq) => ({ kind: 'deposit-token', senderSeq, sentAt: this.now(), depositToken: token }),
        (b) => b.put('meta', `${TOKEN_OUT}${contact}`, token)
      )
      if (this.online) await this.refreshMailboxes()
    } finally {
      this.givingTokens.delete(contact)
    }
  }

  /** SHA-256 of the deposit tokens we gave out (at most MAX_DEPOSIT_TOKENS), for our registrations. */
  private async depositTokenHashes(): Promise<Uint8Array[] | undefined> {
    if (!this.mailboxOptions.requireDepositTokens) return undefined
    const hashes: Uint8Array[] = []
    for await (const { value } of this.store.query('meta', { prefix: TOKEN_OUT, limit: MAX_DEPOSIT_TOKENS })) {
      hashes.push(await this.backend.sha256(value))
    }
    // None given yet: the hash of a token nobody holds, since an empty list would mean "anyone may deposit".
    if (hashes.length === 0) hashes.push(await this.backend.sha256(this.backend.randomBytes(DEPOSIT_TOKEN_BYTES)))
    return hashes
  }

  private device(identity: string): Promise<DeviceRecord | undefined> {
    return readDevice(this.store, identity)
  }

  /** The device address of a contact's current device, from its stored record or a DHT lookup. */
  private async resolve(c: ContactRecord, options: { signal?: AbortSignal; fresh?: boolean }) {
    const known = options.fresh ? undefined : await this.device(c.identity)
    if (known !== undefined) {
      const deviceKey = fromHex(known.deviceKey)
      const peerId = peerIdFromPublicKey(publicKeyFromProtobuf(deviceKey))
      return { peerId, deviceKey, addresses: [...known.addresses, ...c.addresses].map((a) => multiaddr(a)) }
    }
    const found = await this.lookup(fromHex(c.identity), options)
    // A replayed older record (lower sequence) never replaces what we learnt from a newer one.
    const stored = await this.device(c.identity)
    if (stored?.sequence !== undefined && stored.sequence > found.record.sequence) {
      const deviceKey = fromHex(stored.deviceKey)
      return {
        peerId: peerIdFromPublicKey(publicKeyFromProtobuf(deviceKey)),
        deviceKey,
        addresses: stored.addresses.map((a) => multiaddr(a))
      }
    }
    const b = this.store.batch()
    const deviceHex = toHex(found.deviceKey)
    putDeviceOf(
      b,
      c.identity,
      deviceHex,
      found.addresses.map((a) => a.toString()),
      {
        sequence: found.record.sequence,
        relays: found.relays,
        agreementKey: toHex(found.bundle.certificate.agreementKey)
      }
    )
    // A contact's signed record binds a device bound to nobody yet; it never takes one over from another identity
    // (anyone may certify a public device key under their own identity and publish that).
    if ((await boundIdentity(this.store, deviceHex)) === undefined) bindDevice(b, deviceHex, c.identity)
    await b.commit()
    return found
  }

  private async dial(
    peerId: PeerId,
    addresses: ReturnType<typeof multiaddr>[],
    protocol: string,
    signal: AbortSignal
  ): Promise<Stream> {
    const node = this.libp2p
    // libp2p never reuses a limited (relayed) connection for a new dial: it dials the peer's own addresses instead,
    // which a browser cannot reach (no TCP, private ws:// gated). When every open connection to the peer is relayed,
    // open the stream on one of those first (the peer reached us through its relay; it answers there).
    const open = node.getConnections(peerId).filter((c) => c.status === 'open')
    if (open.length > 0 && open.every((c) => c.limits !== undefined)) {
      for (const c of open) {
        try {
          return await c.newStream(protocol, { signal, runOnLimitedConnection: true })
        } catch (e) {
          log('stream on a relayed connection failed: %s', (e as Error).message)
        }
      }
    }
    if (addresses.length > 0) await node.peerStore.merge(peerId, { multiaddrs: addresses })
    return node.dialProtocol(peerId, protocol, { signal, runOnLimitedConnection: true })
  }

  /**
   * Starts a session with the contact's device: a prekey bundle with one-time prekeys from the device itself, or, when
   * the device cannot be reached, the bundle from its DHT record with one-time prekeys its mailbox relays hand out.
   */
  private async startSession(c: ContactRecord, signal: AbortSignal): Promise<string> {
    const target = await this.resolve(c, { signal })
    let prekeyBundle: PrekeyBundle
    let stream: Stream | undefined
    try {
      stream = await this.dial(target.peerId, target.addresses, this.ids.prekeys, signal)
    } catch (e) {
      const viaRelays = await this.bundleViaMailboxes(c, signal)
      if (viaRelays === undefined) throw e
      prekeyBundle = viaRelays
    }
    if (stream !== undefined) {
      try {
        const lp = lpStream(stream, { maxDataLength: MAX_PREKEY_RESPONSE_BYTES })
        await lp.write(encodePrekeyRequest({ identityKey: fromHex(c.identity) }), { signal })
        const response = decodePrekeyResponse((await lp.read({ signal })).subarray())
        await stream.close({ signal })
        if (response.status !== 'ok') throw new PeerProtocolError('prekeys', response.errorCode)
        prekeyBundle = decodePrekeyBundle(response.prekeyBundle)
      } catch (e) {
        stream.abort(e instanceof Error ? e : new Error(String(e)))
        throw e
      }
    }
    return await this.manager.startSession(prekeyBundle!, { expectedIdentity: fromHex(c.identity) })
  }

  /**
   * The bundle of an unreachable contact: from its DHT record (fresh lookup), with one one-time prekey of each kind
   * from the first of its mailbox relays that still has some (asked from a courier, so the relay cannot tell who is
   * starting a session with whom). Without any, the bundle alone still makes a session (signed and last-resort
   * prekeys). Undefined when the contact lists no mailbox relays: then it must be online to be reached.
   */
  private async bundleViaMailboxes(c: ContactRecord, signal: AbortSignal): Promise<PrekeyBundle | undefined> {
    const found = await this.resolve(c, { signal, fresh: true })
    if (!('bundle' in found) || found.relays.length === 0 || this.courierFactory === undefined) return undefined
    const owner = fromHex(c.identity)
    const relays = found.relays.slice(0, MAX_DEPOSIT_RELAYS)
    const taken = await takePrekeysAtRelays(this.courierFactory, this.ids.mailbox, relays, owner, signal, log)
    const x = taken.find((p) => p.kind === 'x25519')
    const k = taken.find((p) => p.kind === 'kem')
    return { bundle: found.bundle, ...(x && { oneTimePrekey: x }), ...(k && { oneTimeKemPrekey: k }) }
  }

  /** One delivery attempt of an outbox entry, unless one is already running for it. */
  private async attempt(
    entry: OutboxRecord,
    options: { signal?: AbortSignal } = {}
  ): Promise<'sent' | 'deposited' | false> {
    if (this.attempting.has(entry.id)) return false
    this.attempting.add(entry.id)
    try {
      return await this.attemptOnce(entry, options)
    } finally {
      this.attempting.delete(entry.id)
    }
  }

  /**
   * Encrypts if not yet, then sends over a DM stream and awaits the ack; when the device cannot be reached, deposits
   * at its mailbox relays instead.
   */
  private async attemptOnce(
    entry: OutboxRecord,
    options: { signal?: AbortSignal } = {}
  ): Promise<'sent' | 'deposited' | false> {
    const signal = this.signal(DEFAULT_DIAL_TIMEOUT, options.signal)
    const c = await this.contact(entry.contact)
    if (c.status === 'identity-changed') return false
    const current =
      entry.ciphertext !== undefined
        ? entry
        : await this.locked(entry.contact, () => this.encryptQueued(entry, c, signal))
    // Delivered meanwhile by a concurrent attempt (the send path and the retry loop may race): nothing left to do.
    if (current === undefined) return 'sent'
    const target = await this.resolve(await this.contact(entry.contact), { signal })
    let unreachable = false
    const deliver = () =>
      this.streams.deliver(target.peerId, fromHex(current.id), fromHex(current.ciphertext!), signal, () =>
        this.dial(target.peerId, target.addresses, this.ids.session, signal).catch((e: unknown) => {
          unreachable = true
          throw e
        })
      )
    let ack: Ack
    try {
      // A stream that broke (the peer went away, or the connection was cut) is opened again once: the frame goes out
      // again with the same bytes, and the peer answers a copy it already stored with an ok.
      ack = await deliver().catch((e: unknown) => {
        if (unreachable || signal.aborted) throw e
        return deliver()
      })
    } catch (e) {
      // Not reachable now: its mailbox relays hold it instead.
      if (unreachable && (await this.deposit(current, c, signal))) return 'deposited'
      throw e
    }
    if (ack.status !== 'ok') {
      if (RESET_CODES.has(ack.errorCode)) {
        // The peer cannot decrypt on this session (it lost its state, or ours forked from a restore): archive it and
        // encrypt this message again on a new session at the next attempt.
        await this.manager.archiveCurrentSession(current.address!)
        const { ciphertext: _old, address: _addr, ...rest } = current
        const again: OutboxRecord = { ...rest, nextAttemptAt: 0 }
        await this.store.put('outbox', current.id, encodeRecord(again))
        if (this.schedule.has(again.id)) this.scheduleEntry(again)
      }
      throw new PeerProtocolError('dm', ack.errorCode)
    }
    // The Ack came from the contact's device over its authenticated connection, after its durable commit.
    await this.delivered(current, undefined, 'delivered')
    return 'sent'
  }

  /**
   * Deposits an encrypted outbox entry at the contact's mailbox relays (from a courier, with our device address sealed
   * to the contact's device inside). True when at least one relay stored it durably: it then leaves the outbox.
   */
  private async deposit(entry: OutboxRecord, c: ContactRecord, signal: AbortSignal): Promise<boolean> {
    if (this.courierFactory === undefined || entry.ciphertext === undefined) return false
    let device = await this.device(c.identity)
    if (device?.relays === undefined || device.agreementKey === undefined) {
      await this.resolve(c, { signal, fresh: true }).catch(() => undefined)
      device = await this.device(c.identity)
    }
    // Only for the device this ciphertext was made for.
    if (device === undefined || entry.address !== deviceAddress(fromHex(c.identity), fromHex(device.deviceKey))) {
      return false
    }
    const relays = (device.relays ?? []).slice(0, MAX_DEPOSIT_RELAYS)
    if (relays.length === 0 || device.agreementKey === undefined) return false
    const depositToken = await this.store.get('meta', `${TOKEN_IN}${c.identity}`)
    const sender = this.manager.account
    const senderAddress = new Uint8Array([...sender.identity.publicKey, ...sender.device.certificate.deviceKey])
    const envelope = encodeEnvelope({
      messageId: fromHex(entry.id),
      ciphertext: fromHex(entry.ciphertext),
      sealedSender: await sealToDevice(this.backend, fromHex(device.agreementKey), senderAddress)
    })
    const stored = await depositAtRelays(
      this.courierFactory,
      this.ids.mailbox,
      relays,
      { recipient: fromHex(c.identity), envelope, depositToken },
      signal,
      log
    )
    if (stored.length === 0) return false
    await this.delivered(entry, stored)
    return true
  }

  private locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.contactLocks.run(key, fn)
  }

  /** Encrypts a queued payload (starting a session first if there is none); the commit stores the ciphertext. */
  private async encryptQueued(
    entry: OutboxRecord,
    c: ContactRecord,
    signal: AbortSignal
  ): Promise<OutboxRecord | undefined> {
    const latest = await this.store.get('outbox', entry.id)
    if (latest === undefined) return undefined
    const fresh = decodeOutbox(latest)
    if (fresh.ciphertext !== undefined) return fresh
    const deviceKey = (await this.device(c.identity))?.deviceKey ?? toHex((await this.resolve(c, { signal })).deviceKey)
    let address = deviceAddress(fromHex(c.identity), fromHex(deviceKey))
    if ((await this.manager.sessionInfo(address)) === undefined) address = await this.startSession(c, signal)
    this.pendingSends.set(entry.id, { contact: entry.contact })
    try {
      // The commit (adapter below) writes the session update and this ciphertext into the outbox in one batch.
      await this.manager.encrypt(address, fromHex(fresh.payload!), { messageId: fromHex(entry.id) })
    } catch (e) {
      // Unanswered for too long (StaleSessionError): that session is not used again; a new one carries the message.
      if (!(e instanceof ParleyCryptoError && e.code === 'StaleSession')) throw e
      await this.manager.archiveCurrentSession(address)
      address = await this.startSession(c, signal)
      await this.manager.encrypt(address, fromHex(fresh.payload!), { messageId: fromHex(entry.id) })
    } finally {
      this.pendingSends.delete(entry.id)
    }
    const stored = await this.store.get('outbox', entry.id)
    return stored === undefined ? undefined : decodeOutbox(stored)
  }

  /** The address of the session we would use with a contact now, if there is one. */
  private async currentAddress(c: ContactRecord): Promise<string | undefined> {
    const d = await this.device(c.identity)
    if (d === undefined) return undefined
    const address = deviceAddress(fromHex(c.identity), fromHex(d.deviceKey))
    return (await this.manager.sessionInfo(address)) === undefined ? undefined : address
  }

  /**
   * The message left our hands: the peer stored it (`sent`), or mailbox relays hold it for the peer (`deposited`,
   * naming them). It leaves the outbox; a pending history entry moves to that state.
   */
  private async delivered(
    entry: OutboxRecord,
    relays?: string[],
    reached: 'sent' | 'delivered' = 'sent'
  ): Promise<void> {
    if (!this.schedule.has(entry.id)) return
    const state = relays === undefined ? reached : 'deposited'
    const b = this.store.batch()
    b.delete('outbox', entry.id)
    if (entry.kind === 'text') {
      const seen = await this.store.get('seen', entry.id)
      const hkey = seen && decodeSeen(seen).history
      const h = hkey && (await this.store.get('history', hkey))
      if (hkey && h) {
        const { waitingAt: _relays, ...rec } = decodeHistory(h)
        // Only forward (a resent message may be `deposited` already, or past `sent` by a receipt).
        if (DELIVERY_RANK[state] > DELIVERY_RANK[rec.state]) {
          b.put('history', hkey, encodeRecord({ ...rec, state, ...(relays !== undefined && { waitingAt: relays }) }))
        }
      }
    }
    await b.commit()
    if (!this.schedule.delete(entry.id)) return
    if (entry.kind === 'text') {
      // Over the session stream, stored by the device is delivered: both are announced, in order.
      if (state === 'delivered') this.events.emit('receipt', { contact: entry.contact, type: 'sent', ids: [entry.id] })
      this.events.emit('receipt', { contact: entry.contact, type: state, ids: [entry.id], ...(relays && { relays }) })
    }
  }

  /**
   * One retry round over what is due (from the in-memory schedule: only due entries are read and decrypted), oldest
   * first. A contact whose attempt failed is skipped for the rest of the round (its other entries fail the same way),
   * and expired control messages are dropped.
   */
  private async retryLoop(): Promise<void> {
    if (this.retrying) return
    this.retrying = true
    try {
      const now = this.now()
      const failed = new Set<string>()
      for (const due of this.schedule.due(now, RETRY_ROUND_MAX)) {
        if (this.shutdown.signal.aborted) return
        if (this.attempting.has(due.id)) continue
        if (due.kind !== 'text' && now - due.createdAt > CONTROL_TTL_MS) {
          await this.store.delete('outbox', due.id)
          this.schedule.delete(due.id)
          continue
        }
        const raw = await this.store.get('outbox', due.id)
        if (raw === undefined) {
          this.schedule.delete(due.id)
          continue
        }
        const e = decodeOutbox(raw)
        try {
          if (failed.has(e.contact)) throw new PeerProtocolError('dm', 'unreachable this round')
          await this.attempt(e)
        } catch (err) {
          failed.add(e.contact)
          log('retry of %s failed: %s', e.id, (err as Error).message)
          const latest = await this.store.get('outbox', e.id)
          if (latest === undefined) continue
          const cur = decodeOutbox(latest)
          const delay = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * RETRY_FACTOR ** cur.attempts)
          const next: OutboxRecord = { ...cur, attempts: cur.attempts + 1, nextAttemptAt: this.now() + delay }
          await this.store.put('outbox', e.id, encodeRecord(next))
          if (this.schedule.has(e.id)) this.scheduleEntry(next)
        }
      }
    } finally {
      this.retrying = false
      this.later(() => this.retryLoop(), RETRY_INITIAL_MS)
    }
  }

  /** Retries every queued message now (e.g. after the network came back). */
  async flush(): Promise<void> {
    this.schedule.allDueAt(this.now())
    await this.retryLoop()
  }

  // ---------------------------------------------------------------- receiving

  private async onPrekeyStream(stream: Stream, connection: Connection): Promise<void> {
    const signal = this.signal(DEFAULT_DIAL_TIMEOUT)
    // One-time prekeys are a finite pool: a peer asking for many bundles gets refused (and cannot drain it).
    const range = sourceRange(connection.remoteAddr)
    if (
      !this.admit(`prekeys/${connection.remotePeer.toString()}`, MAX_PREKEY_REQUESTS_PER_MINUTE_PER_PEER) ||
      !this.admit(`prekeys-range/${range}`, this.prekeysPerMinutePerRange)
    ) {
      stream.abort(new PeerProtocolError('prekeys', 'rate limited'))
      return
    }
    try {
      const lp = lpStream(stream, { maxDataLength: 1024 })
      const req = decodePrekeyRequest((await lp.read({ signal })).subarray())
      if (toHex(req.identityKey) !== toHex(this.identityKey)) {
        await lp.write(encodePrekeyResponse({ status: 'error', errorCode: 'UnknownIdentity' }), { signal })
      } else {
        const pb = await this.manager.updateAccount(async (state) => {
          const t = await takePrekeyBundle(this.backend, state, this.now(), BUNDLE_LIFETIME_MS)
          return { state: t.state, result: t.prekeyBundle }
        })
        await lp.write(encodePrekeyResponse({ status: 'ok', prekeyBundle: encodePrekeyBundle(pb) }), { signal })
      }
      await stream.close({ signal })
    } catch (e) {
      stream.abort(e instanceof Error ? e : new Error(String(e)))
    }
  }

  /** Counts a request from `peer` (per protocol); false when it is over `limit` per minute. */
  private admit(peer: string, limit: number = this.dmPerMinutePerPeer): boolean {
    const now = this.now()
    let r = this.rates.get(peer)
    if (r === undefined || now - r.windowStart >= 60_000) {
      r = { windowStart: now, count: 0 }
      this.rates.set(peer, r)
      if (this.rates.size > 10_000) this.rates.delete(this.rates.keys().next().value!)
    }
    r.count++
    return r.count <= limit
  }

  /** An inbound session stream: frames answered in order, each after its durable commit (session-stream.ts). */
  private async onSessionStream(stream: Stream, connection: Connection): Promise<void> {
    const remoteKey = connection.remotePeer.publicKey
    if (remoteKey === undefined) {
      stream.abort(new PeerProtocolError('session', 'no device key'))
      return
    }
    const deviceKey = publicKeyToProtobuf(remoteKey)
    await serveSessionStream(
      stream,
      async (frame) => {
        const envelope = decodeEnvelope(frame)
        if (!this.admit(connection.remotePeer.toString())) {
          // A flooding peer: a typed refusal, then it is cut off; the node keeps serving others.
          setTimeout(() => void connection.close().catch(() => {}), 100)
          return encodeAck({ messageId: envelope.messageId, status: 'error', errorCode: 'RateLimited' })
        }
        return this.receiveOnce(envelope.messageId, () =>
          this.receive(envelope.messageId, envelope.ciphertext, { kind: 'direct', deviceKey, acked: true })
        )
      },
      this.shutdown.signal
    )
  }

  private async onDmStream(stream: Stream, connection: Connection): Promise<void> {
    const signal = this.signal(DEFAULT_DIAL_TIMEOUT)
    const remoteKey = connection.remotePeer.publicKey
    if (!this.admit(connection.remotePeer.toString())) {
      // A misbehaving peer: a typed refusal, then the connection is closed. The node keeps serving others.
      try {
        const lp = lpStream(stream, { maxDataLength: MAX_ENVELOPE_BYTES })
        const envelope = decodeEnvelope((await lp.read({ signal })).subarray())
        await lp.write(encodeAck({ messageId: envelope.messageId, status: 'error', errorCode: 'RateLimited' }), {
          signal
        })
      } catch {
        // nothing more to say to it
      }
      stream.abort(new PeerProtocolError('dm', 'rate limited'))
      await connection.close().catch(() => {})
      return
    }
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_ENVELOPE_BYTES })
      const envelope = decodeEnvelope((await lp.read({ signal })).subarray())
      const ack = await this.receiveOnce(envelope.messageId, () =>
        remoteKey === undefined
          ? Promise.resolve(encodeAck({ messageId: envelope.messageId, status: 'error', errorCode: 'NoSession' }))
          : this.receive(envelope.messageId, envelope.ciphertext, {
              kind: 'direct',
              deviceKey: publicKeyToProtobuf(remoteKey),
              acked: false
            })
      )
      await lp.write(ack, { signal })
      await stream.close({ signal })
    } catch (e) {
      // Malformed, oversized or unknown-version input: abort this stream; the node keeps serving others.
      stream.abort(e instanceof Error ? e : new Error(String(e)))
    }
  }

  /**
   * Runs `receive` for a message id, one at a time. The same message may arrive twice at once (a retry racing the
   * first attempt, or copies from two mailbox relays): receives of one id run one after another (the chain is extended
   * in the same tick as it is read, with no await between), and each checks the dedup record of its sender first, so
   * the message is processed and shown once.
   */
  private async receiveOnce(messageId: Uint8Array, receive: () => Promise<Uint8Array>): Promise<Uint8Array> {
    const id = toHex(messageId)
    const previous = this.receiving.get(id) ?? Promise.resolve(encodeAck({ messageId, status: 'ok' }))
    const work = previous.catch(() => undefined).then(receive)
    this.receiving.set(id, work)
    try {
      return await work
    } finally {
      if (this.receiving.get(id) === work) this.receiving.delete(id)
    }
  }

  // ---------------------------------------------------------------- mailboxes (our own)

  /** Drains our mailboxes now and refreshes registrations and prekey batches (also runs on a timer). */
  async checkMailboxes(): Promise<void> {
    if (await this.refreshMailboxes()) await this.publish().catch((e: Error) => log('publish failed: %s', e.message))
  }

  private async mailboxLoop(): Promise<void> {
    try {
      await this.checkMailboxes()
    } catch (e) {
      log('mailbox round failed: %s', (e as Error).message)
    }
    this.later(() => this.mailboxLoop(), this.mailboxOptions.pollIntervalMs)
  }

  /** The relays we keep our mailbox at now (multiaddrs with /p2p/). */
  get mailboxes(): readonly string[] {
    return this.mailboxRelays
  }

  /**
   * One mailbox round: at each candidate relay (configured ones, then bootstrap peers) until `target` of them
   * accept, register, open an owner session, top up our one-time prekeys there and drain what waits. Returns whether
   * the set of relays changed (our DHT record should then be republished). One round at a time.
   */
  private refreshMailboxes(): Promise<boolean> {
    this.mailboxRound ??= this.mailboxRoundOnce().finally(() => {
      this.mailboxRound = undefined
    })
    return this.mailboxRound
  }

  private async mailboxRoundOnce(): Promise<boolean> {
    const candidates = [...new Set([...this.mailboxOptions.relays, ...(this.networkOptions.bootstrap ?? [])])]
    const tokenHashes = await this.depositTokenHashes()
    const active: string[] = []
    for (const relay of candidates) {
      if (active.length >= this.mailboxOptions.target || this.shutdown.signal.aborted) break
      const signal = this.signal(DEFAULT_LOOKUP_TIMEOUT)
      try {
        await withMailbox(this.libp2p, relay, this.ids.mailbox, signal, (client) =>
          keepMailbox(this.owner, client, tokenHashes, signal)
        )
        active.push(relay)
      } catch (e) {
        log('mailbox at %s unavailable: %s', relayName(relay), (e as Error).message)
      }
    }
    const changed = active.join(' ') !== this.mailboxRelays.join(' ')
    this.mailboxRelays = active
    return changed
  }

  /**
   * Decrypts and durably stores one message; returns the ack to send. Who sent it: over a connection, the device key
   * the connection authenticated (an initial message names its identity inside, checked against that key; a ratchet
   * message is tried on the sessions of the identity the device is bound to, then of identities that claimed it
   * through a mailbox); through a mailbox, the sealed sender's claim (the ratchet proves it or the message fails).
   */
  private async receive(messageId: Uint8Array, ciphertext: Uint8Array, via: Via): Promise<Uint8Array> {
    const id = toHex(messageId)
    const ok = encodeAck({ messageId, status: 'ok' })
    const initial = ciphertext.length > 0 && (ciphertext[0]! & 0x0f) === MESSAGE_TYPE_INITIAL
    let identities: string[]
    let addresses: Array<string | undefined>
    if (via.kind === 'mailbox') {
      identities = via.claimed === undefined ? [] : [via.claimed.split('.')[0]!]
      addresses = [via.claimed]
    } else {
      const device = toHex(via.deviceKey)
      const bound = await boundIdentity(this.store, device)
      identities = [...new Set([...(bound === undefined ? [] : [bound]), ...(await deviceClaims(this.store, device))])]
      addresses = initial || identities.length === 0 ? [undefined] : identities.map((i) => `${i}.${device}`)
    }
    for (const identity of identities) if (await wasReceived(this.store, identity, id)) return ok
    let failure: unknown
    for (const address of addresses) {
      const context = { authenticated: via.kind === 'direct', acked: via.kind === 'direct' && via.acked }
      const slot: InboundSlot = { context, after: [] }
      this.inbound.set(id, slot)
      try {
        await this.manager.decrypt(ciphertext, {
          messageId,
          ...(address !== undefined && { address }),
          ...(via.kind === 'direct' && { deviceKey: via.deviceKey })
        })
        for (const after of slot.after) after()
        return ok
      } catch (e) {
        failure = e
        // Not this identity's session: try the next one that could own the device.
        const code = e instanceof ParleyCryptoError ? e.code : undefined
        if (code !== 'NoSession' && code !== 'UndecryptableHeader') break
      } finally {
        this.inbound.delete(id)
      }
    }
    const code = failure instanceof ParleyCryptoError ? failure.code : 'Malformed'
    return encodeAck({ messageId, status: 'error', errorCode: code })
  }

  /** Delivered receipts waiting to be sent, per contact, and the contacts with a receipt on its way. */
  private readonly pendingReceipts = new Map<string, string[]>()
  private readonly receiptInFlight = new Set<string>()
  /** Messages being received now, by hex id. */
  private readonly receiving = new Map<string, Promise<Uint8Array>>()
  /** Outbox entries with a delivery attempt in progress (the retry loop leaves them alone). */
  private readonly attempting = new Set<string>()
  /** What a mailbox page delivered, announced when the page is done (announceDrained). */
  private drained: ReceivedOutcome[] = []

  /** Announces what a mailbox page delivered: texts in each sender's order, then everything else as it came. */
  private announceDrained(): void {
    const page = this.drained
    this.drained = []
    const seq = (o: ReceivedOutcome) => (o.kind === 'text' ? o.senderSeq : Number.MAX_SAFE_INTEGER)
    const sentAt = (o: ReceivedOutcome) => (o.kind === 'text' ? o.sentAt : 0)
    const ordered = [...page].sort((x, y) => {
      if (x.kind !== 'text' || y.kind !== 'text' || x.contact !== y.contact) return 0
      return seq(x) - seq(y) || sentAt(x) - sentAt(y)
    })
    for (const outcome of ordered) this.react(outcome)
  }

  /** Per message being received: how it came, and what to do once its commit is durable (events, receipts). */
  private readonly inbound = new Map<string, InboundSlot>()

  /** What to do once a received message is durable: show it, send receipts back, give a deposit token. */
  private react(outcome: ReceivedOutcome, context?: ReceivedContext): void {
    switch (outcome.kind) {
      case 'text': {
        const { contact, id, text, senderSeq, sentAt, request } = outcome
        this.events.emit('message', { contact, id, text, senderSeq, sentAt, ...(request && { request }) })
        if (request) {
          // No receipt, no token, no contact: a message request, within its bounds (the oldest dropped past them).
          void enforceRequestBounds(this.requestStore(), this.requestEffects, this.requestLimits, contact).catch(
            (e: Error) => log('bounding message requests failed: %s', e.message)
          )
          return
        }
        // Over the session stream our Ack is the delivery receipt; mail and single DM streams get an E2EE one.
        if (context?.acked !== true) this.queueDeliveredReceipt(contact, id)
        if (outcome.gap) {
          if (!this.gaps.has(contact)) this.gaps.set(contact, new Map())
        }
        void this.giveDepositToken(contact).catch((e: Error) => log('giving a deposit token failed: %s', e.message))
        return
      }
      case 'resend':
        void this.resendFor(outcome.contact, outcome.seqs, outcome.ids).catch((e: Error) =>
          log('resending failed: %s', e.message)
        )
        return
      case 'receipt':
        this.events.emit('receipt', { contact: outcome.contact, type: outcome.type, ids: outcome.ids })
        return
      case 'typing':
        this.events.emit('typing', { contact: outcome.contact, active: outcome.active })
        return
      case 'request-control':
      case 'duplicate':
      case 'none':
        return
    }
  }

  // ---------------------------------------------------------------- resends (gaps, undecryptable mail)

  /**
   * A contact asks us to send messages again (by text number: a gap it saw; by id: mail it could not open). Each is
   * resent from our own history with its original id and number, so the contact shows it once whatever happened.
   */
  private async resendFor(contact: string, seqs: readonly number[], ids: readonly string[]): Promise<void> {
    if (!this.admit(`resend/${contact}`, MAX_RESENDS_PER_MINUTE)) return
    const records: HistoryRecord[] = []
    for (const seq of seqs) {
      const prefix = `${contact}/out/${String(seq).padStart(16, '0')}/`
      for await (const { value } of this.store.query('history', { prefix })) records.push(decodeHistory(value))
    }
    for (const id of ids) {
      const seen = await this.store.get('seen', id)
      const hkey = seen && decodeSeen(seen).history
      const h = hkey && (await this.store.get('history', hkey))
      if (h) records.push(decodeHistory(h))
    }
    for (const rec of records) {
      if (rec.direction !== 'out' || rec.contact !== contact || rec.state === 'failed') continue
      if (this.schedule.has(rec.id)) {
        // Still queued: if it was encrypted for a session the contact lost, a fresh encryption is what it needs.
        const raw = await this.store.get('outbox', rec.id)
        if (raw !== undefined) await this.requeue(decodeOutbox(raw))
        continue
      }
      if (this.schedule.texts >= this.maxOutbox) return
      const entry: OutboxRecord = {
        v: 1,
        id: rec.id,
        contact,
        kind: 'text',
        payload: toHex(
          encodePaddedPayload({ kind: 'text', senderSeq: rec.senderSeq, sentAt: rec.sentAt, text: rec.text })
        ),
        attempts: 0,
        nextAttemptAt: this.now(),
        createdAt: this.now()
      }
      await this.store.put('outbox', entry.id, encodeRecord(entry))
      this.scheduleEntry(entry)
    }
    if (records.length > 0) await this.retryLoop()
  }

  /** Drops an entry's ciphertext (it was for a session the contact cannot open) and makes it due now. */
  private async requeue(entry: OutboxRecord): Promise<void> {
    const { ciphertext: _c, address: _a, ...rest } = entry
    const again: OutboxRecord = { ...rest, nextAttemptAt: 0 }
    await this.store.put('outbox', again.id, encodeRecord(again))
    this.scheduleEntry(again)
  }

  /**
   * Mail from `claimed` (the sealed sender: identity.device) that we could not open for a session reason (we lost the
   * session, it used a prekey we no longer have). Never silently: a contact is asked, over a new session, to resend
   * it; the relay's copy is acknowledged because the sender still has the message. Strangers are not answered.
   */
  private async askToResend(claimed: string | undefined, messageId: Uint8Array, code: string): Promise<void> {
    if (claimed === undefined || !RESEND_CODES.has(code)) return
    const identity = claimed.split('.')[0]!
    if ((await this.store.get('contacts', identity)) === undefined) return
    log('mail %s could not be opened (%s): asking the sender to resend it', toHex(messageId), code)
    // Whatever session we hold with that device did not work for the sender: the resend request starts a new one.
    await this.manager.archiveCurrentSession(claimed)
    await this.queueControl(identity, 'resend', (senderSeq) => ({
      kind: 'resend',
      senderSeq,
      sentAt: this.now(),
      resend: { senderSeqs: [], messageIds: [messageId] }
    }))
  }

  /**
   * Open gaps in contacts' text numbers: once a gap is older than the grace period, the missing numbers are asked
   * for (at most MAX_RESEND_ASKS times each, then given up), one resend request per contact per grace period.
   */
  private async gapLoop(): Promise<void> {
    try {
      for (const [contact, asks] of [...this.gaps]) {
        if (this.shutdown.signal.aborted) return
        const state = await readSequence(this.store, contact)
        if (state === undefined || state.ahead.length === 0) {
          this.gaps.delete(contact)
          continue
        }
        const now = this.now()
        const lastAsk = asks.get(-1) ?? 0
        if (state.gapSince === undefined || now - Math.max(state.gapSince, lastAsk) < this.gapGraceMs) continue
        if ((await this.store.get('contacts', contact)) === undefined) continue
        const missing = missingNumbers(state, MAX_RESEND_ITEMS)
        const gone = missing.filter((n) => (asks.get(n) ?? 0) >= MAX_RESEND_ASKS)
        if (gone.length > 0) {
          const b = this.store.batch()
          writeSequence(b, contact, giveUp(state, gone, now))
          await b.commit()
          for (const n of gone) asks.delete(n)
        }
        const ask = missing.filter((n) => (asks.get(n) ?? 0) < MAX_RESEND_ASKS)
        if (ask.length === 0) continue
        for (const n of ask) asks.set(n, (asks.get(n) ?? 0) + 1)
        asks.set(-1, now)
        log('asking %s to resend %d missing messages', contact.slice(0, 8), ask.length)
        await this.queueControl(contact, 'resend', (senderSeq) => ({
          kind: 'resend',
          senderSeq,
          sentAt: now,
          resend: { senderSeqs: ask, messageIds: [] }
        }))
      }
    } catch (e) {
      log('gap check failed: %s', (e as Error).message)
    } finally {
      this.later(() => this.gapLoop(), GAP_CHECK_INTERVAL_MS)
    }
  }

  private async pruneLoop(): Promise<void> {
    await this.pruneSeen().catch((e: Error) => log('pruning dedup records failed: %s', e.message))
    this.later(() => this.pruneLoop(), SEEN_PRUNE_INTERVAL_MS)
  }

  /** The crypto layer's persistence: every commit is one batch of the profile store. */
  private protocolStore(): ProtocolStore {
    return {
      loadSessionRecord: (address) => this.store.get('sessions', address),
      commit: async (tx) => {
        const b = this.store.batch()
        for (const { address, record } of tx.sessions) b.put('sessions', address, record)
        if (tx.account !== undefined) b.put('meta', META_ACCOUNT, tx.account)
        let after: (() => void) | undefined
        const slot = tx.received && this.inbound.get(toHex(tx.received.messageId))
        if (tx.received !== undefined) {
          const context = slot?.context ?? { authenticated: false, acked: false }
          const outcome = await applyReceived(this.store, this.now(), b, tx.received, context)
          // Mail is announced per page, in each sender's order (a relay may hand it out in any order).
          after =
            slot !== undefined && !context.authenticated
              ? () => this.drained.push(outcome)
              : () => this.react(outcome, context)
        }
        if (tx.sent !== undefined) {
          const id = toHex(tx.sent.messageId)
          const pending = this.pendingSends.get(id)
          const raw = pending?.write === undefined ? await this.store.get('outbox', id) : undefined
          if (pending?.write !== undefined) {
            // A send with a session at hand: its history, dedup and outbox records land in this same batch.
            pending.write(b, tx.sent)
          } else if (raw !== undefined && pending !== undefined) {
            // The payload stays (encrypted at rest) until delivery: if the peer lost its session, the message is
            // encrypted again on a new one; ordinary retries resend exactly these ciphertext bytes.
            b.put(
              'outbox',
              id,
              encodeRecord({ ...decodeOutbox(raw), ciphertext: toHex(tx.sent.ciphertext), address: tx.sent.address })
            )
          }
        }
        await b.commit()
        if (after !== undefined) slot?.after.push(after)
      }
    }
  }

  /** Prunes dedup ids older than the retention (called by the owner, e.g. daily). */
  async pruneSeen(): Promise<number> {
    const cutoff = this.now() - DEDUP_RETENTION_MS
    const b = this.store.batch()
    let n = 0
    for await (const { key, value } of this.store.query('seen')) {
      const s = decodeSeen(value)
      if (s.history === undefined && s.at < cutoff) {
        b.delete('seen', key)
        n++
      }
    }
    await b.commit()
    return n
  }

  /** Whether a stored error should make us start a fresh session (exposed for tests and the CLI). */
  static needsReset(e: unknown): boolean {
    return needsSessionReset(e)
  }
}
