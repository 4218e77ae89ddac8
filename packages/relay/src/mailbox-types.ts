/**
 * The mailbox server's limits, counters and options. The implementation: mailbox-layout.ts (what is on disk),
 * mailbox-index.ts (the quota index), mailbox-ops.ts (the operations) and mailbox-server.ts (the stream protocol).
 */
import type { CryptoBackend } from '@parley/crypto'
import type { Datastore } from 'interface-datastore'

/** Every limit of the mailbox service, named. Each refusal is a typed error code to the caller and a counter. */
export interface MailboxLimits {
  /** How long a deposited envelope is kept unfetched (default 30 days); then it is purged. */
  ttlMs: number
  /** Largest envelope accepted (bytes). */
  maxEnvelopeBytes: number
  /** Most envelopes waiting in one mailbox. */
  maxItemsPerMailbox: number
  /** Most envelope bytes waiting in one mailbox. */
  maxBytesPerMailbox: number
  /** Most registered mailboxes at this relay. */
  maxMailboxes: number
  /**
   * Most bytes all mailboxes together keep on disk: every record (envelopes, one-time prekeys, registrations), key and
   * value. Mailboxes are free to register, so the per-mailbox quotas alone do not bound the disk; past this, deposits
   * are refused with `RelayFull` (the sender keeps the message queued and tries again or elsewhere).
   */
  maxStoreBytes: number
  /** Most envelopes all mailboxes together hold (each costs the in-memory quota index a few dozen bytes). */
  maxStoredEnvelopes: number
  /** Longest a registration may claim to stay valid. */
  maxRegistrationLifetimeMs: number
  /** Deposits per minute from one source address range (/24 for IPv4, /64 for IPv6). */
  depositsPerMinutePerRange: number
  /** Registrations, challenges and prekey uploads per minute from one source range. */
  ownerOpsPerMinutePerRange: number
  /** Prekey bundles handed out per minute to one source range. */
  prekeyRequestsPerMinutePerRange: number
  /** Most one-time prekeys of each kind held for one mailbox. */
  maxOneTimePrekeysPerMailbox: number
  /** How long a fetch challenge stays usable (each lives in its stream only: at most one per stream). */
  challengeTtlMs: number
  /** How often expired envelopes and registrations are purged. */
  purgeIntervalMs: number
  /** How long a mailbox stream may sit idle between requests before the relay closes it. */
  streamIdleMs: number
  /** Most mailbox streams one connection may have open at once. */
  maxStreamsPerConnection: number
}

/** Counters the mailbox operations keep, since start (exported as metrics). */
export interface MailboxCounters {
  /** Accepted deposits since start. */
  deposits: number
  /** Envelopes handed to owners (a re-fetch counts again). */
  fetched: number
  /** Envelopes deleted after an owner's ack. */
  acked: number
  /** Envelopes deleted because their TTL passed. */
  purged: number
  /** Prekey bundles served with a one-time prekey from a batch. */
  prekeysHandedOut: number
  /** Registrations accepted. */
  registrations: number
  /**
   * What the store being full (`maxStoreBytes` or `maxStoredEnvelopes`) turned away, by operation: `deposit` and
   * `register` (a new mailbox) were refused with `RelayFull`, `put-prekeys` counts prekeys not stored,
   * `register-tokens` counts renewals kept at their old deposit tokens because the larger record did not fit.
   */
  storeFull: Record<StoreFullOp, number>
}

/** Counters and gauges the relay exports as Prometheus metrics. */
export interface MailboxStats extends MailboxCounters {
  /** Registered (unexpired) mailboxes. */
  mailboxes: number
  /** Envelopes waiting. */
  storedEnvelopes: number
  /** Envelope bytes waiting. */
  storedBytes: number
  /** One-time prekeys held, both kinds. */
  storedPrekeys: number
  /** Refusals by error code (QuotaExceeded, TooLarge, RateLimited, BadSignature, UnknownChallenge, …). */
  rejects: Record<string, number>
  /** Bytes of every mailbox record on disk (keys and values): what `maxStoreBytes` caps. */
  storeBytes: number
  /** The configured `maxStoreBytes`. */
  maxStoreBytes: number
  /** The configured `maxStoredEnvelopes`. */
  maxStoredEnvelopes: number
  /** The configured `maxMailboxes`. */
  maxMailboxes: number
}

/** Operations the full store turns away (see `MailboxStats.storeFull`). */
export type StoreFullOp = 'deposit' | 'register' | 'put-prekeys' | 'register-tokens'

/** Structured log sink: an event name and fields that never carry envelope bytes, keys or plaintext. */
export type RelayLog = (event: string, fields?: Record<string, string | number | boolean>) => void

export interface MailboxServerOptions {
  /** Where envelopes, registrations and prekey batches live; writes must be synced before they resolve. */
  datastore: Datastore
  limits?: Partial<MailboxLimits>
  backend?: CryptoBackend
  now?: () => number
  /** Protocol prefix (default /parley): serves `<prefix>/mailbox/1.0.0` and `<prefix>/prekeys/1.0.0`. */
  protocolPrefix?: string
  log?: RelayLog
}

/** Default `maxStoreBytes`: 4 GiB of mailbox records in all, whatever the number of mailboxes. */
export const DEFAULT_MAILBOX_STORE_MAX_BYTES = 4 * 1024 ** 3
/** Default `maxStoredEnvelopes`: the quota index then takes a few hundred MiB of memory at most. */
export const DEFAULT_MAILBOX_MAX_STORED_ENVELOPES = 2_000_000
/** Refusals are logged at most once per reason and op in this interval (with a count). */
export const REJECT_LOG_INTERVAL_MS = 10_000
/** How long the relay waits for a client to take the end of a mailbox stream before it aborts it. */
export const MAILBOX_STREAM_CLOSE_TIMEOUT_MS = 5_000

/** The defaults; operators raise or lower each one (apps/relay flags, docs/relay-operator.md). */
export const DEFAULT_MAILBOX_LIMITS: Readonly<MailboxLimits> = {
  ttlMs: 30 * 24 * 3600 * 1000,
  maxEnvelopeBytes: 96 * 1024,
  maxItemsPerMailbox: 1000,
  maxBytesPerMailbox: 16 * 1024 * 1024,
  maxMailboxes: 100_000,
  maxStoreBytes: DEFAULT_MAILBOX_STORE_MAX_BYTES,
  maxStoredEnvelopes: DEFAULT_MAILBOX_MAX_STORED_ENVELOPES,
  maxRegistrationLifetimeMs: 30 * 24 * 3600 * 1000,
  depositsPerMinutePerRange: 600,
  ownerOpsPerMinutePerRange: 600,
  prekeyRequestsPerMinutePerRange: 60,
  maxOneTimePrekeysPerMailbox: 100,
  challengeTtlMs: 60_000,
  purgeIntervalMs: 10 * 60 * 1000,
  streamIdleMs: 30_000,
  maxStreamsPerConnection: 32
}
