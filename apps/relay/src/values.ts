/**
 * One setting's value, by its kind: strings, lists (multiaddrs, peers' multiaddrs, STUN/TURN URLs, each item checked),
 * integers, ports, sizes (KiB/MiB/GiB), times (ms/s/m/h/d), booleans, log levels and DHT address scopes; the TURN
 * secret's length. Every bad value is a ConfigError naming where it came from (never the secret itself). Also the
 * short forms of times and sizes that --help shows.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { isIceUrl, LOG_LEVELS, MIN_TURN_SECRET_CHARS } from '@parley/relay'
import { ConfigError } from './errors.ts'
import type { Setting } from './settings.ts'

const DAY = 86_400_000

/** A time for --help: 30d, 2h, 10m or 5s. */
export const dur = (ms: number) =>
  ms % DAY === 0
    ? `${ms / DAY}d`
    : ms % 3600_000 === 0
      ? `${ms / 3600_000}h`
      : ms % 60_000 === 0
        ? `${ms / 60_000}m`
        : `${ms / 1000}s`

/** A size for --help: 4MiB, 64KiB or plain bytes. */
export const bytes = (n: number | bigint) => {
  const v = Number(n)
  return v % 1048576 === 0 ? `${v / 1048576}MiB` : v % 1024 === 0 ? `${v / 1024}KiB` : `${v}`
}

/** A value as a flag, variable or config file gives it. */
export type Raw = string | number | boolean | string[]

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

/** Parses `raw` as setting `s` wants it; `where` names its source in the error. */
export function parseValue(s: Setting, raw: Raw, where: string): unknown {
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

/** The TURN secret, long enough (its value never appears in the error). */
export function checkTurnSecret(secret: string, where: string): string {
  if (secret.length < MIN_TURN_SECRET_CHARS)
    throw new ConfigError(`${where}: expected a secret of at least ${MIN_TURN_SECRET_CHARS} characters`)
  return secret
}
