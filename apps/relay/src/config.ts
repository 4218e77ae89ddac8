/**
 * parley-relay's configuration, resolved: each setting of the table (settings.ts) is read from flags > environment >
 * config file > defaults, parsed by its kind (values.ts), and mapped onto createRelay()'s options; also --help.
 * Every bad value is a ConfigError naming where it came from.
 */
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import {
  DEFAULT_HTTP_HOST,
  DEFAULT_HTTP_PORT,
  type LogLevel,
  type MailboxLimits,
  type RelayOptions
} from '@parley/relay'
import { ConfigError } from './errors.ts'
import { envOf, flagOf, KEYS, SETTINGS } from './settings.ts'
import { checkTurnSecret, parseValue, type Raw } from './values.ts'

export { ConfigError } from './errors.ts'
export { envOf, flagOf, SETTINGS } from './settings.ts'

/** Values from one place (flags, environment or the config file), and how an error names that place. */
type Source = { where: (key: string) => string; values: Map<string, Raw> }

/** The whole --help text, from the settings table. */
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
