/**
 * Vitest browser commands (registered in vitest.config.ts, they run in the Node process) that drive the Node side of
 * relay.browser.test.ts: a Parley relay listening on ws:// loopback, and a Node messenger "dave" on an in-memory
 * profile that keeps its mailbox at that relay and can be stopped and started again on the same profile. The browser
 * test calls them as `commands.parleyRelay(op, ...args)` (from 'vitest/browser'); everything they return is plain
 * JSON. Node-only: the browser test imports types from here, nothing else.
 */
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { fromHex, toHex } from '@parley/crypto'
import {
  createMessenger,
  type Messenger,
  type MessengerEvents,
  NAMESPACES,
  type Namespace,
  type SendResult
} from '@parley/messenger'
import { createProfileStore, openStore, type ProfileStore } from '@parley/store'
import { createRelay, type MailboxStats, type Relay } from '../src/index.ts'

/** The relay as the browser sees it. */
export interface RelayInfo {
  /** The relay's ws:// multiaddr with /p2p/ (bootstrap and mailbox relay of both messengers). */
  address: string
  peerId: string
}

/** The relay's mailbox counters and the peers holding a circuit reservation there. */
export interface RelayStats extends MailboxStats {
  reservations: string[]
}

/** Dave as the browser sees him. */
export interface DaveInfo {
  identity: string
  peerId: string
}

/** A message Dave received (event 'message'). */
export interface DaveMessage {
  contact: string
  id: string
  text: string
}

/** What Dave finds in the DHT for an identity, or why he does not. */
export type DaveLookup =
  | { found: true; peerId: string; addresses: string[]; relays: string[] }
  | { found: false; error: string }

declare module 'vitest/browser' {
  interface BrowserCommands {
    /** Runs one of `relayOps` in the Node process (see vitest.config.ts). */
    parleyRelay: <K extends keyof RelayOps>(op: K, ...args: Parameters<RelayOps[K]>) => ReturnType<RelayOps[K]>
  }
}

interface State {
  dir?: string
  relay?: Relay
  daveStore?: ProfileStore<Namespace>
  dave?: Messenger
  messages: DaveMessage[]
}

const state: State = { messages: [] }

// The process may end without relayCleanup (a crashed browser): the data directory goes anyway.
process.once('exit', () => {
  if (state.dir !== undefined) rmSync(state.dir, { recursive: true, force: true })
})

function relayInfo(relay: Relay): RelayInfo {
  const address = relay.multiaddrs.map(String).find((a) => a.includes('/ws/p2p/'))
  if (address === undefined) throw new Error(`relay: no WebSocket address among ${relay.multiaddrs.join(', ')}`)
  return { address, peerId: relay.peerId.toString() }
}

function requireDave(): Messenger {
  if (state.dave === undefined) throw new Error('dave is not running (daveStart first)')
  return state.dave
}

/**
 * The operations, by name. vitest.config.ts registers one browser command, `parleyRelay(op, ...args)`, that imports
 * this module on first use (so runs that never call it do not load libp2p) and calls `relayOps[op](...args)`.
 */
export const relayOps = {
  /** Starts the relay (once; later calls return the running one). */
  async relayStart(): Promise<RelayInfo> {
    if (state.relay !== undefined) return relayInfo(state.relay)
    state.dir = await mkdtemp(join(tmpdir(), 'parley-relay-browser-'))
    state.relay = await createRelay({
      dataDir: state.dir,
      listen: ['/ip4/127.0.0.1/tcp/0/ws'],
      http: false,
      logSink: () => {}
    })
    return relayInfo(state.relay)
  },

  async relayStats(): Promise<RelayStats> {
    const relay = state.relay
    if (relay === undefined) throw new Error('the relay is not running (relayStart first)')
    const reservations = [...relay.node.services.circuitRelay.reservations.keys()].map(String)
    return { ...relay.mailbox.stats(), reservations }
  },

  /** Starts Dave, on a new in-memory profile the first time and on the same one afterwards. */
  async daveStart(): Promise<DaveInfo> {
    if (state.relay === undefined) throw new Error('the relay is not running (relayStart first)')
    if (state.dave !== undefined) throw new Error('dave is already running')
    const { address } = relayInfo(state.relay)
    state.daveStore ??= await createProfileStore(await openStore({ kind: 'memory' }), 'dave', {
      namespaces: NAMESPACES,
      create: true,
      unsafeFastKdfForTests: true
    })
    const dave = await createMessenger({
      store: state.daveStore,
      // No WebRTC: this test is about the circuit path (direct WebRTC with browsers: test/webrtc.netns.test.ts).
      network: { bootstrap: [address], webrtc: false },
      mailbox: { relays: [address], pollIntervalMs: 500 }
    })
    dave.events.addEventListener('message', (e) => {
      const { contact, id, text } = (e as CustomEvent<MessengerEvents['message']>).detail
      state.messages.push({ contact, id, text })
    })
    state.dave = dave
    return { identity: toHex(dave.identityKey), peerId: dave.peerId.toString() }
  },

  /** Stops Dave's node; his profile (identity, sessions, history) is kept for the next daveStart. */
  async daveStop(): Promise<void> {
    const dave = state.dave
    state.dave = undefined
    await dave?.stop()
  },

  async daveAddContact(identity: string): Promise<void> {
    await requireDave().addContact(identity)
  },

  /** Dave's DHT lookup of an identity's record. */
  async daveLookup(identity: string, timeoutMs: number): Promise<DaveLookup> {
    try {
      const found = await requireDave().lookup(fromHex(identity), { signal: AbortSignal.timeout(timeoutMs) })
      return {
        found: true,
        peerId: found.peerId.toString(),
        addresses: found.addresses.map(String),
        relays: found.relays
      }
    } catch (e) {
      return { found: false, error: (e as Error).message }
    }
  },

  async daveSend(identity: string, text: string): Promise<SendResult['status']> {
    return (await requireDave().send(identity, text)).status
  },

  /** Dave's conversation with a contact: direction, id, text and delivery state of each message. */
  async daveHistory(identity: string): Promise<Array<{ direction: string; id: string; text: string; state: string }>> {
    return (await requireDave().history(identity)).map(({ direction, id, text, state }) => ({
      direction,
      id,
      text,
      state
    }))
  },

  /** Every message Dave received since his first start, across restarts, in order. */
  async daveMessages(): Promise<DaveMessage[]> {
    return state.messages
  },

  /** How many connections Dave has open to a peer now. */
  async daveConnections(peerId: string): Promise<number> {
    return requireDave().connectionsTo(peerIdFromString(peerId)).length
  },

  async daveMailboxes(): Promise<string[]> {
    return [...requireDave().mailboxes]
  },

  /** Stops Dave and the relay and removes the relay's data directory. */
  async relayCleanup(): Promise<void> {
    const { dave, daveStore, relay, dir } = state
    state.dave = undefined
    state.daveStore = undefined
    state.relay = undefined
    state.dir = undefined
    state.messages = []
    await dave?.stop().catch(() => {})
    await daveStore?.close().catch(() => {})
    await relay?.stop().catch(() => {})
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  }
}

export type RelayOps = typeof relayOps
