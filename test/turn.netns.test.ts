/**
 * A relay's advertised TURN server, end to end: a real coturn (Debian's `turnserver`, REST-secret mode) on
 * 10.99.0.1 inside the test namespace, a relay started with `iceServers` and the same `turnSecret`, and Chromium
 * using what GET /parley.json hands out. With those credentials Chromium gets a TURN allocation (a `relay` candidate)
 * and two relay-only peer connections exchange data through coturn; with a tampered credential coturn refuses it.
 *
 * Run: `pnpm test:netns` (or `node scripts/netns.ts vitest run --project netns test/turn.netns.test.ts`).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ParleyJson } from '@parley/relay'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertInNetns, launchChromium, NETNS_RELAY_HOST, type NetnsRelay, startNetnsRelay } from './netns-kit.ts'

const SECRET = 'netns coturn static auth secret'
const TURN_PORT = 3478
const TURN_URL = `turn:${NETNS_RELAY_HOST}:${TURN_PORT}?transport=udp`
const COTURN = '/usr/bin/turnserver'
const INSTALL = 'apt-get install -y coturn'

type Ice = ParleyJson['iceServers']

/** ICE candidates (their type) a relay-only RTCPeerConnection in `page` gathers with `iceServers`. */
function gatherRelayOnly(page: Page, iceServers: Ice): Promise<string[]> {
  return page.evaluate(async (servers) => {
    const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: 'relay' })
    pc.createDataChannel('probe')
    const types: string[] = []
    const done = new Promise<void>((resolve) => {
      pc.onicecandidate = (e) => {
        if (e.candidate === null) resolve()
        else types.push(e.candidate.type ?? 'unknown')
      }
      setTimeout(resolve, 8_000)
    })
    await pc.setLocalDescription(await pc.createOffer())
    await done
    pc.close()
    return types
  }, iceServers)
}

/** Two relay-only peer connections in `page` (every packet through TURN): the text one sends, as the other got it. */
function echoThroughTurn(page: Page, iceServers: Ice, text: string): Promise<string> {
  return page.evaluate(
    async ([servers, message]) => {
      const config: RTCConfiguration = { iceServers: servers, iceTransportPolicy: 'relay' }
      const a = new RTCPeerConnection(config)
      const b = new RTCPeerConnection(config)
      a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate)
      b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate)
      const got = new Promise<string>((resolve, reject) => {
        b.ondatachannel = (e) => {
          e.channel.onmessage = (m) => resolve(String(m.data))
        }
        setTimeout(() => reject(new Error('no data through TURN within 15 s')), 15_000)
      })
      const channel = a.createDataChannel('through-turn')
      channel.onopen = () => channel.send(message)
      await a.setLocalDescription(await a.createOffer())
      await b.setRemoteDescription(a.localDescription!)
      await b.setLocalDescription(await b.createAnswer())
      await a.setRemoteDescription(b.localDescription!)
      try {
        return await got
      } finally {
        a.close()
        b.close()
      }
    },
    [iceServers, text] as const
  )
}

describe('the TURN server a relay advertises', () => {
  let relay: NetnsRelay
  let browser: Browser
  let coturn: ChildProcess
  let dir: string
  let coturnLog = ''

  beforeAll(async () => {
    assertInNetns()
    if (spawnSync('sh', ['-c', `command -v ${COTURN}`]).status !== 0)
      throw new Error(`coturn is needed for this test and is not installed: ${INSTALL}`)
    dir = await mkdtemp(join(tmpdir(), 'parley-coturn-'))
    coturn = spawn(COTURN, [
      '-n',
      `--listening-ip=${NETNS_RELAY_HOST}`,
      `--relay-ip=${NETNS_RELAY_HOST}`,
      `--listening-port=${TURN_PORT}`,
      '--min-port=49152',
      '--max-port=49252',
      '--use-auth-secret',
      `--static-auth-secret=${SECRET}`,
      '--realm=parley.test',
      '--no-tls',
      '--no-dtls',
      '--no-cli',
      `--pidfile=${join(dir, 'turnserver.pid')}`,
      `--db=${join(dir, 'turndb')}`,
      '--log-file=stdout'
    ])
    coturn.stdout?.on('data', (d: Buffer) => {
      coturnLog += d.toString()
    })
    relay = await startNetnsRelay({ iceServers: [TURN_URL], turnSecret: SECRET })
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await relay?.stop()
    coturn?.kill('SIGTERM')
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('Chromium gets a TURN allocation with the credentials from /parley.json, and data flows through coturn', async () => {
    const body = (await (await fetch(`${relay.relay.httpUrl}/parley.json`)).json()) as ParleyJson
    expect(body.iceServers).toHaveLength(1)
    expect(body.iceServers[0]!.urls).toEqual([TURN_URL])
    const page = await browser.newPage()
    // coturn may still be starting: the first allocation is retried until it answers.
    let types: string[] = []
    const end = Date.now() + 20_000
    while (!types.includes('relay') && Date.now() < end) types = await gatherRelayOnly(page, body.iceServers)
    expect(types, coturnLog.slice(-2000)).toContain('relay')
    expect(await echoThroughTurn(page, body.iceServers, 'through the operator’s TURN server')).toBe(
      'through the operator’s TURN server'
    )
  })

  it('a tampered credential gets no allocation (coturn checks the HMAC)', async () => {
    const body = (await (await fetch(`${relay.relay.httpUrl}/parley.json`)).json()) as ParleyJson
    const good = body.iceServers[0]!
    const bad: Ice = [{ ...good, credential: Buffer.from('not the hmac of this username').toString('base64') }]
    const page = await browser.newPage()
    expect(await gatherRelayOnly(page, bad)).not.toContain('relay')
    // A username past its expiry is refused as well (the REST scheme's time limit).
    const expired: Ice = [{ ...good, username: `1000:${good.username!.split(':')[1]}` }]
    expect(await gatherRelayOnly(page, expired)).not.toContain('relay')
    // And the genuine pair still works, so the refusals above are the credentials' doing.
    expect(await gatherRelayOnly(page, body.iceServers)).toContain('relay')
  })
})
