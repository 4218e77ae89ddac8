/**
 * Assembly: resolves MessengerOptions (defaults from constants.ts) into the Core every capability module shares, and
 * constructs the modules on it, once, in dependency order.
 */

import type { CryptoBackend } from '@parley/crypto'
import { defaultBackend } from '@parley/crypto'
import type { CourierFactory, Libp2pFactory, NetworkOptions } from '@parley/network'
import type { ProfileStore } from '@parley/store'
import { DEFAULT_PROTOCOL_PREFIX, protocols } from '@parley/wire'
import { Announcements } from './announcements.ts'
import { cachedProfileStore } from './cached-store.ts'
import {
  DEFAULT_GAP_GRACE_MS,
  DEFAULT_REPUBLISH_INTERVAL,
  MAILBOX_POLL_INTERVAL_MS,
  MAILBOX_RELAY_TARGET,
  MAX_CONTROL_QUEUE,
  MAX_DM_MESSAGES_PER_MINUTE_PER_PEER,
  MAX_OUTBOX,
  MAX_PREKEY_REQUESTS_PER_MINUTE_PER_RANGE
} from './constants.ts'
import { Contacts } from './contacts.ts'
import { Core } from './core.ts'
import { DeliveryPaths } from './diagnostics.ts'
import { DirectPaths } from './direct.ts'
import { Groups } from './groups/manager.ts'
import { Inbound } from './inbound.ts'
import { MailboxRounds } from './mailbox-rounds.ts'
import { Outbox } from './outbox.ts'
import { Peers } from './peers.ts'
import { Publisher } from './publishing.ts'
import { Receipts } from './receipts.ts'
import type { Namespace } from './records.ts'
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from './requests.ts'
import { Resends } from './resends.ts'
import { Signals } from './signals.ts'

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

/** The Core with every capability module constructed, and the call signals (which the Messenger exposes). */
export function assemble(options: MessengerOptions): { core: Core; signals: Signals } {
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
  const signals = new Signals(core)
  core.groups = new Groups(core)
  // What a crash left stored but unannounced is announced to the first `message` listener.
  core.events.onListen = (type) => {
    if (type === 'message' && core.announcements.leftovers.length > 0) {
      void core.announcements.announcePending().catch(() => {})
    }
  }
  return { core, signals }
}
