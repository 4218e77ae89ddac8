/**
 * parley-relay's settings table: each setting's config-file key (its flag and environment variable derive from it),
 * its kind, its argument and help line, and the default --help shows (the value itself is RelayOptions' default).
 * Data only: values are parsed in values.ts and resolved in config.ts.
 */
import {
  DEFAULT_HTTP_HOST,
  DEFAULT_HTTP_PORT,
  DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_MAILBOX_LIMITS,
  DEFAULT_MAX_DHT_RECORD_BYTES,
  DEFAULT_MAX_DHT_RECORDS,
  DEFAULT_MAX_RESERVATIONS,
  DEFAULT_MAX_RESERVATIONS_PER_RANGE,
  DEFAULT_RELAY_DATA_LIMIT,
  DEFAULT_RELAY_DURATION_LIMIT_MS,
  DEFAULT_RELAY_MAX_CONNECTIONS,
  DEFAULT_RELAY_MAX_INBOUND_CONNECTIONS_PER_RANGE,
  DEFAULT_RELAY_MAX_INCOMING_PENDING_CONNECTIONS,
  DEFAULT_RESERVATION_TTL_MS,
  LOG_LEVELS
} from '@parley/relay'
import { bytes, dur } from './values.ts'

/** How a setting's value is read (values.ts). */
export type Kind = 'string' | 'list' | 'int' | 'port' | 'bytes' | 'duration' | 'bool' | 'level' | 'scope'

/** One row of the table. */
export interface Setting {
  /** Config-file key (camelCase); the flag is its kebab-case and the variable PARLEY_RELAY_<SNAKE>. */
  key: string
  kind: Kind
  arg?: string
  help: string
  /** Shown in --help; the value itself comes from RelayOptions' defaults unless `value` is set. */
  shown?: string
  /** Smallest allowed number (default 1). */
  min?: number
  /**
   * What each item of a list must be: a multiaddr, or a peer's multiaddr (ending in /p2p/<peer id>, which bootstrap
   * needs to dial it). Checked here so a typo stops the daemon with exit code 2 and the setting's name, not with a
   * library's error from deep inside the start.
   */
  items?: 'multiaddr' | 'peer' | 'ice'
}

const M = DEFAULT_MAILBOX_LIMITS

/** Every setting, in --help order. */
export const SETTINGS: readonly Setting[] = [
  {
    key: 'data',
    kind: 'string',
    arg: '<dir>',
    help: 'data directory: key, mailbox and DHT stores',
    shown: '~/.parley-relay'
  },
  { key: 'config', kind: 'string', arg: '<file.json>', help: 'JSON config file (keys as in docs/relay-operator.md)' },
  {
    key: 'listen',
    kind: 'list',
    items: 'multiaddr',
    arg: '<multiaddr>',
    help: 'libp2p listen address (repeatable)',
    shown: '/ip4/127.0.0.1/tcp/0 and …/tcp/0/ws'
  },
  {
    key: 'announce',
    kind: 'list',
    items: 'multiaddr',
    arg: '<multiaddr>',
    help: 'address to announce instead (repeatable)'
  },
  {
    key: 'bootstrap',
    kind: 'list',
    items: 'peer',
    arg: '<multiaddr>',
    help: 'another DHT node to join, with /p2p/<peer id> (repeatable)'
  },
  {
    key: 'httpHost',
    kind: 'string',
    arg: '<host>',
    help: 'HTTP host for /metrics, /healthz, web',
    shown: DEFAULT_HTTP_HOST
  },
  {
    key: 'httpPort',
    kind: 'port',
    arg: '<port>',
    help: 'HTTP port (0: any free port)',
    shown: String(DEFAULT_HTTP_PORT)
  },
  { key: 'web', kind: 'string', arg: '<dir>', help: 'serve this directory (the web app build) over HTTP' },
  {
    key: 'iceServer',
    kind: 'list',
    items: 'ice',
    arg: '<url>',
    help: 'STUN/TURN server you run, advertised in /parley.json (repeatable)',
    shown: 'none'
  },
  {
    key: 'turnSecret',
    kind: 'string',
    arg: '<secret>',
    help: "coturn's static-auth-secret: TURN URLs get time-limited credentials (prefer the env or config file)"
  },
  { key: 'echo', kind: 'bool', help: 'serve /parley/bench-echo/1.0.0 (benchmarks)', shown: 'off' },
  {
    key: 'maxReservations',
    kind: 'int',
    arg: '<n>',
    help: 'circuit relay reservations held at once',
    shown: String(DEFAULT_MAX_RESERVATIONS)
  },
  {
    key: 'reservationTtl',
    kind: 'duration',
    arg: '<time>',
    help: 'reservation lifetime before renewal',
    shown: dur(DEFAULT_RESERVATION_TTL_MS)
  },
  {
    key: 'relayDataLimit',
    kind: 'bytes',
    arg: '<size>',
    help: 'bytes per relayed connection',
    shown: bytes(DEFAULT_RELAY_DATA_LIMIT)
  },
  {
    key: 'relayDurationLimit',
    kind: 'duration',
    arg: '<time>',
    help: 'lifetime of a relayed connection',
    shown: dur(DEFAULT_RELAY_DURATION_LIMIT_MS)
  },
  {
    key: 'maxConnections',
    kind: 'int',
    arg: '<n>',
    help: 'open connections in all',
    shown: String(DEFAULT_RELAY_MAX_CONNECTIONS)
  },
  {
    key: 'inboundConnectionThreshold',
    kind: 'int',
    arg: '<n>',
    help: 'new connections per second from one IP',
    shown: String(DEFAULT_INBOUND_CONNECTION_THRESHOLD)
  },
  {
    key: 'maxIncomingPending',
    kind: 'int',
    arg: '<n>',
    help: 'inbound connections in their handshake at once',
    shown: String(DEFAULT_RELAY_MAX_INCOMING_PENDING_CONNECTIONS)
  },
  {
    key: 'maxInboundPerRange',
    kind: 'int',
    arg: '<n>',
    help: 'inbound connections from one IPv4 /24 or IPv6 /64 at once',
    shown: String(DEFAULT_RELAY_MAX_INBOUND_CONNECTIONS_PER_RANGE)
  },
  {
    key: 'maxReservationsPerRange',
    kind: 'int',
    arg: '<n>',
    help: 'circuit reservations held by one IPv4 /24 or IPv6 /64',
    shown: String(DEFAULT_MAX_RESERVATIONS_PER_RANGE)
  },
  {
    key: 'dhtMaxRecords',
    kind: 'int',
    arg: '<n>',
    help: 'DHT records kept (on disk); past it the oldest are evicted',
    shown: String(DEFAULT_MAX_DHT_RECORDS)
  },
  {
    key: 'dhtMaxRecordBytes',
    kind: 'bytes',
    arg: '<size>',
    help: 'bytes of DHT records kept',
    shown: bytes(DEFAULT_MAX_DHT_RECORD_BYTES)
  },
  {
    key: 'dhtAddressScope',
    kind: 'scope',
    arg: '<scope>',
    help: 'peer addresses the DHT keeps: public or private',
    shown: 'private'
  },
  {
    key: 'mailboxTtl',
    kind: 'duration',
    arg: '<time>',
    help: 'how long an unfetched envelope is kept',
    shown: dur(M.ttlMs)
  },
  {
    key: 'mailboxMaxItems',
    kind: 'int',
    arg: '<n>',
    help: 'envelopes waiting per mailbox',
    shown: String(M.maxItemsPerMailbox)
  },
  {
    key: 'mailboxMaxBytes',
    kind: 'bytes',
    arg: '<size>',
    help: 'envelope bytes waiting per mailbox',
    shown: bytes(M.maxBytesPerMailbox)
  },
  {
    key: 'mailboxMaxEnvelope',
    kind: 'bytes',
    arg: '<size>',
    help: 'largest envelope accepted',
    shown: bytes(M.maxEnvelopeBytes)
  },
  {
    key: 'maxMailboxes',
    kind: 'int',
    arg: '<n>',
    help: 'registered mailboxes at this relay',
    shown: String(M.maxMailboxes)
  },
  {
    key: 'mailboxStoreMaxBytes',
    kind: 'bytes',
    arg: '<size>',
    help: 'bytes all mailboxes together keep on disk',
    shown: bytes(M.maxStoreBytes)
  },
  {
    key: 'mailboxMaxStoredEnvelopes',
    kind: 'int',
    arg: '<n>',
    help: 'envelopes all mailboxes together hold',
    shown: String(M.maxStoredEnvelopes)
  },
  {
    key: 'depositsPerMinute',
    kind: 'int',
    arg: '<n>',
    help: 'deposits per minute from one /24 (IPv4) or /64 (IPv6)',
    shown: String(M.depositsPerMinutePerRange)
  },
  {
    key: 'ownerOpsPerMinute',
    kind: 'int',
    arg: '<n>',
    help: 'registrations/fetches/prekey uploads per minute per range',
    shown: String(M.ownerOpsPerMinutePerRange)
  },
  {
    key: 'prekeyRequestsPerMinute',
    kind: 'int',
    arg: '<n>',
    help: 'prekey bundles handed out per minute per range',
    shown: String(M.prekeyRequestsPerMinutePerRange)
  },
  {
    key: 'mailboxPurgeInterval',
    kind: 'duration',
    arg: '<time>',
    help: 'how often expired envelopes are deleted',
    shown: dur(M.purgeIntervalMs)
  },
  {
    key: 'shutdownDrain',
    kind: 'duration',
    arg: '<time>',
    help: 'on SIGTERM, answer /healthz 503 this long first',
    shown: '0s',
    min: 0
  },
  { key: 'logLevel', kind: 'level', arg: '<level>', help: `${LOG_LEVELS.join('|')}`, shown: 'info' }
]

/** Every setting's config-file key. */
export const KEYS: ReadonlySet<string> = new Set(SETTINGS.map((s) => s.key))

/** `maxReservations` → `max-reservations`. */
export const flagOf = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
/** `maxReservations` → `PARLEY_RELAY_MAX_RESERVATIONS`. */
export const envOf = (key: string) => `PARLEY_RELAY_${flagOf(key).replace(/-/g, '_').toUpperCase()}`
