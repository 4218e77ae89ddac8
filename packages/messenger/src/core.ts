/**
 * What every capability module of the messenger shares: the profile store, the clock, the crypto backend, the
 * session manager and the libp2p node once started, the shutdown signal and timers, per-contact locks, rate limits,
 * the resolved options — and the modules themselves, so each can ask another for what it owns (the outbox for
 * delivery, the peers module for a contact's device, …). Nothing here is exported from the package.
 */
import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { type CryptoBackend, KeyedMutex, type SessionManager } from '@parley/crypto'
import type { CourierFactory, Libp2pFactory, NetworkOptions, ParleyServices } from '@parley/network'
import type { ProfileStore } from '@parley/store'
import type { ProtocolIds } from '@parley/wire'
import type { Libp2p } from 'libp2p'
import type { Announcements } from './announcements.ts'
import type { Contacts } from './contacts.ts'
import type { DeliveryPaths } from './diagnostics.ts'
import type { DirectPaths } from './direct.ts'
import { NotStartedError } from './errors.ts'
import type { MessengerEvents } from './events.ts'
import type { Groups } from './groups/manager.ts'
import type { Inbound } from './inbound.ts'
import type { MailboxRounds } from './mailbox-rounds.ts'
import type { Outbox } from './outbox.ts'
import type { Peers } from './peers.ts'
import type { Publisher } from './publishing.ts'
import type { Receipts } from './receipts.ts'
import type { ReceivedContext } from './received.ts'
import type { Namespace } from './records.ts'
import type { RequestLimits } from './requests.ts'
import type { Resends } from './resends.ts'

export const log = logger('parley:messenger')

/**
 * Ack error codes after which the sender starts a new session and encrypts the message again: the peer has no
 * session for it (lost state), our ratchet or its forked, a restored sender reused message numbers, or our first
 * messages name prekeys the peer no longer has (it consumed or rotated them, then lost the session they made).
 */
export const RESET_CODES: ReadonlySet<string> = new Set([
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
export const RESEND_CODES: ReadonlySet<string> = new Set([
  'NoSession',
  'UndecryptableHeader',
  'RatchetFork',
  'UnknownPrekey',
  'ReplayedInitialMessage',
  'LastResortPrekeyExhausted'
])
/** Resend requests one contact may make of us per minute. */
export const MAX_RESENDS_PER_MINUTE = 10
/** The most message ids one delivered receipt carries. */
export const MAX_RECEIPT_IDS = 256
/** Retry delay of a publish that failed (or found no peers). */
export const REPUBLISH_RETRY_MS = 2000
/** After our addresses change, wait this long for more changes before republishing. */
export const ADDRESS_REPUBLISH_DELAY_MS = 1000
export const META_ACCOUNT = 'account'
export const META_NETWORK_KEY = 'network-key'

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
export type Via =
  | { kind: 'direct'; deviceKey: Uint8Array /** the session stream: our Ack tells the sender */; acked: boolean }
  | { kind: 'mailbox'; claimed: string | undefined }

/** A message being received: how it came, and what to run once its commit is durable. */
export interface InboundSlot {
  readonly context: ReceivedContext
  readonly after: Array<() => void>
  /** Stored as a message request: the Ack says `held` (no delivery receipt). */
  held: boolean
}

/**
 * Typed event emitter over EventTarget (works in Node and browsers). `onListen` hears of each listener added, so that
 * what a crash left unannounced goes to the first `message` listener (see Inbound.announcePending).
 */
export class Emitter extends EventTarget {
  /** Called when a listener for `type` is added. */
  onListen: ((type: string) => void) | undefined

  emit<K extends keyof MessengerEvents>(type: K, detail: MessengerEvents[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }

  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: AddEventListenerOptions | boolean
  ): void {
    super.addEventListener(type, listener, options)
    if (listener !== null) this.onListen?.(type)
  }

  /**
   * A listener of the messenger's own modules: it does not count as the app's, so what a crash left unannounced still
   * waits for the app's first `message` listener.
   */
  listenInternally(type: keyof MessengerEvents, listener: (e: Event) => void): void {
    super.addEventListener(type, listener)
  }
}

/** The resolved options every module reads. */
export interface CoreOptions {
  readonly store: ProfileStore<Namespace>
  readonly backend: CryptoBackend
  readonly now: () => number
  readonly networkOptions: NetworkOptions
  readonly ids: ProtocolIds
  readonly offline: boolean
  readonly republishIntervalMs: number
  readonly libp2pFactory: Libp2pFactory | undefined
  readonly courierFactory: CourierFactory | undefined
  readonly mailboxOptions: {
    readonly relays: string[]
    readonly target: number
    readonly pollIntervalMs: number
    readonly requireDepositTokens: boolean
  }
  readonly maxOutbox: number
  readonly maxControl: number
  readonly dmPerMinutePerPeer: number
  readonly prekeysPerMinutePerRange: number
  readonly requestLimits: RequestLimits
  readonly gapGraceMs: number
}

export class Core {
  readonly events = new Emitter()
  readonly store: ProfileStore<Namespace>
  readonly backend: CryptoBackend
  readonly now: () => number
  readonly networkOptions: NetworkOptions
  readonly ids: ProtocolIds
  readonly offline: boolean
  readonly republishIntervalMs: number
  readonly libp2pFactory: Libp2pFactory | undefined
  readonly courierFactory: CourierFactory | undefined
  readonly mailboxOptions: CoreOptions['mailboxOptions']
  readonly maxOutbox: number
  readonly maxControl: number
  readonly dmPerMinutePerPeer: number
  readonly prekeysPerMinutePerRange: number
  readonly requestLimits: RequestLimits
  readonly gapGraceMs: number
  readonly shutdown = new AbortController()
  node: Libp2p<ParleyServices> | undefined
  sessions: SessionManager | undefined
  timers: ReturnType<typeof setTimeout>[] = []
  /** Session setup and encryption per contact run one at a time (one session, not one per concurrent send). */
  readonly contactLocks = new KeyedMutex()
  /** Per key (a peer, a protocol and peer, an address range): requests accepted in the current minute. */
  readonly rates = new Map<string, { windowStart: number; count: number }>()

  // The capability modules, set once by the Messenger's constructor.
  contacts!: Contacts
  peers!: Peers
  outbox!: Outbox
  receipts!: Receipts
  inbound!: Inbound
  /** What happens once a received message is durable (announcements.ts). */
  announcements!: Announcements
  resends!: Resends
  publisher!: Publisher
  mailboxes!: MailboxRounds
  /** Upgrades of relayed connections to direct WebRTC (direct.ts). */
  direct!: DirectPaths
  /** Last delivery paths and unreachable reasons, for diagnostics() (diagnostics.ts). */
  paths!: DeliveryPaths
  /** MLS groups over gossipsub (groups/manager.ts); undefined until constructed. */
  groups: Groups | undefined

  constructor(options: CoreOptions) {
    this.store = options.store
    this.backend = options.backend
    this.now = options.now
    this.networkOptions = options.networkOptions
    this.ids = options.ids
    this.offline = options.offline
    this.republishIntervalMs = options.republishIntervalMs
    this.libp2pFactory = options.libp2pFactory
    this.courierFactory = options.courierFactory
    this.mailboxOptions = options.mailboxOptions
    this.maxOutbox = options.maxOutbox
    this.maxControl = options.maxControl
    this.dmPerMinutePerPeer = options.dmPerMinutePerPeer
    this.prekeysPerMinutePerRange = options.prekeysPerMinutePerRange
    this.requestLimits = options.requestLimits
    this.gapGraceMs = options.gapGraceMs
  }

  get manager(): SessionManager {
    if (this.sessions === undefined) throw new NotStartedError()
    return this.sessions
  }

  get libp2p(): Libp2p<ParleyServices> {
    if (this.node === undefined) throw new NotStartedError()
    return this.node
  }

  /** This user's identity key. */
  get identityKey(): Uint8Array {
    return this.manager.account.identity.publicKey
  }

  get online(): boolean {
    return this.node !== undefined && !this.shutdown.signal.aborted
  }

  get peerId(): PeerId {
    return this.libp2p.peerId
  }

  /** Runs `fn` after `delay` ms unless the messenger stopped (timers are cleared on stop). */
  later(fn: () => Promise<void>, delay: number): void {
    if (this.shutdown.signal.aborted) return
    const t = setTimeout(() => {
      this.timers = this.timers.filter((x) => x !== t)
      fn().catch(() => {})
    }, delay)
    this.timers.push(t)
  }

  /** The caller's signal (or a default timeout when none), ended early by shutdown. */
  signal(timeout: number, signal?: AbortSignal): AbortSignal {
    return AbortSignal.any([signal ?? AbortSignal.timeout(timeout), this.shutdown.signal])
  }

  /**
   * Runs `fn` under the lock of `key` (a contact): one at a time per key, and only once the contact's texts whose
   * commits send() queued before releasing the lock early have settled (outbox.ts).
   */
  locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.contactLocks.run(key, async () => {
      await this.outbox.settled(key)
      return fn()
    })
  }

  /** Counts a request under `key`; false when it is over `limit` per minute. Bounded to 10,000 keys. */
  admit(key: string, limit: number = this.dmPerMinutePerPeer): boolean {
    const now = this.now()
    let r = this.rates.get(key)
    if (r === undefined || now - r.windowStart >= 60_000) {
      r = { windowStart: now, count: 0 }
      this.rates.set(key, r)
      if (this.rates.size > 10_000) this.rates.delete(this.rates.keys().next().value!)
    }
    r.count++
    return r.count <= limit
  }
}
