/**
 * Direct WebRTC between two Node presets: a relay's circuit carries the signalling, then the peers talk over their own
 * data-channel connection, and the relayed one is told apart by libp2p's fields (limits), never by address text.
 */

import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { Connection } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { until } from '@parley/test-kit'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import {
  bestConnection,
  connectionKind,
  DIRECT_UPGRADE_TIMEOUT_MS,
  isNetworkError,
  MAX_UPGRADE_REASON_CHARS,
  upgradeToDirect,
  WEBRTC_LISTEN,
  webRTCAddressVia
} from '../src/index.ts'
import { tcpFrom } from '../src/libp2p.ts'
import { parleyNode, stopAll, WAIT_MS } from './helpers.ts'

const HOST = '127.0.0.1'

/** A bare circuit relay (TCP, Noise, Yamux, identify, hop) with no per-connection limits beyond libp2p's defaults. */
async function relayNode(): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: [`/ip4/${HOST}/tcp/0`] },
    transports: [tcpFrom(undefined)],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), relay: circuitRelayServer() }
  })
  await node.start()
  return node
}

/**
 * upgradeToDirect, tried up to three times: on a loaded machine a WebRTC dial now and then stalls until libp2p's 6 s
 * address-dial timeout (docs/netns.md); the messenger retries the same way (DIRECT_RETRY_MS), so a test does too.
 */
async function upgradeRetrying(a: Libp2p, peer: Libp2p['peerId']): Promise<Connection> {
  let last: unknown
  for (let i = 0; i < 3; i++) {
    try {
      return await upgradeToDirect(a, peer)
    } catch (e) {
      last = e
    }
  }
  throw last
}

describe('direct WebRTC between Node peers', () => {
  const extra: Libp2p[] = []
  afterEach(async () => {
    for (const n of extra.splice(0)) await Promise.resolve(n.stop()).catch(() => {})
    await stopAll()
  })

  it('a relayed connection upgrades to a direct WebRTC one; the relayed one stays and is classified relayed', async () => {
    const relay = await relayNode()
    extra.push(relay)
    const relayAddr = relay.getMultiaddrs()[0]!
    const listen = [`/ip4/${HOST}/tcp/0`, '/p2p-circuit', WEBRTC_LISTEN]
    const a = await parleyNode(HOST, { listen, bootstrap: [relayAddr.toString()] })
    const b = await parleyNode(HOST, { listen, bootstrap: [relayAddr.toString()] })
    await a.dial(relayAddr)
    await b.dial(relayAddr)
    await until(
      () => b.getMultiaddrs().some((m) => m.toString().includes('/p2p-circuit/webrtc')),
      WAIT_MS,
      'b reservation'
    )
    const circuit = b.getMultiaddrs().find((m) => m.toString().endsWith(`/p2p-circuit/p2p/${b.peerId}`))!
    const relayed: Connection = await a.dial(circuit)
    expect(connectionKind(relayed)).toBe('relayed')
    expect(webRTCAddressVia(relayed)?.toString()).toBe(
      `${relayAddr.toString()}/p2p-circuit/webrtc/p2p/${b.peerId.toString()}`
    )
    const direct = await upgradeRetrying(a, b.peerId)
    expect(connectionKind(direct)).toBe('direct-webrtc')
    expect(direct.limits).toBeUndefined()
    expect(bestConnection(a, b.peerId)?.id).toBe(direct.id)
    expect(a.getConnections(b.peerId).map(connectionKind).sort()).toEqual(['direct-webrtc', 'relayed'])
    // The direct connection carries a protocol the relayed one may not (no runOnLimitedConnection).
    await b.handle('/test/echo/1', async (stream) => {
      for await (const chunk of stream) stream.send(chunk)
      await stream.close()
    })
    const s = await direct.newStream('/test/echo/1')
    s.send(new TextEncoder().encode('over webrtc'))
    for await (const chunk of s) {
      expect(new TextDecoder().decode(chunk.subarray())).toBe('over webrtc')
      break
    }
  })

  it('a peer without WebRTC: the upgrade fails with DirectUpgradeFailed well before its timeout and the circuit still works', async () => {
    const relay = await relayNode()
    extra.push(relay)
    const relayAddr = relay.getMultiaddrs()[0]!
    const a = await parleyNode(HOST, { listen: [`/ip4/${HOST}/tcp/0`], bootstrap: [relayAddr.toString()] })
    // A libp2p node with circuits but no WebRTC transport: nobody answers the signalling protocol.
    const b = await createLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      addresses: { listen: ['/p2p-circuit'] },
      transports: [tcpFrom(undefined), circuitRelayTransport()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
    await b.start()
    extra.push(b)
    await b.dial(relayAddr)
    await until(() => b.getMultiaddrs().some((m) => m.toString().includes('/p2p-circuit')), WAIT_MS, 'b reservation')
    await a.dial(multiaddr(`${relayAddr.toString()}/p2p-circuit/p2p/${b.peerId.toString()}`))
    const started = Date.now()
    const failure = await upgradeToDirect(a, b.peerId).catch((e: unknown) => e)
    expect(isNetworkError(failure, 'DirectUpgradeFailed')).toBe(true)
    expect((failure as Error).message.length).toBeLessThan(MAX_UPGRADE_REASON_CHARS + 40)
    expect(Date.now() - started).toBeLessThan(DIRECT_UPGRADE_TIMEOUT_MS)
    expect(a.getConnections(b.peerId).map(connectionKind)).toEqual(['relayed'])
  })

  it('without any connection to the peer there is nothing to upgrade through', async () => {
    const a = await parleyNode(HOST)
    const b = await parleyNode(HOST)
    const failure = await upgradeToDirect(a, b.peerId).catch((e: unknown) => e)
    expect(isNetworkError(failure, 'DirectUpgradeFailed')).toBe(true)
  })

  it('with a gate, a refused peer learns nothing (no SDP, no candidates) and an admitted one connects', async () => {
    const relay = await relayNode()
    extra.push(relay)
    const relayAddr = relay.getMultiaddrs()[0]!
    const listen = [`/ip4/${HOST}/tcp/0`, '/p2p-circuit', WEBRTC_LISTEN]
    const admitted = new Set<string>()
    const asked: string[] = []
    const b = await parleyNode(HOST, {
      listen,
      webrtcGate: (peer) => {
        asked.push(peer.toString())
        return admitted.has(peer.toString())
      }
    })
    const a = await parleyNode(HOST, { listen })
    await b.dial(relayAddr)
    await a.dial(relayAddr)
    await until(
      () => b.getMultiaddrs().some((m) => m.toString().includes('/p2p-circuit/webrtc')),
      WAIT_MS,
      'b reservation'
    )
    await a.dial(multiaddr(`${relayAddr.toString()}/p2p-circuit/p2p/${b.peerId.toString()}`))
    const refused = await upgradeToDirect(a, b.peerId).catch((e: unknown) => e)
    expect(isNetworkError(refused, 'DirectUpgradeFailed')).toBe(true)
    expect(asked).toEqual([a.peerId.toString()])
    expect(a.getConnections(b.peerId).map(connectionKind)).toEqual(['relayed'])
    admitted.add(a.peerId.toString())
    const direct = await upgradeRetrying(a, b.peerId)
    expect(connectionKind(direct)).toBe('direct-webrtc')
  })
})
