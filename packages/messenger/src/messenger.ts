/**
 * The messenger engine's front: one libp2p node, one encrypted profile, the E2EE session manager, and capability
 * modules with one job each (core.ts holds what they share):
 *
 * - contacts.ts — contacts, safety-number changes, message requests, history
 * - outbox.ts — send(), control messages, delivery over the session stream or to mailbox relays, retry rounds
 * - receipts.ts — delivered and read receipts, deposit tokens
 * - inbound.ts — the prekey, session-stream and DM protocols; decrypt and durable commit
 * - announcements.ts — events, receipts and resends once a received message is durable, in each sender's order
 * - resends.ts — gaps and undecryptable mail asked for again; resends from our history; dedup pruning
 * - peers.ts — reaching a contact's device; starting sessions
 * - publishing.ts — our DHT record, prekey rotation, certificate renewal, lookups
 * - mailbox-rounds.ts — keeping our mailboxes at relays (with mailbox-owner.ts)
 *
 * Data flow of one message: compose → history entry (pending) → ratchet encrypt, committed with the session update
 * and the exact ciphertext in the outbox (one batch) → a frame on the peer's session stream when it is reachable,
 * else a deposit at its mailbox relays, else retried with backoff → the recipient decrypts and commits plaintext,
 * dedup id and session in one durable batch BEFORE it acknowledges → the Ack marks the message delivered (mail gets an
 * end-to-end encrypted delivered receipt instead) → a read receipt when shown. Retries and duplicates never show a
 * message twice.
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import type { Connection, PeerId } from '@libp2p/interface'
import {
  type AccountState,
  type CryptoBackend,
  createAccount,
  createSessionManager,
  decodeAccount,
  defaultBackend,
  deviceAddress,
  encodeAccount,
  fromHex,
  generateIdentity,
  generateOneTimePrekeys,
  needsSessionReset,
  safetyNumber,
  toHex
} from '@parley/crypto'
import {
  type CourierFactory,
  type FoundRecord,
  type Libp2pFactory,
  type NetworkOptions,
  onRelayReconnect
} from '@parley/network'
import type { ProfileStore } from '@parley/store'
import { DEFAULT_PROTOCOL_PREFIX, encodeInvite, protocols } from '@parley/wire'
import { Announcements } from './announcements.ts'
import { cachedProfileStore } from './cached-store.ts'
import {
  CERTIFICATE_LIFETIME_MS,
  DEFAULT_GAP_GRACE_MS,
  DEFAULT_REPUBLISH_INTERVAL,
  GAP_CHECK_INTERVAL_MS,
  MAILBOX_POLL_INTERVAL_MS,
  MAILBOX_RELAY_TARGET,
  MAX_CONTROL_QUEUE,
  MAX_DM_MESSAGES_PER_MINUTE_PER_PEER,
  MAX_INBOUND_DM_STREAMS_PER_PEER,
  MAX_INBOUND_SESSION_STREAMS_PER_PEER,
  MAX_OUTBOX,
  MAX_PREKEY_REQUESTS_PER_MINUTE_PER_RANGE,
  ONE_TIME_PREKEY_TARGET,
  RETRY_INITIAL_MS,
  SEEN_PRUNE_INTERVAL_MS
} from './constants.ts'
import { Contacts } from './contacts.ts'
import { Core, META_ACCOUNT, META_NETWORK_KEY, type SendResult } from './core.ts'
import { DeliveryPaths, type Diagnostics } from './diagnostics.ts'
import { DirectPaths } from './direct.ts'
import { InvalidInputError } from './errors.ts'
import { Groups } from './groups/manager.ts'
import { Inbound } from './inbound.ts'
import { MailboxRounds } from './mailbox-rounds.ts'
import { Outbox } from './outbox.ts'
import { Peers } from './peers.ts'
import { Publisher } from './publishing.ts'
import { Receipts } from './receipts.ts'
import { type ContactRecord, decodeOutbox, type HistoryRecord, type Namespace } from './records.ts'
import { DEFAULT_REQUEST_LIMITS, type MessageRequest, type RequestLimits } from './requests.ts'
import { Resends } from './resends.ts'
import { type CallSignals, Signals } from './signals.ts'

export type { SendResult } from './core.ts'

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

/** Creates and starts a messenger over an opened profile (`options.libp2p` required: see the package entries). */
export async function startMessenger(options: MessengerOptions): Promise<Messenger> {
  const m = new Messenger(options)
  await m.start()
  return m
}

export class Messenger {
  readonly #core: Core
  readonly #signals: Signals

  constructor(options: MessengerOptions) {
    const network = options.network ?? {}
    const core = new Core({
      // Contacts and devices are read on every message: keep them in a write-through cache.
      store: cachedProfileStore(options.store, ['contacts', 'devices']),
      backend: options.backend ?? defaultBackend,
      now: options.now ?? Date.now,
      networkOptions: network,
      ids: protocols(network.protocolPrefix ?? DEFAULT_PROTOCOL_PREFIX),
      offline: options.offline ?? false,
      republishIntervalMs: options.republishIntervalMs ?? DEFAULT_REPUBLISH_INTERVAL,
      libp2pFactory: options.libp2p,
      courierFactory: options.courier,
      mailboxOptions: {
        relays: options.mailbox?.relays ?? [],
        target: options.mailbox?.target ?? MAILBOX_RELAY_TARGET,
        pollIntervalMs: options.mailbox?.pollIntervalMs ?? MAILBOX_POLL_INTERVAL_MS,
        requireDepositTokens: options.mailbox?.requireDepositTokens ?? false
      },
      maxOutbox: options.limits?.maxOutbox ?? MAX_OUTBOX,
      maxControl: options.limits?.maxControl ?? MAX_CONTROL_QUEUE,
      dmPerMinutePerPeer: options.limits?.dmPerMinutePerPeer ?? MAX_DM_MESSAGES_PER_MINUTE_PER_PEER,
      prekeysPerMinutePerRange: options.limits?.prekeysPerMinutePerRange ?? MAX_PREKEY_REQUESTS_PER_MINUTE_PER_RANGE,
      requestLimits: { ...DEFAULT_REQUEST_LIMITS, ...options.limits?.requests },
      gapGraceMs: options.limits?.gapGraceMs ?? DEFAULT_GAP_GRACE_MS
    })
    core.contacts = new Contacts(core)
    core.peers = new Peers(core)
    core.outbox = new Outbox(core)
    core.receipts = new Receipts(core)
    core.inbound = new Inbound(core)
    core.announcements = new Announcements(core)
    core.resends = new Resends(core)
    core.publisher = new Publisher(core)
    core.mailboxes = new MailboxRounds(core)
    core.direct = new DirectPaths(core)
    core.paths = new DeliveryPaths(core)
    this.#core = core
    this.#signals = new Signals(core)
    core.groups = new Groups(core)
    // What a crash left stored but unannounced is announced to the first `message` listener.
    core.events.onListen = (type) => {
      if (type === 'message' && core.announcements.leftovers.length > 0) {
        void core.announcements.announcePending().catch(() => {})
      }
    }
  }

  /** Call signalling to contacts (E2EE, in order, never stored): received ones arrive as `call-signal` events. */
  get signals(): CallSignals {
    return this.#signals
  }

  /** MLS groups (RFC 9420, X-Wing suite) over gossipsub: create, invite, send, history, leave (see docs/groups.md). */
  get groups(): Groups {
    return this.#core.groups as Groups
  }

  /** The events this messenger emits (see MessengerEvents). */
  get events(): Core['events'] {
    return this.#core.events
  }

  // ---------------------------------------------------------------- identity and lifecycle

  /** This user's identity key. */
  get identityKey(): Uint8Array {
    return this.#core.identityKey
  }

  /** This device's libp2p peer id. */
  get peerId(): PeerId {
    return this.#core.peerId
  }

  /** Addresses others can dial this node at (none when offline). */
  get addresses(): string[] {
    return this.#core.node?.getMultiaddrs().map((a) => a.toString()) ?? []
  }

  /** Open connections to a peer (diagnostics: `limits` is set on relayed ones). */
  connectionsTo(peer: PeerId): Connection[] {
    return this.#core.node?.getConnections(peer) ?? []
  }

  /** Whether this messenger runs a network node. */
  get online(): boolean {
    return this.#core.online
  }

  /** Our own half of safety numbers: 60 digits shared with a contact are computed with `safetyNumber(contact)`. */
  async fingerprint(): Promise<string> {
    return (await safetyNumber(this.#core.backend, this.identityKey, this.identityKey)).display.slice(0, 35)
  }

  /** Undelivered texts waiting in the outbox. */
  get queued(): number {
    return this.#core.outbox.schedule.texts
  }

  /** Control messages (receipts, deposit tokens, resend requests) waiting in the outbox. */
  get queuedControl(): number {
    return this.#core.outbox.schedule.controls
  }

  /** The relays we keep our mailbox at now (multiaddrs with /p2p/). */
  get mailboxes(): readonly string[] {
    return this.#core.mailboxes.mailboxes
  }

  async start(): Promise<void> {
    const core = this.#core
    const { store, backend } = core
    const networkKeyBytes = await store.get('meta', META_NETWORK_KEY)
    const networkKey = networkKeyBytes ? privateKeyFromProtobuf(networkKeyBytes) : await generateKeyPair('Ed25519')
    let account: AccountState
    const accountBytes = await store.get('meta', META_ACCOUNT)
    if (accountBytes !== undefined) {
      account = decodeAccount(accountBytes)
    } else {
      account = await createAccount(backend, {
        identity: await generateIdentity(backend),
        deviceKey: publicKeyToProtobuf(networkKey.publicKey),
        now: core.now(),
        certificateLifetimeMs: CERTIFICATE_LIFETIME_MS
      })
      account = await generateOneTimePrekeys(backend, account, 'x25519', ONE_TIME_PREKEY_TARGET)
      account = await generateOneTimePrekeys(backend, account, 'kem', ONE_TIME_PREKEY_TARGET)
      const b = store.batch()
      b.put('meta', META_NETWORK_KEY, privateKeyToProtobuf(networkKey))
      b.put('meta', META_ACCOUNT, encodeAccount(account))
      await b.commit()
    }
    core.sessions = createSessionManager({ backend, account, store: core.inbound.protocolStore(), now: core.now })
    // A device certificate with less than half its lifetime left is renewed (same device and agreement keys).
    await core.publisher.renewCertificate()
    // The one full pass over the outbox: from here on the schedule knows what is due.
    for await (const { value } of store.query('outbox')) core.outbox.scheduleEntry(decodeOutbox(value))
    await core.resends.loadGaps()
    await core.announcements.loadLeftovers()
    if (core.offline) return

    const factory = core.libp2pFactory
    if (factory === undefined) throw new InvalidInputError('libp2p', 'a libp2p factory (use the package entry point)')
    const node = await factory(networkKey, backend, {
      ...core.networkOptions,
      ...(core.networkOptions.now === undefined && { now: core.now }),
      // Only contacts' devices may open WebRTC with us: it tells them our IP addresses (direct.ts).
      webrtcGate: core.networkOptions.webrtcGate ?? ((peer) => core.direct.admits(peer))
    })
    core.node = node
    // All run over relayed (circuit) connections too, whose relay caps bytes and time: a message or a bundle is a
    // few KiB, and a node with no listening address (a browser, a node behind NAT) is reachable no other way.
    const inbound = core.inbound
    await node.handle(core.ids.session, (stream, connection) => inbound.onSessionStream(stream, connection), {
      maxInboundStreams: MAX_INBOUND_SESSION_STREAMS_PER_PEER,
      runOnLimitedConnection: true
    })
    await node.handle(core.ids.dm, (stream, connection) => inbound.onDmStream(stream, connection), {
      maxInboundStreams: MAX_INBOUND_DM_STREAMS_PER_PEER,
      runOnLimitedConnection: true
    })
    await node.handle(core.ids.prekeys, (stream, connection) => inbound.onPrekeyStream(stream, connection), {
      runOnLimitedConnection: true
    })
    const status = (online: boolean) => (e: CustomEvent<PeerId>) => {
      const key = e.detail.publicKey
      if (key === undefined) return
      void store
        .get('devices', toHex(publicKeyToProtobuf(key)))
        .then((identity) => {
          if (identity === undefined) return
          const relayed = node.getConnections(e.detail).some((c) => c.limits !== undefined)
          const contact = new TextDecoder().decode(identity)
          core.events.emit('peer:status', { contact, online, relayed })
          // A contact's device is back: what waits for it is due now, not at the end of its backoff.
          if (online) core.outbox.dueNow(contact)
        })
        .catch(() => {})
    }
    node.addEventListener('peer:connect', status(true))
    node.addEventListener('peer:disconnect', status(false))
    // Our addresses changed (a circuit reservation came or went, a listener moved): republish soon, so contacts find
    // the addresses we can be reached at now rather than at the next timer.
    node.addEventListener('self:peer:update', () => core.publisher.republishSoon())
    // Relayed connections to contacts are upgraded to direct WebRTC; session streams move when a direct one opens.
    core.direct.attach()
    await node.start()
    // Groups run when the node has a gossipsub service (the Node and browser presets do).
    await core.groups?.start()
    // A relay we use that restarted may have lost our record (or its mailbox registration): republish soon.
    core.publisher.stopRelayWatch = onRelayReconnect(
      node,
      () => [...(core.networkOptions.bootstrap ?? []), ...core.mailboxes.mailboxRelays],
      () => core.publisher.republishSoon()
    )
    core.later(() => core.publisher.republishLoop(), 0)
    core.later(() => core.outbox.retryLoop(), RETRY_INITIAL_MS)
    core.later(() => core.mailboxes.mailboxLoop(), core.mailboxOptions.pollIntervalMs)
    core.later(() => core.resends.gapLoop(), GAP_CHECK_INTERVAL_MS)
    core.later(() => core.resends.pruneLoop(), Math.min(60_000, SEEN_PRUNE_INTERVAL_MS))
  }

  async stop(): Promise<void> {
    const core = this.#core
    core.shutdown.abort()
    core.outbox.streams.closeAll()
    core.publisher.stop()
    for (const t of core.timers) clearTimeout(t)
    await core.groups?.stop().catch(() => {})
    await core.node?.stop()
  }

  /** An invite link others can add us with (with our current addresses when online). */
  invite(name?: string): string {
    return encodeInvite({
      identityKey: this.identityKey,
      addresses: this.#core.node?.getMultiaddrs().map((a) => a.bytes) ?? [],
      relays: [],
      ...(name !== undefined && { name })
    })
  }

  /** The current session with a contact's device (hex session id), if any: for diagnostics and tests. */
  async sessionWith(contact: string): Promise<{ sessionId: string; acknowledged: boolean } | undefined> {
    const c = await this.#core.contacts.contact(contact)
    const d = await this.#core.peers.device(c.identity)
    if (d === undefined) return undefined
    const info = await this.#core.manager.sessionInfo(deviceAddress(fromHex(c.identity), fromHex(d.deviceKey)))
    return info && { sessionId: toHex(info.sessionId), acknowledged: info.acknowledged }
  }

  /**
   * What the diagnostics panel shows: per relay the connection, the reservation and whether our mailbox is there; per
   * contact the connection kind now (direct WebRTC, direct, relayed, none), the last successful delivery path since
   * start, and why its device is unreachable.
   */
  diagnostics(): Promise<Diagnostics> {
    return this.#core.paths.report()
  }

  /** The safety number with a contact. */
  async safetyNumber(contact: string): Promise<string> {
    const c = await this.#core.contacts.contact(contact)
    return (await safetyNumber(this.#core.backend, this.identityKey, fromHex(c.identity))).display
  }

  // ---------------------------------------------------------------- the DHT and mailboxes

  /** Publishes (or refreshes) our record in the DHT: signed bundle, device addresses, mailbox relays. */
  publish(options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#core.publisher.publish(options)
  }

  /** Finds a contact's current record in the DHT (validated; the newest sequence wins). */
  lookup(identity: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<FoundRecord> {
    return this.#core.publisher.lookup(identity, options)
  }

  /** Drains our mailboxes now and refreshes registrations and prekey batches (also runs on a timer). */
  checkMailboxes(): Promise<void> {
    return this.#core.mailboxes.checkMailboxes()
  }

  // ---------------------------------------------------------------- contacts and requests

  /** Every contact. */
  contacts(): Promise<ContactRecord[]> {
    return this.#core.contacts.contacts()
  }

  /**
   * Adds a contact by identity key (hex) or invite link. A new identity under the name of an existing contact is a
   * safety-number change: the contact is marked `identity-changed`, `identity-changed` is emitted and nothing is
   * sent to it until acceptIdentity(). Adding the sender of a message request accepts it.
   */
  addContact(input: string, options: { name?: string } = {}): Promise<ContactRecord> {
    return this.#core.contacts.addContact(input, options)
  }

  /** Accepts a contact's new identity after a safety-number change: the contact now is that identity. */
  acceptIdentity(contact: string): Promise<ContactRecord> {
    return this.#core.contacts.acceptIdentity(contact)
  }

  /** Message requests: identities we have not added that wrote to us (bounded; see requests.ts). */
  requests(): Promise<MessageRequest[]> {
    return this.#core.contacts.requests()
  }

  /** Accepts a message request: the sender becomes a contact, and its messages get their delivered receipts. */
  acceptRequest(identity: string, options: { name?: string } = {}): Promise<ContactRecord> {
    return this.#core.contacts.acceptRequest(identity, options)
  }

  /** Declines a message request: its messages, dedup ids, device and sessions are deleted. */
  declineRequest(identity: string): Promise<boolean> {
    return this.#core.contacts.declineRequest(identity)
  }

  /** A contact's conversation, in order (per-sender sequence, then time). */
  history(contact: string): Promise<HistoryRecord[]> {
    return this.#core.contacts.history(contact)
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends a text; resolves once it is durably queued and, if the peer was reachable, stored there. Replying to a
   * message request accepts it.
   */
  send(contact: string, text: string, options: { signal?: AbortSignal } = {}): Promise<SendResult> {
    return this.#core.outbox.send(contact, text, options)
  }

  /** Tells a contact we are typing (never queued or stored; false when it could not be told now). */
  typing(contact: string, active: boolean): Promise<boolean> {
    return this.#core.receipts.typing(contact, active)
  }

  /** Tells the contact these messages were read (an end-to-end encrypted read receipt). */
  markRead(contact: string, ids: string[]): Promise<void> {
    return this.#core.receipts.markRead(contact, ids)
  }

  /** Retries every queued message now (e.g. after the network came back). */
  flush(): Promise<void> {
    return this.#core.outbox.flush()
  }

  /** Prunes dedup ids older than the retention (also runs daily); returns how many went. */
  pruneSeen(): Promise<number> {
    return this.#core.resends.pruneSeen()
  }

  /** Whether a stored error should make us start a fresh session (exposed for tests and the CLI). */
  static needsReset(e: unknown): boolean {
    return needsSessionReset(e)
  }
}

export type { RequestLimits }
