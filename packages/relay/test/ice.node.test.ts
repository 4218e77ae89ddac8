/**
 * The STUN/TURN servers a relay advertises (GET /parley.json): coturn's REST credentials (checked against an
 * independent HMAC-SHA1), the advertised shape, option checks, and that the TURN secret never leaves the relay.
 * Real coturn accepting these credentials: test/turn.netns.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hmac } from '@noble/hashes/hmac.js'
import { sha1 } from '@noble/hashes/legacy.js'
import { afterEach, describe, expect, it } from 'vitest'
import {
  advertisedIceServers,
  createRelay,
  isIceUrl,
  isRelayError,
  MIN_TURN_SECRET_CHARS,
  PARLEY_JSON_PATH,
  type ParleyJson,
  type Relay,
  TURN_CREDENTIAL_LIFETIME_MS,
  TURN_USERNAME_RANDOM_BYTES,
  turnCredentials
} from '../src/index.ts'

const SECRET = 'an operator secret of some length'
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function relayWith(options: { iceServers?: string[]; turnSecret?: string }): Promise<Relay> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-relay-ice-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const relay = await createRelay({
    dataDir: dir,
    listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'],
    http: { host: '127.0.0.1', port: 0 },
    logSink: () => {},
    ...options
  })
  cleanups.push(() => relay.stop())
  return relay
}

describe('TURN credentials (coturn REST scheme)', () => {
  it('username is <expiry>:<random>, credential is base64 HMAC-SHA1(secret, username), expiry one lifetime ahead', () => {
    const now = 1_760_000_000_123
    const random = (n: number) => new Uint8Array(n).fill(7)
    const { username, credential } = turnCredentials(SECRET, now, TURN_CREDENTIAL_LIFETIME_MS, random)
    const [expiry, nonce] = username.split(':')
    expect(Number(expiry)).toBe(Math.floor((now + TURN_CREDENTIAL_LIFETIME_MS) / 1000))
    expect(Buffer.from(nonce!, 'base64url')).toHaveLength(TURN_USERNAME_RANDOM_BYTES)
    const expected = Buffer.from(hmac(sha1, new TextEncoder().encode(SECRET), new TextEncoder().encode(username)))
    expect(credential).toBe(expected.toString('base64'))
  })

  it('two requests get different usernames (so two browsers never share one)', () => {
    const a = turnCredentials(SECRET, 0)
    const b = turnCredentials(SECRET, 0)
    expect(a.username).not.toBe(b.username)
    expect(a.credential).not.toBe(b.credential)
  })

  it('STUN URLs are listed bare; TURN URLs carry credentials only when there is a secret', () => {
    const urls = [
      'stun:stun.example.org:3478',
      'turn:turn.example.org:3478?transport=udp',
      'turns:turn.example.org:5349'
    ]
    const withSecret = advertisedIceServers(urls, SECRET, 0)
    expect(withSecret).toHaveLength(2)
    expect(withSecret[0]).toEqual({ urls: ['stun:stun.example.org:3478'] })
    expect(withSecret[1]!.urls).toEqual(urls.slice(1))
    expect(withSecret[1]!.username).toMatch(/^\d+:[\w-]+$/)
    expect(advertisedIceServers(urls, undefined, 0)[1]).toEqual({ urls: urls.slice(1) })
    expect(advertisedIceServers([], SECRET, 0)).toEqual([])
  })

  it('only stun:, stuns:, turn: and turns: URLs are ICE URLs', () => {
    for (const good of ['stun:203.0.113.7', 'stun:[2001:db8::1]:3478', 'turns:t.example.org:443?transport=tcp'])
      expect(isIceUrl(good), good).toBe(true)
    for (const bad of ['http://t.example.org', 'turn:', 'stun:host path', 'turn:h:3478?transport=sctp', 'stun:a/b'])
      expect(isIceUrl(bad), bad).toBe(false)
  })
})

describe('GET /parley.json', () => {
  it('lists the relay WebSocket addresses and its ICE servers with fresh TURN credentials, never the secret', async () => {
    const relay = await relayWith({
      iceServers: ['stun:198.51.100.4:3478', 'turn:198.51.100.4:3478?transport=udp'],
      turnSecret: SECRET
    })
    const res = await fetch(`${relay.httpUrl}${PARLEY_JSON_PATH}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    const text = await res.text()
    expect(text).not.toContain(SECRET)
    const body = JSON.parse(text) as ParleyJson
    const ws = relay.multiaddrs.map((a) => a.toString()).filter((a) => a.includes('/ws/'))
    expect(body.relays).toEqual(ws)
    expect(body.relays.length).toBeGreaterThan(0)
    for (const a of body.relays) expect(a.endsWith(`/p2p/${relay.peerId.toString()}`)).toBe(true)
    expect(body.iceServers[0]).toEqual({ urls: ['stun:198.51.100.4:3478'] })
    const turn = body.iceServers[1]!
    const expiry = Number(turn.username!.split(':')[0])
    expect(expiry * 1000).toBeGreaterThan(Date.now() + TURN_CREDENTIAL_LIFETIME_MS - 60_000)
    expect(turn.credential).toBe(
      Buffer.from(hmac(sha1, new TextEncoder().encode(SECRET), new TextEncoder().encode(turn.username!))).toString(
        'base64'
      )
    )
    const again = (await (await fetch(`${relay.httpUrl}${PARLEY_JSON_PATH}`)).json()) as ParleyJson
    expect(again.iceServers[1]!.username).not.toBe(turn.username)
  })

  it('a relay with no ICE servers advertises none (clients then ask no STUN server at all)', async () => {
    const relay = await relayWith({})
    const body = (await (await fetch(`${relay.httpUrl}${PARLEY_JSON_PATH}`)).json()) as ParleyJson
    expect(body.iceServers).toEqual([])
    expect(body.relays.length).toBeGreaterThan(0)
  })

  it('bad ICE settings stop createRelay with InvalidOption naming the setting', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-relay-ice-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const bad = [
      { iceServers: ['https://turn.example.org'] },
      { iceServers: ['turn:turn.example.org'], turnSecret: 'x'.repeat(MIN_TURN_SECRET_CHARS - 1) }
    ]
    for (const options of bad) {
      const err = await createRelay({ dataDir: dir, http: false, logSink: () => {}, ...options }).catch((e) => e)
      expect(isRelayError(err, 'InvalidOption'), JSON.stringify(options)).toBe(true)
      expect((err as Error).message).toMatch(/iceServers|turnSecret/)
    }
  })
})
