/**
 * Direct WebRTC with real Chromium and real libp2p, inside the test network namespace (scripts/netns.ts): every peer
 * meets the others through a local relay on 10.99.0.1, then the chat runs over a direct WebRTC connection, asserted
 * from libp2p's connection objects (`limits == null`, WebRTC's data-channel multiplexer) — never from address text.
 *
 * Run: `pnpm test:netns` (or `node scripts/netns.ts vitest run --project netns test/webrtc.netns.test.ts`).
 */
import { toHex } from '@parley/crypto'
import { createMessenger, type Messenger, type MessengerEvents, NAMESPACES } from '@parley/messenger'
import { connectionKind } from '@parley/network'
import { createProfileStore, openStore } from '@parley/store'
import { until, untilFoundEachOther } from '@parley/test-kit'
import { DEFAULT_PROTOCOL_PREFIX, protocols } from '@parley/wire'
import type { Browser } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { CliKit } from './cli-kit.ts'
import { ONE_HOST } from './kit.ts'
import {
  assertInNetns,
  type HarnessPage,
  launchChromium,
  measureDirectWebRTC,
  median,
  NETNS_PEER_HOST,
  NETNS_WAIT_MS,
  type NetnsRelay,
  openHarness,
  startNetnsRelay
} from './netns-kit.ts'

const SESSION = protocols(DEFAULT_PROTOCOL_PREFIX).session

/** A harness page with a started browser messenger that holds a WebRTC-capable reservation at the relay. */
async function browserMessenger(browser: Browser, relay: NetnsRelay) {
  const page = await openHarness(browser, relay)
  const me = await page.call('start', { bootstrap: [relay.ws] })
  await until(
    async () => (await page.call('addresses')).some((a) => a.startsWith(`${relay.ws}/p2p-circuit/webrtc`)),
    NETNS_WAIT_MS,
    'a reservation at the relay'
  )
  return { page, ...me }
}

/** Publishes `page`'s record until `finder` finds it with a circuit address (records appear after a republish). */
async function published(page: HarnessPage, identity: string, finder: (id: string) => Promise<string[] | null>) {
  await until(
    async () => {
      await page.call('publish').catch(() => {})
      return (await finder(identity))?.some((a) => a.includes('/p2p-circuit')) ?? false
    },
    60_000,
    'the record with its circuit address'
  )
}

/**
 * Every open connection of `page` to `peerId` that carries a session stream is direct WebRTC (`limits == null`, the
 * WebRTC multiplexer), and there is at least one. A session stream on the relayed connection is retired gracefully
 * when the direct one opens (its frames in flight finish there, then both ends close it), so this waits for that
 * close rather than reading one snapshot taken while it may still be under way.
 */
async function chatIsDirect(page: HarnessPage, peerId: string): Promise<void> {
  let conns = await page.connections(peerId)
  const onlyDirect = () => {
    const carrying = conns.filter((c) => c.sessionStreams > 0)
    return carrying.length > 0 && carrying.every((c) => c.kind === 'direct-webrtc')
  }
  await until(
    async () => {
      conns = await page.connections(peerId)
      return onlyDirect()
    },
    NETNS_WAIT_MS,
    'session streams only on the direct connection'
  ).catch(() => {})
  const carrying = conns.filter((c) => c.sessionStreams > 0)
  expect(carrying.length, JSON.stringify(conns)).toBeGreaterThan(0)
  for (const c of carrying) {
    expect(c.unlimited, JSON.stringify(conns)).toBe(true)
    expect(c.multiplexer).toBe('/webrtc')
    expect(c.kind).toBe('direct-webrtc')
  }
}

describe('direct WebRTC in the test namespace', () => {
  let browser: Browser
  let relay: NetnsRelay
  const stops: Array<() => Promise<unknown>> = []

  beforeAll(async () => {
    assertInNetns()
    browser = await launchChromium()
  })
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => {})
    await relay?.stop()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('two browsers and a local relay: B opens A’s invite, they chat both ways over a direct WebRTC connection (no STUN server configured or asked)', async () => {
    relay = await startNetnsRelay()
    const a = await browserMessenger(browser, relay)
    const b = await browserMessenger(browser, relay)
    stops.push(
      () => a.page.page.context().close(),
      () => b.page.page.context().close()
    )
    await published(a.page, a.identity, (id) => b.page.call('lookup', id))
    await published(b.page, b.identity, (id) => a.page.call('lookup', id))
    // B opens A's invite link; A adds B back.
    await b.page.call('addContact', await a.page.call('invite'), 'alice')
    await a.page.call('addContact', b.identity, 'bob')

    expect(await b.page.call('send', a.identity, 'hello from B')).toBe('sent')
    await until(async () => (await a.page.call('received')).length === 1, NETNS_WAIT_MS, 'A to get the message')
    expect(await a.page.call('send', b.identity, 'hello from A')).toBe('sent')
    await until(async () => (await b.page.call('received')).length === 1, NETNS_WAIT_MS, 'B to get the reply')

    // Once the direct connection is open (at most DIRECT_WAIT_MS after the first send), the chat runs on it.
    await until(
      async () => (await a.page.connections(b.peerId)).some((c) => c.kind === 'direct-webrtc'),
      NETNS_WAIT_MS,
      'the direct connection'
    )
    expect(await b.page.call('send', a.identity, 'again from B')).toBe('sent')
    expect(await a.page.call('send', b.identity, 'again from A')).toBe('sent')
    await until(async () => (await a.page.call('received')).length === 2, NETNS_WAIT_MS, 'A to get the second message')
    await until(async () => (await b.page.call('received')).length === 2, NETNS_WAIT_MS, 'B to get the second reply')
    expect((await a.page.call('received')).map((m) => m.text)).toEqual(['hello from B', 'again from B'])
    expect((await b.page.call('received')).map((m) => m.text)).toEqual(['hello from A', 'again from A'])
    await chatIsDirect(a.page, b.peerId)
    await chatIsDirect(b.page, a.peerId)

    const diagnostics = await a.page.call('diagnostics')
    expect(diagnostics.contacts).toEqual([
      expect.objectContaining({ identity: b.identity, name: 'bob', connection: 'direct-webrtc' })
    ])
    expect(diagnostics.contacts[0]!.lastDelivery?.via).toBe('direct')
    expect(diagnostics.relays[0]).toMatchObject({ address: relay.ws, connected: true, reservation: true })
    // No third-party STUN: every peer connection libp2p made in either page had exactly the (empty) configured list.
    for (const page of [a.page, b.page]) {
      const configs = await page.call('iceConfigs')
      expect(configs.length).toBeGreaterThan(0)
      expect(configs).toEqual(configs.map(() => []))
    }
  })

  it('a browser and a `parley run --json` process chat over a direct WebRTC connection', async () => {
    relay = await startNetnsRelay()
    const cli = new CliKit('netns cli passphrase')
    stops.push(() => cli.cleanup())
    const dir = await cli.profile('netns-cli')
    // The CLI node listens on the second test address, and on circuits (with WebRTC) through the relay.
    const node = await cli.run(dir, [
      '--listen',
      `/ip4/${NETNS_PEER_HOST}/tcp/0`,
      '--listen',
      '/p2p-circuit',
      '--listen',
      '/webrtc',
      '--bootstrap',
      relay.tcp
    ])
    const cliIdentity = String(node.ready.identity)
    const cliPeer = String(node.ready.peerId)
    const web = await browserMessenger(browser, relay)
    stops.push(() => web.page.page.context().close())
    await until(
      async () => (await web.page.call('lookup', cliIdentity))?.some((a) => a.includes('/p2p-circuit/webrtc')) ?? false,
      60_000,
      "the CLI's record with its WebRTC circuit address"
    )
    await web.page.call('addContact', cliIdentity, 'cli')
    expect(await web.page.call('send', cliIdentity, 'hello terminal')).toBe('sent')
    await node.next((e) => e.event === 'message' && e.text === 'hello terminal', 'the browser’s message')
    await node.ask({ cmd: 'add', contact: web.identity, name: 'web' })
    await node.ask({ cmd: 'send', contact: 'web', text: 'hello browser' })
    await until(
      async () => (await web.page.call('received')).some((m) => m.text === 'hello browser'),
      NETNS_WAIT_MS,
      'the reply'
    )

    await until(
      async () => (await web.page.connections(cliPeer)).some((c) => c.kind === 'direct-webrtc'),
      NETNS_WAIT_MS,
      'the direct connection'
    )
    expect(await web.page.call('send', cliIdentity, 'still there?')).toBe('sent')
    await node.next((e) => e.event === 'message' && e.text === 'still there?', 'the second message')
    await node.ask({ cmd: 'send', contact: 'web', text: 'yes' })
    await until(
      async () => (await web.page.call('received')).some((m) => m.text === 'yes'),
      NETNS_WAIT_MS,
      'the second reply'
    )
    await chatIsDirect(web.page, cliPeer)
  })
})

describe('the dial-to-direct measurement bench:web reuses', () => {
  it('measureDirectWebRTC times dials that each open a direct WebRTC connection between two browser nodes', async () => {
    assertInNetns()
    const figures = await measureDirectWebRTC({ runs: 3 })
    expect(figures.samples.length + figures.failures).toBe(3)
    expect(figures.samples.length).toBeGreaterThanOrEqual(2)
    for (const ms of figures.samples) expect(ms).toBeGreaterThan(0)
    expect(figures.median_ms).toBe(median(figures.samples))
  })
})

describe('direct WebRTC between Node messengers in the test namespace', () => {
  const messengers: Messenger[] = []
  let relay: NetnsRelay | undefined
  afterEach(async () => {
    for (const m of messengers.splice(0)) await m.stop().catch(() => {})
    await relay?.stop()
  })

  it('two Node messengers behind one relay chat over WebRTC (node-datachannel), not over the circuit', async () => {
    assertInNetns()
    relay = await startNetnsRelay()
    const make = async () => {
      const store = await createProfileStore(await openStore({ kind: 'memory' }), 'pw', {
        namespaces: NAMESPACES,
        create: true,
        unsafeFastKdfForTests: true
      })
      const m = await createMessenger({
        store,
        network: { ...ONE_HOST, bootstrap: [relay!.tcp], listen: ['/p2p-circuit', '/webrtc'], clientMode: true }
      })
      messengers.push(m)
      await until(() => m.addresses.some((x) => x.includes('/p2p-circuit/webrtc')), NETNS_WAIT_MS, 'a reservation')
      return m
    }
    const a = await make()
    const b = await make()
    await untilFoundEachOther(a, b, NETNS_WAIT_MS, 'both records')
    const [aHex, bHex] = [toHex(a.identityKey), toHex(b.identityKey)]
    await a.addContact(bHex)
    await b.addContact(aHex)
    const atA: MessengerEvents['message'][] = []
    const atB: MessengerEvents['message'][] = []
    a.events.addEventListener('message', (e) => atA.push((e as CustomEvent<MessengerEvents['message']>).detail))
    b.events.addEventListener('message', (e) => atB.push((e as CustomEvent<MessengerEvents['message']>).detail))
    expect((await a.send(bHex, 'one')).status).toBe('sent')
    expect((await b.send(aHex, 'two')).status).toBe('sent')
    await until(() => atA.length === 1 && atB.length === 1, NETNS_WAIT_MS, 'the first exchange')
    await until(
      () => a.connectionsTo(b.peerId).some((c) => connectionKind(c) === 'direct-webrtc'),
      NETNS_WAIT_MS,
      'the direct connection'
    )
    expect((await a.send(bHex, 'three')).status).toBe('sent')
    expect((await b.send(aHex, 'four')).status).toBe('sent')
    await until(() => atA.length === 2 && atB.length === 2, NETNS_WAIT_MS, 'the second exchange')
    for (const [m, peer] of [
      [a, b.peerId],
      [b, a.peerId]
    ] as const) {
      const carrying = m
        .connectionsTo(peer)
        .filter((c) => c.status === 'open' && c.streams.some((s) => s.protocol === SESSION && s.status === 'open'))
      expect(carrying.length).toBeGreaterThan(0)
      for (const c of carrying) {
        expect(c.limits).toBeUndefined()
        expect(connectionKind(c)).toBe('direct-webrtc')
      }
    }
  })
})
