/**
 * The browser side of the WebRTC tests (test/*.netns.test.ts): a real browser messenger (@parley/messenger's
 * browser entry: WebSockets, circuits, WebRTC, kad-dht client) on an encrypted in-memory profile, driven by the test
 * through `window.parley`. Connection facts come from libp2p's own connection objects in this page.
 */

import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { defaultBackend } from '@parley/crypto'
import { createMessenger, type Diagnostics, type Messenger, type MessengerEvents, NAMESPACES } from '@parley/messenger'
import { connectionKind, createBrowserLibp2p, type IceServer } from '@parley/network'
import { createProfileStore, openStore } from '@parley/store'
import { DEFAULT_PROTOCOL_PREFIX, protocols } from '@parley/wire'
import type { Libp2p } from 'libp2p'
// record-ice.ts ran first (its own script tag in index.html): it wrapped RTCPeerConnection before libp2p loaded.
import { iceConfigs } from './record-ice.ts'

const SESSION = protocols(DEFAULT_PROTOCOL_PREFIX).session

/** One open connection to a peer as the page sees it. */
export interface ConnectionInfo {
  kind: 'direct-webrtc' | 'direct' | 'relayed'
  /** `connection.limits == null`: not a relay's limited circuit. */
  unlimited: boolean
  multiplexer: string | undefined
  direct: boolean
  /** Open session-protocol streams on it (either direction). */
  sessionStreams: number
}

export interface Harness {
  start(options: { bootstrap: string[]; iceServers?: IceServer[] }): Promise<{ identity: string; peerId: string }>
  /** A bare node of the browser preset (no messenger: nothing else dials), for timing WebRTC dials. */
  startNode(options: { bootstrap: string[]; iceServers?: IceServer[] }): Promise<{ peerId: string }>
  /** The bare node's (or the messenger's) own addresses. */
  nodeAddresses(): string[]
  addresses(): string[]
  invite(): string
  publish(): Promise<void>
  /** The addresses in the identity's DHT record, or null when no record is found. */
  lookup(identity: string): Promise<string[] | null>
  addContact(input: string, name: string): Promise<string>
  send(contact: string, text: string): Promise<string>
  received(): Array<{ contact: string; text: string }>
  connections(peerId: string): ConnectionInfo[]
  diagnostics(): Promise<Diagnostics>
  /** The `iceServers` each RTCPeerConnection of this page was created with (undefined: none given). */
  iceConfigs(): Array<RTCIceServer[] | undefined>
  /**
   * Closes the connections to `peerId` (all of them, or with `keepRelayed` only the unlimited ones), then dials it at
   * `webrtcAddress`; ms from the dial to the open connection.
   */
  timeDirectDial(peerId: string, webrtcAddress: string, keepRelayed?: boolean): Promise<{ ms: number; kind: string }>
  stop(): Promise<void>
}

let messenger: Messenger | undefined
let node: Libp2p | undefined
const inbox: Array<{ contact: string; text: string }> = []
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

function started(): Messenger {
  if (messenger === undefined) throw new Error('harness: start() first')
  return messenger
}

const harness: Harness = {
  async start({ bootstrap, iceServers }) {
    const store = await createProfileStore(await openStore({ kind: 'memory' }), 'harness passphrase', {
      namespaces: NAMESPACES,
      create: true,
      unsafeFastKdfForTests: true
    })
    messenger = await createMessenger({
      store,
      network: { bootstrap, ...(iceServers && { iceServers }) },
      mailbox: { relays: bootstrap },
      libp2p: async (...args) => {
        const created = await createBrowserLibp2p(...args)
        node = created
        return created
      }
    })
    messenger.events.addEventListener('message', (e) => {
      const { contact, text } = (e as CustomEvent<MessengerEvents['message']>).detail
      inbox.push({ contact, text })
    })
    return { identity: hex(messenger.identityKey), peerId: messenger.peerId.toString() }
  },
  async startNode({ bootstrap, iceServers }) {
    const created = await createBrowserLibp2p(await generateKeyPair('Ed25519'), defaultBackend, {
      bootstrap,
      ...(iceServers && { iceServers })
    })
    await created.start()
    node = created
    return { peerId: created.peerId.toString() }
  },
  nodeAddresses: () => node?.getMultiaddrs().map((a) => a.toString()) ?? [],
  addresses: () => started().addresses,
  invite: () => started().invite(),
  publish: () => started().publish({ signal: AbortSignal.timeout(10_000) }),
  async lookup(identity) {
    const key = Uint8Array.from(identity.match(/../g) ?? [], (h) => Number.parseInt(h, 16))
    try {
      const found = await started().lookup(key, { signal: AbortSignal.timeout(10_000) })
      return found.addresses.map((a) => a.toString())
    } catch {
      return null
    }
  },
  async addContact(input, name) {
    return (await started().addContact(input, { name })).identity
  },
  async send(contact, text) {
    return (await started().send(contact, text)).status
  },
  received: () => [...inbox],
  connections(peerId) {
    return openTo(peerId).map((c) => ({
      kind: connectionKind(c),
      unlimited: c.limits == null,
      multiplexer: c.multiplexer,
      direct: c.direct,
      sessionStreams: c.streams.filter((s) => s.protocol === SESSION && s.status === 'open').length
    }))
  },
  diagnostics: () => started().diagnostics(),
  iceConfigs: () => [...iceConfigs],
  async timeDirectDial(peerId, webrtcAddress, keepRelayed = false) {
    if (node === undefined) throw new Error('harness: start() first')
    await Promise.all(
      openTo(peerId)
        .filter((c) => !keepRelayed || c.limits == null)
        .map((c) => c.close())
    )
    const t0 = performance.now()
    const c = await node.dial(multiaddr(webrtcAddress), { signal: AbortSignal.timeout(15_000) })
    return { ms: performance.now() - t0, kind: connectionKind(c) }
  },
  async stop() {
    await messenger?.stop()
    await node?.stop()
  }
}

/** The open connections of this page's node to the peer `peerId`. */
function openTo(peerId: string): Connection[] {
  if (node === undefined) throw new Error('harness: start() first')
  return node.getConnections().filter((c) => c.status === 'open' && c.remotePeer.toString() === peerId)
}

;(window as unknown as { parley: Harness }).parley = harness
document.title = 'parley harness ready'
