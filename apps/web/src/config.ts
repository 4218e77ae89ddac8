/**
 * Where the page finds its relays: `GET ./parley.json` from the origin that served it (the relay serving the app says
 * `{ relays: [ws multiaddr with /p2p/], iceServers: [{ urls, username?, credential? }] }`), else the list kept in
 * settings. Addresses are checked here before they reach the dial gate (which lets exactly these relays through):
 * WebSockets only, with a /p2p/ id, and plain `ws://` only to loopback or private test addresses (wss elsewhere).
 */
import { CONFIG_PATH, CONFIG_TIMEOUT_MS, MAX_ICE_SERVERS, MAX_RELAYS, SETTINGS_RELAYS_KEY } from './constants.ts'
import { BadConfigError } from './errors.ts'

export interface IceServer {
  urls: string | string[]
  username?: string
  credential?: string
}

export interface PageConfig {
  relays: string[]
  iceServers: IceServer[]
  /** Where the relays came from: the serving relay, or this browser's settings. */
  source: 'origin' | 'settings' | 'none'
}

const RELAY =
  /^\/(ip4|ip6|dns4|dns6|dns)\/([^/]+)\/tcp\/(\d{1,5})\/(ws|wss|tls\/ws|tls\/sni\/[^/]+\/ws)\/p2p\/([1-9A-HJ-NP-Za-km-z]{40,60})$/

/** Whether a host is loopback or a private test/LAN address (where plain ws:// is allowed). */
export function isLocalHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host.endsWith('.localhost')) return true
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host)
  if (m === null) return false
  const [a, b] = [Number(m[1]), Number(m[2])]
  return a === 127 || a === 10 || (a === 192 && b === 168) || (a === 172 && b >= 16 && b <= 31)
}

/** Checks one relay address; returns it unchanged or throws BadConfigError naming why. */
export function checkRelay(address: string): string {
  if (typeof address !== 'string') throw new BadConfigError('a relay address is not a string')
  const m = RELAY.exec(address.trim())
  if (m === null) throw new BadConfigError(`not a WebSocket relay multiaddr with /p2p/: ${address.slice(0, 200)}`)
  const port = Number(m[3])
  if (port < 1 || port > 65535) throw new BadConfigError(`bad port ${port}`)
  if (m[4] === 'ws' && !isLocalHost(m[2]!))
    throw new BadConfigError(`ws:// only to local or test hosts; use wss: ${m[2]}`)
  return address.trim()
}

function checkIce(value: unknown): IceServer {
  if (typeof value !== 'object' || value === null) throw new BadConfigError('an ICE server is not an object')
  const v = value as Record<string, unknown>
  const urls = v.urls
  const list = typeof urls === 'string' ? [urls] : urls
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((u) => typeof u === 'string' && /^(stuns?|turns?):/.test(u))
  )
    throw new BadConfigError('ICE server urls must be stun:, stuns:, turn: or turns: URLs')
  const out: IceServer = { urls: list as string[] }
  if (typeof v.username === 'string') out.username = v.username
  if (typeof v.credential === 'string') out.credential = v.credential
  return out
}

/** Parses a /parley.json body (bounded: at most MAX_RELAYS relays and MAX_ICE_SERVERS ICE servers are kept). */
export function parseConfig(body: unknown): { relays: string[]; iceServers: IceServer[] } {
  if (typeof body !== 'object' || body === null) throw new BadConfigError('not a JSON object')
  const b = body as Record<string, unknown>
  if (!Array.isArray(b.relays)) throw new BadConfigError('relays is not a list')
  const relays = b.relays.slice(0, MAX_RELAYS).map((r) => checkRelay(r as string))
  const ice = b.iceServers === undefined ? [] : b.iceServers
  if (!Array.isArray(ice)) throw new BadConfigError('iceServers is not a list')
  return { relays, iceServers: ice.slice(0, MAX_ICE_SERVERS).map(checkIce) }
}

/** Parses the relay list a user typed in settings (one address a line); throws on the first bad line. */
export function parseRelayList(text: string): string[] {
  const lines = text
    .split(/\s+/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
  if (lines.length > MAX_RELAYS) throw new BadConfigError(`at most ${MAX_RELAYS} relays`)
  return lines.map(checkRelay)
}

export function settingsRelays(): string[] {
  try {
    return parseRelayList(localStorage.getItem(SETTINGS_RELAYS_KEY) ?? '')
  } catch {
    return []
  }
}

export function saveSettingsRelays(relays: string[]): void {
  localStorage.setItem(SETTINGS_RELAYS_KEY, relays.join('\n'))
}

/** The page's relays: from the serving origin when it answers, else from settings. */
export async function loadConfig(): Promise<PageConfig> {
  try {
    const res = await fetch(CONFIG_PATH, { signal: AbortSignal.timeout(CONFIG_TIMEOUT_MS), cache: 'no-store' })
    if (res.ok) {
      const parsed = parseConfig(await res.json())
      if (parsed.relays.length > 0) return { ...parsed, source: 'origin' }
    }
  } catch {
    // No relay behind this origin (a static host, offline): settings below.
  }
  const relays = settingsRelays()
  return { relays, iceServers: [], source: relays.length > 0 ? 'settings' : 'none' }
}
