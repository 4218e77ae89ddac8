/** The mailbox server's limits, counters and options (the implementation is mailbox-server.ts). */
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

/** Counters and gauges the relay exports as Prometheus metrics. */
export interface MailboxStats {
  /** Registered (unexpired) mailboxes. */
  mailboxes: number
  /** Envelopes waiting. */
  storedEnvelopes: number
  /** Envelope bytes waiting. */
  storedBytes: number
  /** One-time prekeys held, both kinds. */
  storedPrekeys: number
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
  /** Refusals by error code (QuotaExceeded, TooLarge, RateLimited, BadSignature, UnknownChallenge, …). */
  rejects: Record<string, number>
}

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

/** The defaults; operators raise or lower each one (apps/relay flags, docs/relay-operator.md). */
export const DEFAULT_MAILBOX_LIMITS: Readonly<MailboxLimits> = {
  ttlMs: 30 * 24 * 3600 * 1000,
  maxEnvelopeBytes: 96 * 1024,
  maxItemsPerMailbox: 1000,
  maxBytesPerMailbox: 16 * 1024 * 1024,
  maxMailboxes: 100_000,
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

/** Error codes the mailbox service answers with (each also counted in `MailboxStats.rejects`). */
export const MAILBOX_ERROR_CODES = [
  'Malformed',
  'RateLimited',
  'TooLarge',
  'QuotaExceeded',
  'UnknownMailbox',
  'DepositTokenRequired',
  'TooManyMailboxes',
  'WrongRelay',
  'RegistrationExpired',
  'StaleRegistration',
  'BadSignature',
  'UnknownChallenge',
  'NotAuthenticated',
  'BadPrekey',
  'StoreFailed',
  'ShuttingDown'
] as const
export type MailboxErrorCode = (typeof MAILBOX_ERROR_CODES)[number]
