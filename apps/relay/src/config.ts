/**
 * parley-relay's settings: one table naming each setting's flag, environment variable and config-file key, its
 * type and its help line. Values are resolved flags > environment > config file > defaults, and every bad value is
 * a ConfigError naming where it came from.
 */
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
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
  isIceUrl,
  LOG_LEVELS,
  type LogLevel,
  type MailboxLimits,
  MIN_TURN_SECRET_CHARS,
  type RelayOptions
} from '@parley/relay'

/** A setting has a bad value, or the command line or config file cannot be read. Exit code 2. */
export class ConfigError extends Error {
  static override readonly name = 'ConfigError'
  readonly code = 'InvalidConfig'
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

type Kind = 'string' | 'list' | 'int' | 'port' | 'bytes' | 'duration' | 'bool' | 'level' | 'scope'

interface Setting {
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

const DAY = 86_400_000
const dur = (ms: number) =>
  ms % DAY === 0
    ? `${ms / DAY}d`
    : ms % 3600_000 === 0
      ? `${ms / 3600_000}h`
      : ms % 60_000 === 0
        ? `${ms / 60_000}m`
        : `${ms / 1000}s`
const bytes = (n: number | bigint) => {
  const v = Number(n)
  return v % 1048576 === 0 ? `${v / 1048576}MiB` : v % 1024 === 0 ? `${v / 1024}KiB` : `${v}`
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

const KEYS = new Set(SETTINGS.map((s) => s.key))

/** `maxReservations` → `max-reservations`. */
export const flagOf = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
/** `maxReservations` → `PARLEY_RELAY_MAX_RESERVATIONS`. */
export const envOf = (key: string) => `PARLEY_RELAY_${flagOf(key).replace(/-/g, '_').toUpperCase()}`

export function helpText(): string {
  const rows = SETTINGS.map((s) => {
    const left = `  --${flagOf(s.key)}${s.arg ? ` ${s.arg}` : ''}`
    return `${left.padEnd(40)}${s.help}${s.shown ? ` (default ${s.shown})` : ''}`
  })
  return `parley-relay — a Parley relay: circuit relay for browsers, DHT server, encrypted mailboxes, metrics

Usage: parley-relay [options]

${rows.join('\n')}
  -h, --help                            this help

Every option can also be set by an environment variable (--max-reservations → PARLEY_RELAY_MAX_RESERVATIONS;
lists comma-separated) or a JSON config file (--config; keys in camelCase: {"maxReservations": 4096}).
Precedence: flags > environment > config file > defaults. Times: 500ms, 30s, 10m, 2h, 30d (plain numbers are ms).
Sizes: 65536, 64KiB, 4MiB, 1GiB. Operator guide: docs/relay-operator.md`
}

type Raw = string | number | boolean | string[]
type Source = { where: (key: string) => string; values: Map<string, Raw> }

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: DAY }
const UNITS_BYTES: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1048576,
  g: 1e9,
  gb: 1e9,
  gib: 1073741824
}

function parseValue(s: Setting, raw: Raw, where: string): unknown {
  const bad = (expected: string): never => {
    throw new ConfigError(`${where}: expected ${expected}, got ${JSON.stringify(raw)}`)
  }
  const min = s.min ?? 1
  const number = (units: Record<string, number>, unitless: number, expected: string): number => {
    if (typeof raw === 'number') {
      if (!Number.isSafeInteger(raw * unitless) || raw < min) bad(expected)
      return raw * unitless
    }
    if (typeof raw !== 'string') return bad(expected)
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim())
    const unit = m?.[2]?.toLowerCase() ?? ''
    const factor = m === null ? undefined : unit === '' ? unitless : units[unit]
    if (m === null || factor === undefined) return bad(expected)
    const value = Number(m[1]) * factor
    if (!Number.isSafeInteger(value) || value < min) bad(expected)
    return value
  }
  switch (s.kind) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') bad('a non-empty string')
      return raw
    case 'list': {
      const items = typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) ? raw : bad('a list of strings')
      const list = (items as unknown[]).map((x) => (typeof x === 'string' ? x.trim() : bad('a list of strings')))
      const kept = list.filter((x) => x !== '')
      if (s.items === 'ice') for (const item of kept) checkIceUrl(item, where)
      else if (s.items !== undefined) for (const item of kept) checkAddress(s.items, item, where)
      return kept
    }
    case 'int':
      return number({}, 1, `an integer >= ${min}`)
    case 'port': {
      const port = typeof raw === 'number' ? raw : /^\d+$/.test(String(raw)) ? Number(raw) : Number.NaN
      if (!Number.isInteger(port) || port < 0 || port > 65535) bad('a port number 0-65535')
      return port
    }
    case 'bytes':
      return number(UNITS_BYTES, 1, `a size >= ${min} (bytes, or with KiB/MiB/GiB)`)
    case 'duration':
      return number(UNITS_MS, 1, `a time >= ${min}ms (ms, or with s/m/h/d)`)
    case 'bool':
      if (typeof raw === 'boolean') return raw
      if (raw === '1' || raw === 'true' || raw === 'yes') return true
      if (raw === '0' || raw === 'false' || raw === 'no') return false
      return bad('true or false')
    case 'level':
      if (typeof raw !== 'string' || !(LOG_LEVELS as readonly string[]).includes(raw)) bad(LOG_LEVELS.join(', '))
      return raw
    case 'scope':
      if (raw !== 'private' && raw !== 'public') bad("'private' or 'public'")
      return raw
  }
}

/** One STUN/TURN URL of a list setting; a ConfigError naming the setting and the item. */
function checkIceUrl(item: string, where: string): void {
  if (!isIceUrl(item))
    throw new ConfigError(
      `${where}: expected a STUN/TURN URL such as turn:turn.example.org:3478?transport=udp, got ${JSON.stringify(item)}`
    )
}

/** One multiaddr of a list setting; a ConfigError naming the setting, the item and why. */
function checkAddress(items: 'multiaddr' | 'peer', item: string, where: string): void {
  let reason: string | undefined
  try {
    const ma = multiaddr(item)
    // Encoding checks every component's value (a /p2p/ peer id included), which parsing the string alone does not.
    if (ma.bytes.length === 0) reason = 'empty'
    else if (items === 'peer' && !ma.getComponents().some((c) => c.name === 'p2p'))
      reason = "it names no peer: end it with '/p2p/<peer id>'"
  } catch (err) {
    reason = (err as Error).message.split('\n')[0]
  }
  if (reason !== undefined)
    throw new ConfigError(
      `${where}: expected a multiaddr such as /ip4/0.0.0.0/tcp/4001, got ${JSON.stringify(item)} (${reason})`
    )
}

function fromFlags(argv: string[]): { help: boolean; source: Source } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    help: { type: 'boolean', short: 'h' }
  }
  for (const s of SETTINGS) {
    options[flagOf(s.key)] = s.kind === 'bool' ? { type: 'boolean' } : { type: 'string', multiple: s.kind === 'list' }
  }
  let values: Record<string, string | boolean | Array<string | boolean> | undefined>
  try {
    ;({ values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true }))
  } catch (err) {
    throw new ConfigError((err as Error).message.split('\n')[0]!)
  }
  const map = new Map<string, Raw>()
  for (const s of SETTINGS) {
    const v = values[flagOf(s.key)]
    if (v !== undefined) map.set(s.key, v as Raw)
  }
  return { help: values.help === true, source: { where: (k) => `--${flagOf(k)}`, values: map } }
}

function fromEnv(env: NodeJS.ProcessEnv): Source {
  const map = new Map<string, Raw>()
  for (const s of SETTINGS) {
    const v = env[envOf(s.key)]
    if (v !== undefined && v !== '') map.set(s.key, v)
  }
  return { where: (k) => `$${envOf(k)}`, values: map }
}

function fromFile(path: string): Source {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`--config ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`--config ${path}: not valid JSON (${(err as Error).message})`)
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new ConfigError(`--config ${path}: expected a JSON object`)
  const map = new Map<string, Raw>()
  for (const [key, value] of Object.entries(json)) {
    if (key === 'config' || !KEYS.has(key)) throw new ConfigError(`${path}: unknown key ${JSON.stringify(key)}`)
    // Directories named in the file are relative to the file, not to wherever the daemon was started.
    const relativeDir = (key === 'data' || key === 'web') && typeof value === 'string' && value !== ''
    map.set(key, relativeDir ? resolve(dirname(resolve(path)), value) : (value as Raw))
  }
  return { where: (k) => `${path}: ${k}`, values: map }
}

/** The TURN secret, long enough (its value never appears in the error). */
function checkTurnSecret(secret: string, where: string): string {
  if (secret.length < MIN_TURN_SECRET_CHARS)
    throw new ConfigError(`${where}: expected a secret of at least ${MIN_TURN_SECRET_CHARS} characters`)
  return secret
}

/** What the daemon runs with. */
export interface DaemonConfig {
  help: boolean
  relay: RelayOptions
  /** The resolved value of each setting and where it came from (flag, env, file or default), for tests and logs. */
  sources: Record<string, string>
}

/** Resolves argv, the environment and the config file into relay options. Throws ConfigError. */
export function resolveConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const flags = fromFlags(argv)
  if (flags.help) return { help: true, relay: { dataDir: '' }, sources: {} }
  const envSource = fromEnv(env)
  const configRaw = flags.source.values.get('config') ?? envSource.values.get('config')
  const configWhere = flags.source.values.has('config') ? '--config' : `$${envOf('config')}`
  if (configRaw !== undefined && (typeof configRaw !== 'string' || configRaw === ''))
    throw new ConfigError(`${configWhere}: expected a file name`)
  const layers = [flags.source, envSource, ...(configRaw === undefined ? [] : [fromFile(String(configRaw))])]

  const v: Record<string, unknown> = {}
  const sources: Record<string, string> = {}
  for (const s of SETTINGS) {
    const layer = layers.find((l) => l.values.has(s.key))
    if (layer === undefined) continue
    const where = layer.where(s.key)
    v[s.key] = parseValue(s, layer.values.get(s.key)!, where)
    sources[s.key] = where
  }

  const limits: Partial<MailboxLimits> = {}
  const setLimit = (key: string, limit: keyof MailboxLimits) => {
    if (v[key] !== undefined) limits[limit] = v[key] as number
  }
  setLimit('mailboxTtl', 'ttlMs')
  setLimit('mailboxMaxItems', 'maxItemsPerMailbox')
  setLimit('mailboxMaxBytes', 'maxBytesPerMailbox')
  setLimit('mailboxMaxEnvelope', 'maxEnvelopeBytes')
  setLimit('maxMailboxes', 'maxMailboxes')
  setLimit('mailboxStoreMaxBytes', 'maxStoreBytes')
  setLimit('mailboxMaxStoredEnvelopes', 'maxStoredEnvelopes')
  setLimit('depositsPerMinute', 'depositsPerMinutePerRange')
  setLimit('ownerOpsPerMinute', 'ownerOpsPerMinutePerRange')
  setLimit('prekeyRequestsPerMinute', 'prekeyRequestsPerMinutePerRange')
  setLimit('mailboxPurgeInterval', 'purgeIntervalMs')

  const n = (key: string) => v[key] as number | undefined
  const list = (key: string) => v[key] as string[] | undefined
  const relay: RelayOptions = {
    dataDir: resolve((v.data as string | undefined) ?? join(env.HOME ?? homedir(), '.parley-relay')),
    http: {
      host: (v.httpHost as string | undefined) ?? DEFAULT_HTTP_HOST,
      port: n('httpPort') ?? DEFAULT_HTTP_PORT
    },
    mailboxLimits: limits,
    ...(list('listen')?.length && { listen: list('listen') }),
    ...(list('announce')?.length && { announce: list('announce') }),
    ...(list('bootstrap')?.length && { bootstrap: list('bootstrap') }),
    ...(v.web !== undefined && { webDir: resolve(v.web as string) }),
    ...(list('iceServer')?.length && { iceServers: list('iceServer') }),
    ...(v.turnSecret !== undefined && { turnSecret: checkTurnSecret(v.turnSecret as string, sources.turnSecret!) }),
    ...(v.echo === true && { echo: true }),
    ...(n('maxReservations') !== undefined && { maxReservations: n('maxReservations') }),
    ...(n('reservationTtl') !== undefined && { reservationTtlMs: n('reservationTtl') }),
    ...(n('relayDataLimit') !== undefined && { relayDataLimit: BigInt(n('relayDataLimit')!) }),
    ...(n('relayDurationLimit') !== undefined && { relayDurationLimitMs: n('relayDurationLimit') }),
    ...(n('maxConnections') !== undefined && { maxConnections: n('maxConnections') }),
    ...(n('inboundConnectionThreshold') !== undefined && {
      inboundConnectionThreshold: n('inboundConnectionThreshold')
    }),
    ...(n('maxIncomingPending') !== undefined && { maxIncomingPendingConnections: n('maxIncomingPending') }),
    ...(n('maxInboundPerRange') !== undefined && { maxInboundConnectionsPerRange: n('maxInboundPerRange') }),
    ...(n('maxReservationsPerRange') !== undefined && { maxReservationsPerRange: n('maxReservationsPerRange') }),
    ...(n('dhtMaxRecords') !== undefined && { dhtMaxRecords: n('dhtMaxRecords') }),
    ...(n('dhtMaxRecordBytes') !== undefined && { dhtMaxRecordBytes: n('dhtMaxRecordBytes') }),
    ...(v.dhtAddressScope !== undefined && { dhtAddressScope: v.dhtAddressScope as 'private' | 'public' }),
    ...(n('shutdownDrain') !== undefined && { shutdownDrainMs: n('shutdownDrain') }),
    ...(v.logLevel !== undefined && { logLevel: v.logLevel as LogLevel })
  }
  return { help: false, relay, sources }
}
