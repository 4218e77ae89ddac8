/**
 * Two messengers with no listening address (DHT clients, reachable only through a circuit-relay reservation) talk
 * through the relay's circuit: the relay carries their encrypted stream, limited in bytes and time. And a client with
 * no TCP at all reaches the relay over WebRTC-direct, as a browser without a TLS certificate for the relay would.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { webRTCDirect } from '@libp2p/webrtc'
import { yamux } from '@libp2p/yamux'
import { defaultBackend, generateIdentity, toHex } from '@parley/crypto'
import { createMessenger, MailboxClient, type Messenger, type MessengerEvents, NAMESPACES } from '@parley/messenger'
import { createProfileStore, openStore } from '@parley/store'
import { until, untilFoundEachOther } from '@parley/test-kit'
import { protocols } from '@parley/wire'
import { createLibp2p } from 'libp2p'
import { afterAll, describe, expect, it } from 'vitest'
import { createRelay, type Relay } from '../src/index.ts'

describe('client-mode nodes through the relay circuit', () => {
  let relay: Relay | undefined
  let dir = ''
  const messengers: Messenger[] = []

  afterAll(async () => {
    for (const m of messengers) await m.stop().catch(() => {})
    await relay?.stop().catch(() => {})
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('two nodes with no listening address exchange messages over a relayed connection', async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-circuit-'))
    relay = await createRelay({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], http: false, logSink: () => {} })
    const network = {
      bootstrap: [relay.multiaddrs[0]!.toString()],
      // No socket of their own: only a reservation at the relay makes them reachable. No WebRTC either (the privacy
      // setting that keeps IP addresses from contacts), so chat stays on the circuit.
      listen: ['/p2p-circuit'],
      clientMode: true,
      webrtc: false
    }
    const make = async () => {
      const store = await createProfileStore(await openStore({ kind: 'memory' }), 'pw', {
        namespaces: NAMESPACES,
        create: true,
        unsafeFastKdfForTests: true
      })
      const m = await createMessenger({ store, network })
      messengers.push(m)
      return m
    }
    const a = await make()
    const b = await make()
    for (const m of [a, b]) {
      await until(() => m.addresses.some((x) => x.includes('/p2p-circuit')), 30_000, 'a circuit reservation')
      expect(m.addresses.every((x) => x.includes('/p2p-circuit'))).toBe(true)
    }
    await untilFoundEachOther(a, b, 60_000, "both records, B's with its circuit address", {
      accept: (found) => found.addresses.some((x) => x.toString().includes('/p2p-circuit'))
    })
    const bHex = toHex(b.identityKey)
    const aHex = toHex(a.identityKey)
    await a.addContact(bHex)
    const atB: MessengerEvents['message'][] = []
    b.events.addEventListener('message', (e) => atB.push((e as CustomEvent<MessengerEvents['message']>).detail))
    const atA: MessengerEvents['message'][] = []
    a.events.addEventListener('message', (e) => atA.push((e as CustomEvent<MessengerEvents['message']>).detail))

    const first = await a.send(bHex, 'hello through the relay')
    expect(first.status).toBe('sent')
    await until(() => atB.length === 1, 30_000, 'B to get the message')
    await b.send(aHex, 'and back')
    await until(() => atA.length === 1, 30_000, 'A to get the reply')
    expect(atB[0]!.text).toBe('hello through the relay')
    expect(atA[0]!.text).toBe('and back')

    // The stream ran over a relayed (limited) connection, not a mailbox and not a direct socket.
    const conns = a.connectionsTo(b.peerId)
    expect(conns.length).toBeGreaterThan(0)
    expect(conns.every((c) => c.remoteAddr.toString().includes('/p2p-circuit'))).toBe(true)
    expect(conns.some((c) => c.limits !== undefined)).toBe(true)
    expect(relay.mailbox.stats().deposits).toBe(0)
  })
})

describe('WebRTC-direct', () => {
  let relay: Relay | undefined
  let dir = ''
  const nodes: Array<{ stop(): Promise<void> | void }> = []
  afterAll(async () => {
    for (const n of nodes) await n.stop()
    await relay?.stop().catch(() => {})
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  it('a client with no TCP reaches the relay over WebRTC-direct (certhash in the address) and deposits', async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-webrtc-'))
    relay = await createRelay({
      dataDir: dir,
      listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/webrtc-direct'],
      http: false,
      logSink: () => {}
    })
    const direct = relay.multiaddrs.find((a) => a.toString().includes('/webrtc-direct/certhash/'))
    expect(direct).toBeDefined()
    const owner = await generateIdentity(defaultBackend)
    const tcpClient = await createLibp2p({
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()]
    })
    nodes.push(tcpClient)
    const reg = new MailboxClient(await tcpClient.dialProtocol(relay.multiaddrs[0]!, protocols().mailbox), relay.peerId)
    await reg.register(defaultBackend, owner, { expiresAt: Date.now() + 3600_000 })

    // Only WebRTC-direct: the connection cannot be anything else.
    const webrtcClient = await createLibp2p({
      transports: [webRTCDirect({ rtcConfiguration: { iceServers: [] } })],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()]
    })
    nodes.push(webrtcClient)
    const stream = await webrtcClient.dialProtocol(direct!, protocols().mailbox, {
      signal: AbortSignal.timeout(20_000)
    })
    const conn = webrtcClient.getConnections(relay.peerId)[0]!
    expect(conn.remoteAddr.toString()).toContain('/webrtc-direct')
    await new MailboxClient(stream, relay.peerId).deposit(owner.publicKey, Uint8Array.of(1, 2, 3))
    expect(relay.mailbox.stats().deposits).toBe(1)
  })
})
